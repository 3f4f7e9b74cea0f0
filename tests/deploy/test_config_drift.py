"""Configuration cannot drift silently: every variable that compose, .env.example and the
Kubernetes manifests set is a field of the settings class of the service that reads it, every
setting a deployment must set is set, and the values parse."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from pydantic_settings import BaseSettings

from deploy.image.init_stack import InitSettings, topic_configs
from deploy.settings_doc import (
    KAFKA_SECURITY,
    MUST_SET,
    NEVER_SET,
    SERVICES,
    env_name,
    fields,
    table,
)
from sandbox.settings import SandboxSettings
from shared.contracts import FAX_NOTIFIED, FAX_STORED, TOPICS, WEBHOOK_RECEIVED
from shared.settings import ServiceSettings
from shared.tracing import OTEL_VARIABLES
from tests.deploy.conftest import ROOT, SECRETS_EXAMPLE

ALL_FIELDS = {env_name(name) for name in fields()}
SANDBOX_FIELDS = {"SANDBOX_" + name.upper() for name in SandboxSettings.model_fields}
# OpenTelemetry's own variables (traces), read by its SDK in every service.
OTEL_FIELDS = set(OTEL_VARIABLES)
# Only the local stack launcher sets these: a deployment never does.
LAUNCHER_ONLY = {env_name(name) for name in NEVER_SET}
# The settings that live in the Secret, outside Git (docs/platform.md says how to make it).
K8S_SECRET_KEYS = {"FAXRELAY_APPS", "FAXRELAY_S3_ACCESS_KEY", "FAXRELAY_S3_SECRET_KEY"}
CONSUMERS = {"verifier": WEBHOOK_RECEIVED, "downloader": FAX_NOTIFIED, "router": FAX_STORED}


def settings_class(command: list[str]) -> type[BaseSettings] | None:
    """The settings class of the app container running `command` (None: not ours)."""
    text = " ".join(command)
    if "init_stack.py" in text:
        return InitSettings
    if "-m sandbox" in text:
        return SandboxSettings
    found = re.search(r"-m services\.(\w+)", text)
    return SERVICES[found[1]] if found else None


def env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {prefix + name.upper() for name in cls.model_fields}


def must_set(cls: type[BaseSettings]) -> set[str]:
    return {
        env_name(n) for n, f in cls.model_fields.items() if n in MUST_SET or f.is_required()
    } & env_names(cls)


def load(cls: type[BaseSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build the settings the way the service does: from exactly this environment. The shipped
    files hold demo values (example secrets, plain HTTP to the sandbox and MinIO) that only the
    local stack accepts: these checks are of the wiring, tests/unit/test_settings.py of safety."""
    for key in list(__import__("os").environ):
        if key.startswith(("FAXRELAY_", "SANDBOX_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if issubclass(cls, ServiceSettings):
        monkeypatch.setenv("FAXRELAY_LOCAL_STACK", "true")
    return cls()


# --- docker-compose.yml and .env.example ---------------------------------------------------------


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
    "downloader": {"kafka", "s3", "efax_api"},
    "router": {"kafka", "s3"},
    "poller": {"kafka", "s3", "efax_api"},
    # eFax's stand-in holds the demo App's keys as eFax does; none of ours.
    "sandbox": {"efax_api", "efax_hmac"},
    "minio": {"s3"},
    "kafka": set(),
    "kafka-users": {"kafka"},  # deploy/compose/kafka-sasl-ssl.yml: writes the SCRAM user
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
    env = users["environment"]
    assert (
        env["FAXRELAY_KAFKA_SASL_USERNAME"]
        == clients["router"]["environment"]["FAXRELAY_KAFKA_SASL_USERNAME"]
    )
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


# --- Kubernetes ---------------------------------------------------------------------------------


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def deployment_env(
    resources: list[dict[str, Any]], container: dict[str, Any], stand_ins: bool = True
) -> dict[str, str]:
    """A container's environment: its ConfigMaps, the Secrets' documented keys, its own env;
    files from mounted Secrets replaced by a stand-in file (they exist only in the pod)."""
    maps = by_kind(resources, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            assert source["secretRef"]["name"] == "faxrelay-secrets"
            # Shapes of the real values, made outside Git.
            env.update(
                FAXRELAY_APPS=json.dumps(
                    [{"app_id": "00000000-0000-4000-8000-000000000001", "hmac_secrets": ["s"]}]
                ),
                FAXRELAY_S3_ACCESS_KEY="key",
                FAXRELAY_S3_SECRET_KEY="secret",
            )
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == KAFKA_SECRET, entry
            env[entry["name"]] = KAFKA_SECRET_SHAPE[ref["key"]]
    for name in KAFKA_FILES:
        if name in env and stand_ins:
            env[name] = str(STAND_IN_FILE)
    return env


def secret_file(
    pod: dict[str, Any], container: dict[str, Any], path: str
) -> tuple[str, str] | None:
    """(Secret, key) of the file at `path` in this container, if a Secret volume provides it."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        folder = mount["mountPath"].rstrip("/") + "/"
        secret = volumes[mount["name"]].get("secret")
        if secret and path.startswith(folder) and mount.get("readOnly"):
            return secret["secretName"], path[len(folder) :]
    return None


# The Kafka Secret of the manifests: its keys (shapes of the real values, made outside Git).
KAFKA_SECRET = "faxrelay-kafka"
KAFKA_SECRET_SHAPE = {"username": "faxrelay", "password": "kafka-secret"}
KAFKA_FILES = (
    "FAXRELAY_KAFKA_SSL_CAFILE",
    "FAXRELAY_KAFKA_SSL_CERTFILE",
    "FAXRELAY_KAFKA_SSL_KEYFILE",
)
STAND_IN_FILE = Path(tempfile.mkdtemp(prefix="faxrelay-drift-")) / "stand-in.pem"
STAND_IN_FILE.write_text("stand-in\n")
# FAXRELAY_KAFKA_SASL_MECHANISM -> KEDA's `sasl`.
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}


def pods(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{r['kind']}/{r['metadata']['name']}": r["spec"]["template"]["spec"]
        for r in resources
        if r["kind"] in ("Deployment", "Job")
    }


@pytest.mark.tools
def test_kafka_security_comes_from_one_secret_in_every_workload(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        for name, pod in pods(resources).items():
            for container in pod["containers"]:
                refs = {
                    e["name"]: e["valueFrom"]["secretKeyRef"]
                    for e in container.get("env", [])
                    if "valueFrom" in e
                }
                assert refs["FAXRELAY_KAFKA_SASL_USERNAME"]["key"] == "username", name
                assert refs["FAXRELAY_KAFKA_SASL_PASSWORD"]["key"] == "password", name
                assert all(r["name"] == KAFKA_SECRET for r in refs.values()), name
                config = deployment_env(resources, container, stand_ins=False)
                for setting in KAFKA_FILES:
                    if setting in config:
                        found = secret_file(pod, container, config[setting])
                        assert found, f"{build} {name}: {setting} is not a mounted Secret"
                        assert found[0] == KAFKA_SECRET, f"{build} {name}"


@pytest.mark.tools
def test_keda_authenticates_to_kafka_like_the_services(
    kustomize_builds: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for build, resources in kustomize_builds.items():
        deployments = by_kind(resources, "Deployment")
        auths = by_kind(resources, "TriggerAuthentication")
        for name, scaled in by_kind(resources, "ScaledObject").items():
            deployment = deployments[scaled["spec"]["scaleTargetRef"]["name"]]
            pod = deployment["spec"]["template"]["spec"]
            container = pod["containers"][0]
            settings = load(SERVICES[name], deployment_env(resources, container), monkeypatch)
            (trigger,) = scaled["spec"]["triggers"]
            meta = trigger["metadata"]
            protocol = settings.kafka_security_protocol
            where = f"{build} {name}"
            tls = "enable" if "SSL" in protocol else "disable"
            assert meta.get("tls", "disable") == tls, where
            if not protocol.startswith("SASL_"):
                assert meta.get("sasl", "none") == "none", where
                continue
            assert meta["sasl"] == KEDA_SASL[settings.kafka_sasl_mechanism], where
            auth = auths[trigger["authenticationRef"]["name"]]
            params = {
                r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]
            }
            env = {e["name"]: e for e in container["env"]}
            for param, setting in (("username", "USERNAME"), ("password", "PASSWORD")):
                ref = env[f"FAXRELAY_KAFKA_SASL_{setting}"]["valueFrom"]["secretKeyRef"]
                assert params[param] == (ref["name"], ref["key"]), where
            if settings.kafka_ssl_cafile is not None:
                real = deployment_env(resources, container, stand_ins=False)
                ca = secret_file(pod, container, real["FAXRELAY_KAFKA_SSL_CAFILE"])
                assert params["ca"] == ca, where


def workloads(resources: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            for container in r["spec"]["template"]["spec"]["containers"]:
                found.append((f"{r['kind']}/{r['metadata']['name']}", container))
    return found


@pytest.mark.tools
def test_manifests_set_only_known_settings_and_all_needed_ones(
    kustomize_builds: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for build, resources in kustomize_builds.items():
        for config in by_kind(resources, "ConfigMap").values():
            unknown = set(config["data"]) - ALL_FIELDS
            assert not unknown, f"{build}: ConfigMap sets {sorted(unknown)}"
        for name, container in workloads(resources):
            cls = settings_class(container["command"])
            assert cls is not None, f"{build} {name}: runs {container['command']}"
            own = {e["name"] for e in container.get("env", [])}
            assert own <= env_names(cls), f"{build} {name}: {sorted(own - env_names(cls))}"
            env = deployment_env(resources, container)
            assert not LAUNCHER_ONLY & set(env), f"{build} {name}: set by the launcher only"
            missing = must_set(cls) - set(env)
            assert not missing, f"{build} {name} lacks {sorted(missing)}"
            settings = load(cls, env, monkeypatch)
            assert settings.kafka_idempotent_producer, f"{build} {name}"


@pytest.mark.tools
def test_every_deployment_has_probes_resources_and_a_pdb(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        budgets = by_kind(resources, "PodDisruptionBudget")
        deployments = by_kind(resources, "Deployment")
        assert set(deployments) == set(SERVICES), build
        for name, deployment in deployments.items():
            spec = deployment["spec"]["template"]["spec"]
            for container in spec["containers"]:
                assert container["livenessProbe"], name
                assert container["readinessProbe"], name
                assert container["resources"]["requests"], name
                assert container["resources"]["limits"]["memory"], name
                assert container["securityContext"]["readOnlyRootFilesystem"], name
            labels = deployment["spec"]["selector"]["matchLabels"]
            assert budgets[name]["spec"]["selector"]["matchLabels"] == labels, name


@pytest.mark.tools
def test_gateway_has_a_service_and_a_tls_ingress(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        service = by_kind(resources, "Service")["gateway"]
        ingress = by_kind(resources, "Ingress")["gateway"]
        assert ingress["spec"]["tls"][0]["secretName"], build
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"], build
        paths = {p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
        gateway = load_default_gateway_paths()
        assert paths <= gateway, build


def load_default_gateway_paths() -> set[str]:
    return set(SERVICES["gateway"]().gateway_webhook_paths)  # type: ignore[attr-defined]


@pytest.mark.tools
def test_keda_scales_each_consumer_group_on_its_topic(
    kustomize_builds: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for build, resources in kustomize_builds.items():
        scaled = by_kind(resources, "ScaledObject")
        deployments = by_kind(resources, "Deployment")
        assert set(scaled) == set(CONSUMERS), build
        for name, topic in CONSUMERS.items():
            target = scaled[name]["spec"]["scaleTargetRef"]["name"]
            container = deployments[target]["spec"]["template"]["spec"]["containers"][0]
            assert f"services.{name}" in " ".join(container["command"]), build
            # KEDA owns the replica count: a fixed one would be reset on every apply.
            assert "replicas" not in deployments[target]["spec"], f"{build} {name}"
            settings = load(SERVICES[name], deployment_env(resources, container), monkeypatch)
            (trigger,) = scaled[name]["spec"]["triggers"]
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["topic"] == topic, f"{build} {name}"
            assert meta["consumerGroup"] == getattr(settings, f"{name}_group_id"), build
            assert meta["bootstrapServers"] == settings.kafka_bootstrap_servers, build
            assert meta["offsetResetPolicy"] == "earliest"  # as the services' consumers
            spec = scaled[name]["spec"]
            assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
            assert spec["maxReplicaCount"] <= settings.kafka_partitions, f"{build} {name}"


# --- image, topics, docs --------------------------------------------------------------------------


# deploy/requirements.txt is written by `make lock` (uv pip compile, with hashes). Offline these
# tests cannot resolve again (that is `make lock`'s job; on a current lock it changes nothing):
# they catch a hand edit, i.e. a pin without its hashes or its `# via`, a dependency missing,
# out of its range or left over, and a lock made for another Python than the image's.
LOCK = ROOT / "deploy/requirements.txt"
OURS = "faxrelay (pyproject.toml)"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries() -> dict[str, tuple[str, list[str], set[str]]]:
    """name -> (version, sha256 hashes, what it is needed by) of each pin in the lock."""
    entries: dict[str, tuple[str, list[str], set[str]]] = {}
    blocks = re.split(r"^(?=[A-Za-z0-9])", LOCK.read_text(), flags=re.M)
    for block in blocks:
        pin = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if pin is None:
            continue
        via_one = re.findall(r"^    # via (\S.*)$", block, re.M)
        via_many = re.findall(r"^    #   (\S.*)$", block, re.M)
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        entries[normalized(pin[1])] = (pin[2], hashes, set(via_one + via_many))
    return entries


def direct_dependencies() -> list[Requirement]:
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def test_the_lock_is_written_by_make_lock_for_the_images_python() -> None:
    assert LOCK.read_text().splitlines()[1] == "#    make lock", "regenerate it: make lock"
    target = re.search(r"^lock:.*?(?=^\S|\Z)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert target is not None
    recipe = target[0]
    assert "uv pip compile pyproject.toml" in recipe
    assert "--generate-hashes" in recipe  # the Dockerfile installs with --require-hashes
    image = re.search(r"ARG PYTHON_IMAGE=python:(\d+\.\d+)-", (ROOT / "Dockerfile").read_text())
    assert image is not None
    assert f"--python-version {image[1]} --python-platform linux" in recipe


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    entries = lock_entries()
    for requirement in direct_dependencies():
        name = normalized(requirement.name)
        assert name in entries, f"{name} is not in deploy/requirements.txt: make lock"
        version, _, via = entries[name]
        assert requirement.specifier.contains(version), f"{name}=={version} vs {requirement}"
        assert OURS in via, f"{name}: not marked as ours; make lock"
    for name, (version, hashes, _) in entries.items():
        assert hashes, f"{name}=={version} has no hash: make lock"


def test_the_lock_holds_what_the_project_needs_and_nothing_else() -> None:
    entries = lock_entries()
    ours = {name for name, (_, _, via) in entries.items() if OURS in via}
    assert ours == {normalized(r.name) for r in direct_dependencies()}, "make lock"
    for name, (_, _, via) in entries.items():
        assert via, f"{name}: needed by nothing (a hand-added pin?): make lock"
        needed_by = {normalized(v) for v in via if v != OURS}
        assert needed_by <= set(entries), f"{name} needed by {needed_by - set(entries)}"


def test_every_pipeline_topic_is_defined_once_with_its_configs() -> None:
    assert len({t.name for t in TOPICS}) == len(TOPICS)
    for topic in TOPICS:
        config = topic_configs(topic, 3)
        assert config["cleanup.policy"] in ("delete", "compact,delete")
        assert int(config["retention.ms"]) > 0
        assert config["min.insync.replicas"] == "2"
        assert topic.description


def test_docs_settings_table_is_current() -> None:
    docs = (ROOT / "docs/platform.md").read_text()
    assert table() in docs, "regenerate the table: python -m deploy.settings_doc"
    assert table(KAFKA_SECURITY) in docs, (
        "regenerate the Kafka table: python -m deploy.settings_doc kafka-security"
    )


def test_every_setting_has_a_meaning() -> None:
    empty = [name for name, entry in fields().items() if not entry["meaning"]]
    assert not empty, f"describe these in the settings classes: {empty}"


def test_dockerfile_copies_only_existing_files() -> None:
    sources = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    for line in sources:
        for source in line.split():
            assert (ROOT / source).exists(), source
    assert Path(ROOT / ".dockerignore").exists()


def dockerfile_stages() -> list[tuple[str, str]]:
    """(stage name, its text) in order."""
    text = (ROOT / "Dockerfile").read_text()
    parts = re.split(r"^(?=FROM )", text, flags=re.M)[1:]
    return [(re.match(r"FROM \S+(?: AS (\S+))?", part)[1] or "", part) for part in parts]  # type: ignore[index]


def test_production_image_has_no_sandbox() -> None:
    stages = dict(dockerfile_stages())
    name, last = dockerfile_stages()[-1]
    # The default build (no --target) is the last stage; neither it nor what it is built FROM
    # copies the sandbox.
    chain = [last]
    while (base := re.match(r"FROM (\S+)", chain[-1])) and base[1] in stages:
        chain.append(stages[base[1]])
    for part in chain:
        assert not re.search(r"^COPY .*\bsandbox/", part, re.M), name
    assert re.search(r"^COPY sandbox/ sandbox/$", stages["sandbox"], re.M)
    # Production code never imports the sandbox.
    for folder in ("shared", "services", "faxrelay"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text()
            assert not re.search(r"^\s*(from|import) sandbox\b", source, re.M), path
