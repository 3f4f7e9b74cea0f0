"""The Kubernetes manifests (deploy/k8s, built with Kustomize) cannot drift: every variable they
set is a setting of the service that reads it, every needed one is set, KEDA scales each consumer
on its own group and topic, each workload gets only the Secrets (and its own Kafka user) it uses,
and NetworkPolicies deny all traffic but what each workload needs."""

from __future__ import annotations

from typing import Any

import pytest

from deploy import validate_k8s
from deploy.kafka_acls import BY_SERVICE
from deploy.settings_doc import SERVICES
from shared.contracts import FAX_NOTIFIED, FAX_STORED, WEBHOOK_RECEIVED
from tests.deploy.manifests import (
    KAFKA_FILES,
    KAFKA_SECRET,
    KAFKA_USER_SECRET,
    SECRET_KINDS,
    SECRETS,
    by_kind,
    component,
    deployment_env,
    pods,
    secret_file,
    workloads,
)
from tests.deploy.settings_env import (
    ALL_FIELDS,
    LAUNCHER_ONLY,
    env_names,
    load,
    must_set,
    settings_class,
)
from tests.deploy.test_compose import SECRETS_ALLOWED

CONSUMERS = {
    "verifier": WEBHOOK_RECEIVED,
    "downloader": FAX_NOTIFIED,
    "router": FAX_STORED,
    "reader": FAX_STORED,
}
# FAXRELAY_KAFKA_SASL_MECHANISM -> KEDA's `sasl`.
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}


@pytest.mark.tools
def test_kafka_security_comes_from_each_workloads_own_secret(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        owners = {f"{r['kind']}/{r['metadata']['name']}": r for r in resources}
        for name, pod in pods(resources).items():
            for container in pod["containers"]:
                refs = {
                    e["name"]: e["valueFrom"]["secretKeyRef"]
                    for e in container.get("env", [])
                    if "valueFrom" in e
                }
                assert refs["FAXRELAY_KAFKA_SASL_USERNAME"]["key"] == "username", name
                assert refs["FAXRELAY_KAFKA_SASL_PASSWORD"]["key"] == "password", name
                # Its own Kafka user (deploy/kafka_acls.py), never another workload's.
                own = KAFKA_USER_SECRET.format(component(owners[name]))
                assert all(r["name"] == own for r in refs.values()), name
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
            # Its own Kafka user, which may only Describe (deploy/kafka_acls.py), not a service's.
            for param in ("username", "password"):
                assert params[param] == (KAFKA_USER_SECRET.format("keda"), param), where
            assert KAFKA_USER_SECRET.format("keda") != KAFKA_USER_SECRET.format(name), where
            if settings.kafka_ssl_cafile is not None:
                real = deployment_env(resources, container, stand_ins=False)
                ca = secret_file(pod, container, real["FAXRELAY_KAFKA_SSL_CAFILE"])
                assert params["ca"] == ca, where


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


@pytest.mark.tools
def test_the_gateways_health_and_metrics_are_on_its_internal_port_only(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    # Its public port serves only webhooks: the Service exposes that port alone, and the
    # probes and the scrape use the internal one (FAXRELAY_METRICS_PORT), which is not public.
    for build, resources in kustomize_builds.items():
        service = by_kind(resources, "Service")["gateway"]
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"], build
        pod = by_kind(resources, "Deployment")["gateway"]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert ports == {"http": int(env["FAXRELAY_GATEWAY_PORT"]), "metrics": 9100}, build
        assert env["FAXRELAY_METRICS_PORT"] == "9100", build
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "metrics", f"{build} {probe}"


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


# --- Secrets: each workload gets only what its settings class reads, as in compose --------------


def secrets_of(pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """Every Secret a container can read: envFrom, env, and mounted volumes."""
    names = {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
    names |= {
        e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e
    }
    mounted = {m["name"] for m in container.get("volumeMounts", [])}
    names |= {
        v["secret"]["secretName"]
        for v in pod.get("volumes", [])
        if "secret" in v and v["name"] in mounted
    }
    return names


@pytest.mark.tools
def test_each_workload_gets_only_the_secrets_its_settings_read(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        for r in resources:
            if r["kind"] not in ("Deployment", "Job"):
                continue
            pod = r["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            where = f"{build} {r['kind']}/{r['metadata']['name']}"
            cls = settings_class(container["command"])
            assert cls is not None, where
            names = secrets_of(pod, container)
            assert "faxrelay-secrets" not in names, f"{where}: the old all-in-one Secret"
            kinds = {"kafka"} | {SECRET_KINDS[n] for n in names if n in SECRET_KINDS}
            unknown = {n for n in names if n not in SECRETS and not n.startswith(KAFKA_SECRET)}
            assert not unknown, f"{where}: undocumented Secrets {sorted(unknown)}"
            # Every variable of every Secret it gets is a setting it reads.
            for name in names & set(SECRETS):
                unread = set(SECRETS[name]) - env_names(cls)
                assert not unread, f"{where}: gets {name} but reads no {sorted(unread)}"
            # The same kinds as the same service in compose (docker-compose.yml, its env_files).
            assert kinds == SECRETS_ALLOWED[component(r)], where
    # Said plainly: the internet-facing gateway holds no eFax or S3 key, the router no eFax key.
    for resources in kustomize_builds.values():
        deployments = by_kind(resources, "Deployment")
        gateway = deployments["gateway"]["spec"]["template"]["spec"]
        router = deployments["router"]["spec"]["template"]["spec"]
        assert secrets_of(gateway, gateway["containers"][0]) <= {
            KAFKA_SECRET,
            KAFKA_USER_SECRET.format("gateway"),
        }
        env = deployment_env(resources, router["containers"][0])
        assert "FAXRELAY_APPS" not in env
        assert "faxrelay-s3-router" in secrets_of(router, router["containers"][0])


@pytest.mark.tools
def test_each_workloads_kafka_user_is_its_principal(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        for r in resources:
            if r["kind"] in ("Deployment", "Job"):
                container = r["spec"]["template"]["spec"]["containers"][0]
                env = deployment_env(resources, container)
                principal = BY_SERVICE[component(r)]
                assert env["FAXRELAY_KAFKA_SASL_USERNAME"] == principal.user, build


@pytest.mark.tools
def test_strimzi_kafka_users_are_valid_and_one_per_principal() -> None:
    resources = validate_k8s.build(validate_k8s.KAFKA_USERS)
    assert [p for r in resources for p in validate_k8s.problems(r)] == []
    users = by_kind(resources, "KafkaUser")
    assert set(users) == {p.user for p in BY_SERVICE.values()}
    assert all(u["metadata"]["namespace"] == "kafka" for u in users.values())


# --- NetworkPolicies ------------------------------------------------------------------------------


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def peer(rule_peer: dict[str, Any]) -> str:
    """A name for where traffic may go or come from."""
    if "ipBlock" in rule_peer:
        assert rule_peer["ipBlock"]["cidr"] == "0.0.0.0/0"
        assert "10.0.0.0/8" in rule_peer["ipBlock"]["except"]  # not into the cluster
        return "internet"
    namespace = rule_peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    return str(namespace)


def allowed(
    resources: list[dict[str, Any]], labels: dict[str, str], direction: str
) -> set[tuple[str, int]]:
    """(peer, port) pairs the NetworkPolicies let through, for pods with `labels`."""
    found: set[tuple[str, int]] = set()
    key = "ingress" if direction == "Ingress" else "egress"
    side = "from" if direction == "Ingress" else "to"
    for policy in by_kind(resources, "NetworkPolicy").values():
        spec = policy["spec"]
        if direction in spec["policyTypes"] and selects(spec["podSelector"], labels):
            for rule in spec.get(key, []):
                where = f"{policy['metadata']['name']}: open to all"
                assert rule.get(side), where
                assert rule.get("ports"), where
                found |= {(peer(p), port["port"]) for p in rule[side] for port in rule["ports"]}
    return found


@pytest.mark.tools
def test_network_policies_deny_all_but_what_each_workload_needs(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    for build, resources in kustomize_builds.items():
        policies = by_kind(resources, "NetworkPolicy")
        deny = policies["faxrelay-default-deny"]["spec"]
        assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
        assert "ingress" not in deny
        assert "egress" not in deny
        for r in resources:
            if r["kind"] not in ("Deployment", "Job"):
                continue
            labels = r["spec"]["template"]["metadata"]["labels"]
            where = f"{build} {r['metadata']['name']}"
            assert selects(deny["podSelector"], labels), f"{where}: not under default deny"
            kinds = SECRETS_ALLOWED[component(r)]
            # Egress: DNS and Kafka; the object store with an S3 key; HTTPS out (S3, eFax)
            # with an S3 or eFax API key. Nothing for the gateway and the verifier but Kafka.
            wanted = {("kube-system", 53), ("kafka", 9092), ("kafka", 9093)}
            if "s3" in kinds:
                wanted |= {("minio", 9000), ("internet", 443)}
            if "efax_api" in kinds:
                wanted |= {("internet", 443)}
            assert allowed(resources, labels, "Egress") == wanted, where
            # Ingress: the metrics port from the monitoring namespace; the gateway's webhook
            # port from the ingress controller; nothing else.
            annotations = r["spec"]["template"]["metadata"].get("annotations", {})
            ingress = allowed(resources, labels, "Ingress")
            if r["kind"] == "Job":
                assert ingress == set(), where
                continue
            metrics = int(annotations["prometheus.io/port"])
            expected = {("monitoring", metrics)}
            if component(r) == "gateway":
                ports = r["spec"]["template"]["spec"]["containers"][0]["ports"]
                (webhook,) = [p["containerPort"] for p in ports if p["name"] == "http"]
                expected.add(("ingress-nginx", webhook))
            assert ingress == expected, where
