"""docker-compose.yml, its overrides in deploy/compose/, .env.example and the example secrets
cannot drift: every variable they set is a setting of the service that reads it, every setting a
service must have is set and parses, and each container gets only the secrets it uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from deploy.kafka_acls import BY_SERVICE, GATEWAY_PRODUCER_BYTE_RATE, Principal, quota_variable
from deploy.settings_doc import SERVICES
from sandbox.settings import SandboxSettings
from tests.deploy.conftest import ROOT, SECRETS_EXAMPLE, compose
from tests.deploy.settings_env import (
    ALL_FIELDS,
    LAUNCHER_ONLY,
    OTEL_FIELDS,
    SANDBOX_FIELDS,
    env_names,
    load,
    must_set,
    settings_class,
)

PROXY = "deploy/compose/behind-proxy.yml"


def app_services(model: dict[str, Any]) -> dict[str, tuple[type[BaseSettings], dict[str, Any]]]:
    found = {}
    for name, service in model["services"].items():
        cls = settings_class(service.get("command") or [])
        if cls is not None:
            found[name] = (cls, service)
    return found


@pytest.mark.tools
def test_compose_runs_every_service_from_the_one_image(compose_model: dict[str, Any]) -> None:
    apps = app_services(compose_model)
    modules = {" ".join(s["command"]) for _, s in apps.values()}
    for service in SERVICES:
        assert f"python -m services.{service}" in modules
    ours = {name: s for name, (cls, s) in apps.items() if cls is not SandboxSettings}
    assert len({s["image"] for s in ours.values()}) == 1
    assert all("target" not in s["build"] for s in ours.values())  # the Dockerfile's last stage
    # The sandbox is not in the production image: it has its own build target and image.
    sandbox = compose_model["services"]["sandbox"]
    assert sandbox["build"]["target"] == "sandbox"
    assert sandbox["image"] not in {s["image"] for s in ours.values()}


@pytest.mark.tools
def test_compose_images_exist_and_match_the_tested_versions(compose_model: dict[str, Any]) -> None:
    images = {name: s["image"] for name, s in compose_model["services"].items()}
    # minio/minio and minio/mc were deleted from Docker Hub on 2026-09-12.
    gone = {n: i for n, i in images.items() if re.match(r"(docker\.io/)?minio/", i)}
    assert not gone, gone
    assert images["minio"] == "quay.io/minio/minio:RELEASE.2025-10-15T17-29-55Z"
    # The Kafka of compose is the version the `kafka` test lane runs (deploy/kafka/pom.xml).
    pom = (ROOT / "deploy/kafka/pom.xml").read_text()
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert version, "deploy/kafka/pom.xml names no <kafka.version>"
    assert images["kafka"] == f"apache/kafka:{version[1]}"


@pytest.mark.tools
def test_compose_env_is_known_to_the_services(compose_model: dict[str, Any]) -> None:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, (cls, service) in app_services(compose_model).items():
        env = service.get("environment") or {}
        # Everything comes from the one .env: FAXRELAY_* for the services, SANDBOX_* for the
        # sandbox; each must be a setting somewhere, or it is a typo.
        unknown = set(env) - ALL_FIELDS - SANDBOX_FIELDS - OTEL_FIELDS
        assert not unknown, f"{name}: no settings class reads {sorted(unknown)}"
        assert not LAUNCHER_ONLY & set(env), f"{name}: only the local stack launcher sets these"
        # What docker-compose.yml sets for one container must be that container's own setting.
        explicit = set(raw[name].get("environment") or {})
        assert explicit <= env_names(cls), f"{name}: {sorted(explicit - env_names(cls))}"


@pytest.mark.tools
def test_compose_sets_what_every_service_needs(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, (cls, service) in app_services(compose_model).items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        missing = must_set(cls) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        load(cls, env, monkeypatch)  # parses: JSON, booleans, URLs, paths


@pytest.mark.tools
def test_compose_uses_idempotent_producers(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, (cls, service) in app_services(compose_model).items():
        if cls is not SandboxSettings:
            settings = load(cls, service["environment"], monkeypatch)
            assert settings.kafka_idempotent_producer, name


@pytest.mark.tools
def test_scaled_services_have_no_fixed_names_or_host_ports(compose_model: dict[str, Any]) -> None:
    for name, (_, service) in app_services(compose_model).items():
        assert "container_name" not in service, name
        if name != "gateway":  # the one published port; scale it behind a proxy instead
            assert not service.get("ports"), name
    for name in ("gateway", "verifier", "downloader", "router", "poller"):
        service = compose_model["services"][name]
        assert service["restart"] == "unless-stopped"
        assert service["healthcheck"]["test"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name


@pytest.mark.tools
def test_sandbox_profile_is_wired_to_the_services(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose_model["services"]
    sandbox = load(SandboxSettings, services["sandbox"]["environment"], monkeypatch)
    apps = {
        name: {
            str(app.app_id): app
            for app in load(SERVICES[name], services[name]["environment"], monkeypatch).apps
        }
        for name in ("verifier", "downloader", "poller")
    }
    downloader = load(SERVICES["downloader"], services["downloader"]["environment"], monkeypatch)
    assert sandbox.apps, "SANDBOX_APPS is empty"
    for app in sandbox.apps:
        # Each service knows the App by what it needs: keys (downloader, poller), the webhook
        # secret (verifier), the users (poller).
        for name in ("downloader", "poller"):
            key = apps[name][app.app_id].api_key
            assert key is not None, name
            assert key.get_secret_value() == app.api_key.get_secret_value(), name
        secrets = [s.get_secret_value() for s in apps["verifier"][app.app_id].hmac_secrets]
        assert app.hmac_secret.get_secret_value() in secrets
        assert [str(u) for u in apps["poller"][app.app_id].user_ids] == app.user_ids
        # Webhooks go to a gateway container of this project, on the port it listens on.
        target = re.fullmatch(r"http://([\w-]+):(\d+)/webhooks/efax", app.webhook_url or "")
        assert target, app.webhook_url
        gateway = services[target[1]]
        assert "services.gateway" in " ".join(gateway["command"])
        assert gateway["environment"]["FAXRELAY_GATEWAY_PORT"] == target[2]
        assert "FAXRELAY_GATEWAY_TLS_CERTFILE" not in gateway["environment"]
    # The services fetch from where the sandbox says its resources are.
    assert str(downloader.efax_api_base_url).rstrip("/") == sandbox.public_base_url
    port = re.search(r"--port (\d+)", " ".join(services["sandbox"]["command"]))
    assert port
    assert sandbox.public_base_url == f"http://sandbox:{port[1]}"


# Which secrets each container may hold (compose service -> kinds); nothing else may reach it.
SECRETS_ALLOWED: dict[str, set[str]] = {
    "init": {"kafka", "s3"},
    "gateway": {"kafka"},
    "sandbox-gateway": {"kafka"},
    "verifier": {"kafka", "efax_hmac"},
    "downloader": {"kafka", "s3", "s3_tokens", "efax_api"},
    "router": {"kafka", "s3"},
    "reader": {"kafka", "s3"},
    "poller": {"kafka", "s3", "s3_tokens", "efax_api"},
    # eFax's stand-in holds the demo App's keys as eFax does; none of ours.
    "sandbox": {"efax_api", "efax_hmac"},
    "minio": {"s3"},
    "kafka": set(),
    "kafka-users": {"kafka"},  # deploy/compose/kafka-sasl-ssl.yml: writes the SCRAM user
    "operator": {"kafka", "s3"},  # kafka-sasl-ssl.yml, profile "operator": the operator's CLI
    "prometheus": set(),  # profile "observability": scrapes, holds no secret
    "grafana": set(),  # profile "observability": reads Prometheus, anonymous viewers
    "jaeger": set(),  # profile "observability": receives the services' traces
}
SECRET_VARIABLES = {
    "s3": {"FAXRELAY_S3_ACCESS_KEY", "FAXRELAY_S3_SECRET_KEY", "MINIO_ROOT_PASSWORD"},
    "kafka": {"FAXRELAY_KAFKA_SASL_PASSWORD"},
}


def secret_values(model: dict[str, Any]) -> dict[str, set[str]]:
    """Every secret value anywhere in the compose project, by kind."""
    found: dict[str, set[str]] = {
        "s3": set(),
        "kafka": set(),
        "efax_api": set(),
        "efax_hmac": set(),
    }
    for service in model["services"].values():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        for kind, names in SECRET_VARIABLES.items():
            found[kind] |= {env[n] for n in names if n in env and ("SECRET" in n or "PASS" in n)}
        for app in json.loads(env.get("FAXRELAY_APPS", "[]")) + json.loads(
            env.get("SANDBOX_APPS", "[]")
        ):
            found["efax_api"] |= {app["api_key"]} if app.get("api_key") else set()
            found["efax_hmac"] |= set(app.get("hmac_secrets", []))
            found["efax_hmac"] |= {app["hmac_secret"]} if app.get("hmac_secret") else set()
    return found


def assert_only_allowed_secrets(model: dict[str, Any]) -> None:
    values = secret_values(model)
    assert all(values.values()), f"a kind of secret is missing from the example: {values}"
    for name, service in model["services"].items():
        allowed = SECRETS_ALLOWED[name]
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        for kind, names in SECRET_VARIABLES.items():
            if kind not in allowed:
                assert not names & set(env), f"{name} gets {sorted(names & set(env))}"
        for kind, secrets in values.items():
            if kind in allowed:
                continue
            leaked = [k for k, v in env.items() for s in secrets if s in v]
            assert not leaked, f"{name} holds a {kind} secret in {sorted(set(leaked))}"
    # The split FAXRELAY_APPS: the verifier has no API key, downloader and poller no HMAC secret.
    for name, field in (
        ("verifier", "api_key"),
        ("downloader", "hmac_secrets"),
        ("poller", "hmac_secrets"),
    ):
        apps = json.loads(model["services"][name]["environment"]["FAXRELAY_APPS"])
        assert all(not app.get(field) for app in apps), f"{name}: FAXRELAY_APPS has {field}"


@pytest.mark.tools
def test_each_container_gets_only_the_secrets_it_uses(compose_model: dict[str, Any]) -> None:
    services = compose_model["services"]
    assert set(services) <= set(SECRETS_ALLOWED), sorted(set(services) - set(SECRETS_ALLOWED))
    gateway = services["gateway"]["environment"]
    assert "FAXRELAY_S3_SECRET_KEY" not in gateway
    assert "FAXRELAY_APPS" not in gateway
    assert "FAXRELAY_APPS" not in services["router"]["environment"]
    assert "FAXRELAY_S3_SECRET_KEY" not in services["verifier"]["environment"]
    assert_only_allowed_secrets(compose_model)


@pytest.mark.tools
def test_bundled_minio_has_the_services_keys(compose_model: dict[str, Any]) -> None:
    minio = compose_model["services"]["minio"]["environment"]
    for name in ("init", "downloader", "router", "poller"):
        env = compose_model["services"][name]["environment"]
        assert env["FAXRELAY_S3_ACCESS_KEY"] == minio["MINIO_ROOT_USER"], name
        assert env["FAXRELAY_S3_SECRET_KEY"] == minio["MINIO_ROOT_PASSWORD"], name
        assert len(minio["MINIO_ROOT_PASSWORD"]) >= 8


def test_env_example_holds_no_secret() -> None:
    """Every app container reads .env: the secrets live in secrets/, per kind."""
    set_here, _ = env_example()
    secret = {"FAXRELAY_APPS", "SANDBOX_APPS"} | set().union(*SECRET_VARIABLES.values())
    assert not secret & set(set_here), sorted(secret & set(set_here))


def test_secret_examples_set_only_known_variables() -> None:
    examples = sorted((ROOT / SECRETS_EXAMPLE).glob("*.env"))
    assert examples
    for path in examples:
        names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", path.read_text(), re.M))
        unknown = names - ALL_FIELDS - SANDBOX_FIELDS - {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
        assert names, path.name
        assert not unknown, f"{path.name}: {sorted(unknown)}"
        assert not LAUNCHER_ONLY & names, path.name


@pytest.mark.tools
def test_kafka_sasl_ssl_override_points_every_client_at_the_secured_listener(
    secured_compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    services = secured_compose_model["services"]
    broker = services["kafka"]["environment"]
    protocols = dict(
        p.split(":") for p in broker["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    advertised = dict(a.split("://") for a in broker["KAFKA_ADVERTISED_LISTENERS"].split(","))
    bound = dict(a.split("://") for a in broker["KAFKA_LISTENERS"].split(","))
    # Every listener other containers can reach is SASL_SSL; PLAINTEXT ones are on loopback.
    for listener, address in bound.items():
        if protocols[listener] == "PLAINTEXT":
            assert address.startswith("127.0.0.1:"), listener
    assert not services["kafka"].get("ports"), "no PLAINTEXT port on the host"
    assert "SCRAM-SHA-512" in broker["KAFKA_SASL_ENABLED_MECHANISMS"].split(",")
    assert broker["KAFKA_SSL_KEYSTORE_TYPE"] == "PEM"
    assert "SSL://" not in broker["KAFKA_ADVERTISED_LISTENERS"]  # see the override's comment
    ca = tmp_path / "ca.crt"
    ca.write_text("test CA\n")
    clients = {n: s for n, (c, s) in app_services(secured_compose_model).items()}
    clients.pop("sandbox")  # no Kafka client
    for name, service in clients.items():
        env = {k: str(v) for k, v in service["environment"].items()}
        host = env["FAXRELAY_KAFKA_BOOTSTRAP_SERVERS"]
        (listener,) = [lst for lst, addr in advertised.items() if addr == host]
        assert protocols[listener] == env["FAXRELAY_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["FAXRELAY_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        mounts = {v["target"]: v for v in service.get("volumes", [])}
        mount = mounts[env["FAXRELAY_KAFKA_SSL_CAFILE"]]
        assert mount["read_only"], name
        assert Path(mount["source"]).name == "ca.crt", name
        # The settings accept it (the CA file is only a stand-in here).
        cls = settings_class(service["command"])
        assert cls is not None
        settings = load(cls, {**env, "FAXRELAY_KAFKA_SSL_CAFILE": str(ca)}, monkeypatch)
        assert settings.kafka_sasl_password.get_secret_value(), name
        # The SCRAM user is made before anyone connects, from the same secret file.
        assert "kafka-users" in service["depends_on"], name
    users = services["kafka-users"]
    assert users["image"] == services["kafka"]["image"]
    assert users["network_mode"] == "service:kafka"
    # It writes the SCRAM user of each client's own secret file, and holds no other secret.
    mounted = {Path(v["source"]).name for v in users["volumes"] if v["source"].endswith(".env")}
    expected = {f"kafka-{principal_of(name).service}.env" for name in clients}
    assert mounted == expected | {"kafka-operator.env"}  # and the operator's CLI's user
    assert "FAXRELAY_KAFKA_SASL_PASSWORD" not in (users.get("environment") or {})
    # `config` prints the command still escaped ($$): the container's shell sees one $.
    command = " ".join(users["command"])
    assert "SCRAM-SHA-512=[password=$$FAXRELAY_KAFKA_SASL_PASSWORD]" in command
    assert_only_allowed_secrets(secured_compose_model)


def env_example() -> tuple[dict[str, str], set[str]]:
    """.env.example: the variables it sets and every NAME it shows as `#NAME=` or `NAME=`."""
    text = (ROOT / ".env.example").read_text()
    set_here = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.M))
    shown = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, re.M))
    return set_here, shown | set(re.findall(r"\b(FAXRELAY_[A-Z0-9_]+)\b", text))


def compose_knobs() -> set[str]:
    files = [ROOT / "docker-compose.yml", *sorted((ROOT / "deploy/compose").glob("*.yml"))]
    return {v for f in files for v in re.findall(r"\$\{([A-Z][A-Z0-9_]*)", f.read_text())}


def test_env_example_lists_every_variable_and_only_real_ones() -> None:
    set_here, shown = env_example()
    knobs = compose_knobs()
    wanted = ALL_FIELDS - LAUNCHER_ONLY
    assert shown >= wanted, f"not in .env.example: {sorted(wanted - shown)}"
    assert not LAUNCHER_ONLY & set(set_here), "only the local stack launcher sets these"
    faxrelay = {v for v in shown if v.startswith("FAXRELAY_")}
    assert faxrelay <= ALL_FIELDS | knobs, sorted(faxrelay - ALL_FIELDS - knobs)
    others = shown - faxrelay
    assert others <= SANDBOX_FIELDS | OTEL_FIELDS | knobs, (
        f"read by nothing: {sorted(others - SANDBOX_FIELDS - OTEL_FIELDS - knobs)}"
    )
    assert knobs <= shown, f"compose variables not in .env.example: {sorted(knobs - shown)}"


def principal_of(compose_service: str) -> Principal:
    """The Kafka principal of a compose service (the sandbox's gateway is a gateway)."""
    return BY_SERVICE[compose_service.removeprefix("sandbox-")]


@pytest.mark.tools
def test_secured_kafka_gives_each_client_its_own_user_with_its_acls(
    secured_compose_model: dict[str, Any],
) -> None:
    services = secured_compose_model["services"]
    clients = {n: s for n, (c, s) in app_services(secured_compose_model).items() if n != "sandbox"}
    passwords = {}
    for name, service in clients.items():
        env = service["environment"]
        assert env["FAXRELAY_KAFKA_SASL_USERNAME"] == principal_of(name).user, name
        passwords[principal_of(name).user] = env["FAXRELAY_KAFKA_SASL_PASSWORD"]
    assert len(set(passwords.values())) == len(passwords), "two users share a password"
    # The broker authorizes every request; only its own loopback listeners are super users.
    broker = services["kafka"]["environment"]
    assert broker["KAFKA_AUTHORIZER_CLASS_NAME"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert broker["KAFKA_SUPER_USERS"] == "User:ANONYMOUS"
    assert broker["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    # kafka-users runs the generated ACL script, which sets the gateway's quota too.
    users = services["kafka-users"]
    scripts = [v for v in users["volumes"] if v["target"] == "/run/acls.sh"]
    assert [Path(v["source"]) for v in scripts] == [ROOT / "deploy/kafka/acls.sh"]
    assert "bash /run/acls.sh --bootstrap-server 127.0.0.1:9092" in " ".join(users["command"])


@pytest.mark.tools
def test_the_gateways_health_and_metrics_port_is_internal_and_scraped(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The public port serves only webhooks; /healthz (the health check), /readyz and /metrics
    # are on FAXRELAY_METRICS_PORT, which no gateway publishes and Prometheus scrapes.
    scrapes = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = [j for j in scrapes["scrape_configs"] if j["job_name"] == "gateway"]
    (target,) = job["dns_sd_configs"]
    models = {"docker-compose.yml": compose_model}
    proxy = compose("config", "--format", "json", files=("docker-compose.yml", PROXY))
    models[PROXY] = json.loads(proxy)
    for where, model in models.items():
        for name in ("gateway", "sandbox-gateway"):
            service = model["services"].get(name)
            if service is None:
                continue
            settings = load(SERVICES["gateway"], service["environment"], monkeypatch)
            assert settings.metrics_port not in (0, settings.gateway_port), f"{where} {name}"
            published = {int(p["target"]) for p in service.get("ports", [])}
            assert settings.metrics_port not in published, f"{where} {name}"
            assert published <= {settings.gateway_port}, f"{where} {name}"
            if name == "gateway" and where == "docker-compose.yml":
                assert target == {"names": ["gateway"], "type": "A", "port": settings.metrics_port}
                assert job["scheme"] == ("https" if settings.gateway_tls_certfile else "http")


def test_only_the_downloader_and_the_poller_get_the_token_buckets_keys() -> None:
    # The shared eFax tokens act as the App: their bucket's keys (secrets/s3-tokens.env) go to
    # the two services that share tokens, and they are a pair apart from s3.env's.
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    with_tokens = {
        name
        for name, service in raw["services"].items()
        if any(str(f).endswith("/s3-tokens.env") for f in service.get("env_file", []))
    }
    assert with_tokens == {"downloader", "poller"}
    example = (ROOT / SECRETS_EXAMPLE / "s3-tokens.env").read_text()
    names = set(re.findall(r"^#?(FAXRELAY_\w+)=", example, re.M))
    assert names == {"FAXRELAY_S3_INTERNAL_ACCESS_KEY", "FAXRELAY_S3_INTERNAL_SECRET_KEY"}
    s3 = (ROOT / SECRETS_EXAMPLE / "s3.env").read_text()
    assert "FAXRELAY_S3_INTERNAL" not in s3
    # The example repeats s3.env's pair (the demo's one key), which the downloader and the
    # poller refuse outside the local stack (tests/unit/test_token_sharing.py).
    pair = dict(re.findall(r"^(FAXRELAY_\w+)=(\S+)$", example, re.M))
    main = dict(re.findall(r"^(FAXRELAY_\w+)=(\S+)$", s3, re.M))
    assert pair["FAXRELAY_S3_INTERNAL_ACCESS_KEY"] == main["FAXRELAY_S3_ACCESS_KEY"]
    assert pair["FAXRELAY_S3_INTERNAL_SECRET_KEY"] == main["FAXRELAY_S3_SECRET_KEY"]


def test_the_token_keys_policy_allows_only_the_internal_bucket() -> None:
    config = (ROOT / "deploy/k8s/overlays/production/config.env").read_text()
    bucket = re.search(r"^FAXRELAY_S3_INTERNAL_BUCKET=(\S+)$", config, re.M)
    faxes = re.search(r"^FAXRELAY_S3_BUCKET=(\S+)$", config, re.M)
    assert bucket
    assert faxes
    policy = json.loads((ROOT / "deploy/s3/tokens-policy.json").read_text())
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {f"arn:aws:s3:::{bucket[1]}", f"arn:aws:s3:::{bucket[1]}/_tokens/*"}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}
    assert not any(faxes[1] in r for r in resources)


@pytest.mark.tools
def test_the_secured_variant_runs_the_operator_as_its_own_user_and_sets_the_gateways_quota(
    secured_compose_model: dict[str, Any],
) -> None:
    services = secured_compose_model["services"]
    operator = services["operator"]
    assert operator["profiles"] == ["operator"]  # only with `run --rm operator ...`
    assert operator["entrypoint"] == ["python", "-m", "faxrelay.cli"]
    env = {k: str(v) for k, v in operator["environment"].items()}
    assert env["FAXRELAY_KAFKA_SASL_USERNAME"] == BY_SERVICE["operator"].user
    assert env["FAXRELAY_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert "kafka-users" in operator["depends_on"]
    others = {
        str(s["environment"].get("FAXRELAY_KAFKA_SASL_PASSWORD"))
        for n, s in services.items()
        if n != "operator" and s.get("environment")
    }
    assert env["FAXRELAY_KAFKA_SASL_PASSWORD"] not in others
    # Every principal but KEDA's (Kubernetes only) has its example secret file, and no more.
    files = {p.name for p in (ROOT / SECRETS_EXAMPLE).glob("kafka-*.env")}
    assert files == {f"kafka-{p}.env" for p in BY_SERVICE if p != "keda"}
    # The gateway's producer quota: set by kafka-users through acls.sh, from .env's knob whose
    # default is the table's value.
    gateway = BY_SERVICE["gateway"]
    assert gateway.producer_byte_rate == GATEWAY_PRODUCER_BYTE_RATE
    variable = quota_variable(gateway)
    users_env = services["kafka-users"]["environment"]
    assert users_env[variable] == str(GATEWAY_PRODUCER_BYTE_RATE)
    script = (ROOT / "deploy/kafka/acls.sh").read_text()
    quota = f'--entity-name {gateway.user} --add-config "producer_byte_rate=${{{variable}:-'
    assert f'{quota}{GATEWAY_PRODUCER_BYTE_RATE}}}"' in script
    _, shown = env_example()
    assert variable in shown
