"""Reading the built Kustomize output the way a pod sees it: a container's environment from its
ConfigMaps and Secrets (the Secrets as shapes of the real values, made outside Git), and which
Secret a mounted file comes from."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

# The Secrets the manifests name, made outside Git (docs/platform.md): the variables each holds,
# with values of the real shape. Each is given only to the workloads that use it, as in compose.
SECRETS: dict[str, dict[str, str]] = {
    "faxrelay-s3": {"FAXRELAY_S3_ACCESS_KEY": "key", "FAXRELAY_S3_SECRET_KEY": "secret"},
    # The router's key may only read the fax bucket (deploy/s3/router-policy.json).
    "faxrelay-s3-router": {
        "FAXRELAY_S3_ACCESS_KEY": "read-only-key",
        "FAXRELAY_S3_SECRET_KEY": "read-only-secret",
    },
    # The internal bucket's keys (the shared eFax tokens; deploy/s3/tokens-policy.json).
    "faxrelay-s3-tokens": {
        "FAXRELAY_S3_INTERNAL_ACCESS_KEY": "tokens-key",
        "FAXRELAY_S3_INTERNAL_SECRET_KEY": "tokens-secret",
    },
    "faxrelay-efax-webhooks": {
        "FAXRELAY_APPS": json.dumps(
            [{"app_id": "00000000-0000-4000-8000-000000000001", "hmac_secrets": ["s"]}]
        )
    },
    "faxrelay-efax-api": {
        "FAXRELAY_APPS": json.dumps(
            [
                {
                    "app_id": "00000000-0000-4000-8000-000000000001",
                    "api_key": "k",
                    "user_ids": ["00000000-0000-4000-8000-000000000002"],
                }
            ]
        )
    },
}
# What kind of secret each is, in the words of the compose checks (SECRETS_ALLOWED).
SECRET_KINDS = {
    "faxrelay-s3": "s3",
    "faxrelay-s3-router": "s3",
    "faxrelay-s3-tokens": "s3_tokens",
    "faxrelay-efax-webhooks": "efax_hmac",
    "faxrelay-efax-api": "efax_api",
}
# The Kafka Secrets: the CA (and mutual TLS files) in one, and each workload's own SCRAM user in
# faxrelay-kafka-<component> (username, password).
KAFKA_SECRET = "faxrelay-kafka"
KAFKA_USER_SECRET = "faxrelay-kafka-{}"
KAFKA_FILES = (
    "FAXRELAY_KAFKA_SSL_CAFILE",
    "FAXRELAY_KAFKA_SSL_CERTFILE",
    "FAXRELAY_KAFKA_SSL_KEYFILE",
)
STAND_IN_FILE = Path(tempfile.mkdtemp(prefix="faxrelay-drift-")) / "stand-in.pem"
STAND_IN_FILE.write_text("stand-in\n")


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def kafka_secret_shape(secret: str, key: str) -> str:
    """username or password of a faxrelay-kafka-<component> Secret."""
    assert secret.startswith(KAFKA_SECRET + "-"), secret
    user = "faxrelay-" + secret.removeprefix(KAFKA_SECRET + "-")
    return {"username": user, "password": "kafka-secret"}[key]


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
            name = source["secretRef"]["name"]
            assert name in SECRETS, f"{name} is not a documented Secret"
            env.update(SECRETS[name])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = kafka_secret_shape(ref["name"], ref["key"])
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


def pods(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{r['kind']}/{r['metadata']['name']}": r["spec"]["template"]["spec"]
        for r in resources
        if r["kind"] in ("Deployment", "Job")
    }


def workloads(resources: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            for container in r["spec"]["template"]["spec"]["containers"]:
                found.append((f"{r['kind']}/{r['metadata']['name']}", container))
    return found


def component(resource: dict[str, Any]) -> str:
    """The app.kubernetes.io/component of a Deployment's or Job's pods."""
    return str(resource["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"])
