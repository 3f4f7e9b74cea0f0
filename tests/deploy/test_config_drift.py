"""Configuration cannot drift silently: every variable that compose, .env.example and the
Kubernetes manifests set is a field of the settings class of the service that reads it, every
setting a deployment must set is set, and the values parse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from pydantic_settings import BaseSettings

from deploy.image.init_stack import TOPIC_CONFIGS, InitSettings
from deploy.settings_doc import MUST_SET, NEVER_SET, SERVICES, env_name, fields, table
from sandbox.settings import SandboxSettings
from shared.contracts import FAX_NOTIFIED, FAX_STORED, PIPELINE_TOPICS, WEBHOOK_RECEIVED
from tests.deploy.conftest import ROOT

ALL_FIELDS = {env_name(name) for name in fields()}
SANDBOX_FIELDS = {"SANDBOX_" + name.upper() for name in SandboxSettings.model_fields}
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
    """Build the settings the way the service does: from exactly this environment."""
    for key in list(__import__("os").environ):
        if key.startswith(("FAXRELAY_", "SANDBOX_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cls()


# --- docker-compose.yml and .env.example ---------------------------------------------------------


def app_services(model: dict[str, Any]) -> dict[str, tuple[type[BaseSettings], dict[str, Any]]]:
    found = {}
    for name, service in model["services"].items():
        cls = settings_class(service.get("command") or [])
        if cls is not None:
            found[name] = (cls, service)
    return found


def test_compose_runs_every_service_from_the_one_image(compose_model: dict[str, Any]) -> None:
    apps = app_services(compose_model)
    modules = {" ".join(s["command"]) for _, s in apps.values()}
    for service in SERVICES:
        assert f"python -m services.{service}" in modules
    assert len({s["image"] for _, s in apps.values()}) == 1


def test_compose_env_is_known_to_the_services(compose_model: dict[str, Any]) -> None:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, (cls, service) in app_services(compose_model).items():
        env = service.get("environment") or {}
        # Everything comes from the one .env: FAXRELAY_* for the services, SANDBOX_* for the
        # sandbox; each must be a setting somewhere, or it is a typo.
        unknown = set(env) - ALL_FIELDS - SANDBOX_FIELDS
        assert not unknown, f"{name}: no settings class reads {sorted(unknown)}"
        assert not LAUNCHER_ONLY & set(env), f"{name}: only the local stack launcher sets these"
        # What docker-compose.yml sets for one container must be that container's own setting.
        explicit = set(raw[name].get("environment") or {})
        assert explicit <= env_names(cls), f"{name}: {sorted(explicit - env_names(cls))}"


def test_compose_sets_what_every_service_needs(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, (cls, service) in app_services(compose_model).items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        missing = must_set(cls) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        load(cls, env, monkeypatch)  # parses: JSON, booleans, URLs, paths


def test_compose_uses_idempotent_producers(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, (cls, service) in app_services(compose_model).items():
        if cls is not SandboxSettings:
            settings = load(cls, service["environment"], monkeypatch)
            assert settings.kafka_idempotent_producer, name


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


def test_sandbox_profile_is_wired_to_the_services(
    compose_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose_model["services"]
    sandbox = load(SandboxSettings, services["sandbox"]["environment"], monkeypatch)
    downloader = load(SERVICES["downloader"], services["downloader"]["environment"], monkeypatch)
    assert sandbox.apps, "SANDBOX_APPS is empty"
    ours = {str(app.app_id): app for app in downloader.apps}
    for app in sandbox.apps:
        mine = ours[app.app_id]
        assert mine.api_key is not None
        assert mine.api_key.get_secret_value() == app.api_key.get_secret_value()
        secrets = [s.get_secret_value() for s in mine.hmac_secrets]
        assert app.hmac_secret.get_secret_value() in secrets
        assert [str(u) for u in mine.user_ids] == app.user_ids
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
    assert others <= SANDBOX_FIELDS | knobs, (
        f"read by nothing: {sorted(others - SANDBOX_FIELDS - knobs)}"
    )
    assert knobs <= shown, f"compose variables not in .env.example: {sorted(knobs - shown)}"


# --- Kubernetes ---------------------------------------------------------------------------------


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def deployment_env(resources: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """A container's environment: its ConfigMaps, the Secret's documented keys, its own env."""
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
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    return env


def workloads(resources: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            for container in r["spec"]["template"]["spec"]["containers"]:
                found.append((f"{r['kind']}/{r['metadata']['name']}", container))
    return found


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


def test_lock_pins_every_runtime_dependency() -> None:
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(
        re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "deploy/requirements.txt").read_text(), re.M
        )
    )
    pins = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in deploy/requirements.txt: regenerate it"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {spec}"


def test_every_pipeline_topic_has_a_definition() -> None:
    assert set(TOPIC_CONFIGS) == set(PIPELINE_TOPICS)
    for config in TOPIC_CONFIGS.values():
        assert config["cleanup.policy"] in ("delete", "compact,delete")
        assert int(config["retention.ms"]) > 0


def test_docs_settings_table_is_current() -> None:
    docs = (ROOT / "docs/platform.md").read_text()
    assert table() in docs, "regenerate the table: python -m deploy.settings_doc"


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
