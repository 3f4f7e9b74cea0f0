"""Every faxrelay setting, read from the services' settings classes.

    python -m deploy.settings_doc                  # the settings table of docs/platform.md
    python -m deploy.settings_doc kafka-security   # its table in "Connecting to your Kafka"

tests/deploy keeps that table, .env.example, docker-compose.yml and the Kubernetes manifests in
step with these classes, so a renamed or new setting cannot drift silently.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from services.downloader.settings import DownloaderSettings
from services.gateway.settings import GatewaySettings
from services.poller.settings import PollerSettings
from services.reader.settings import ReaderSettings
from services.router.settings import RouterSettings
from services.verifier.settings import VerifierSettings

PREFIX = "FAXRELAY_"

SERVICES: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "verifier": VerifierSettings,
    "downloader": DownloaderSettings,
    "router": RouterSettings,
    "poller": PollerSettings,
    "reader": ReaderSettings,
}

# Meanings of the fields whose class gives no description (a description there wins).
MEANINGS = {
    "kafka_bootstrap_servers": "Kafka bootstrap servers, host:port[,host:port...].",
    "kafka_session_timeout_ms": "Consumer group session timeout; a dead consumer's partitions "
    "move after this long.",
    "kafka_replication_factor": "Replicas of the topics the init and the router create.",
    "log_level": "Python log level (DEBUG, INFO, WARNING, ERROR).",
    "gateway_host": "Address the gateway listens on (0.0.0.0 in a container).",
    "gateway_port": "Port the gateway listens on.",
    "gateway_webhook_paths": "JSON list of paths that accept eFax webhooks.",
    "gateway_max_body_bytes": "Larger webhook bodies are answered 413.",
    "gateway_publish_timeout_s": "How long a delivery may wait for the broker's ack before the "
    "gateway answers 503 (eFax retries).",
    "gateway_tls_certfile": "PEM certificate (chain) for HTTPS; unset: plain HTTP.",
    "gateway_tls_keyfile": "PEM private key for HTTPS.",
    "efax_api_base_url": "eFax Enterprise API base URL; download URLs are built from it only.",
    "apps": "JSON list of eFax apps: {app_id, api_key, hmac_secrets: [...], user_ids: [...]}.",
    "efax_timeout_s": "Timeout of one eFax API call.",
    "verifier_group_id": "Consumer group of the verifier.",
    "verifier_duplicate_window_s": "How long a fax id is remembered to drop duplicate webhooks.",
    "verifier_duplicate_window_size": "How many fax ids are remembered at most.",
    "verifier_batch_size": "Records handled per batch (one offset commit per batch).",
    "s3_endpoint": "Object store endpoint.",
    "s3_secure": "HTTPS to the object store.",
    "s3_access_key": "Object store access key.",
    "s3_secret_key": "Object store secret key.",
    "s3_region": "Object store region.",
    "s3_bucket": "Bucket of the fax images (created by the init).",
    "downloader_group_id": "Consumer group of the downloader.",
    "downloader_image_format": "PDF or TIFF, the format requested from eFax.",
    "downloader_max_image_bytes": "Larger images are refused (fax.download.failed).",
    "downloader_batch_size": "Records handled per batch (one offset commit per batch).",
    "downloader_backoff_max_s": "Longest wait between download tries.",
    "router_group_id": "Consumer group of the router.",
    "router_user_topic_template": "Per-user topic name; {user_id} is replaced.",
    "router_user_topic_partitions": "Partitions of the per-user topics the router creates.",
    "router_event_source": "CloudEvents `source` of the events to users.",
    "router_batch_size": "Records handled per batch (one offset commit per batch).",
    "router_read_group_id": "Consumer group of the router on fax.read (apart from fax.stored's).",
    "router_unread_group_id": "Consumer group of the router on fax.read.failed (its own).",
    "reader_group_id": "Consumer group of the reader.",
    "poller_cursor_prefix": "Object key prefix of the poller's cursors in the bucket.",
}

# Defaults that only fit a developer's machine: every deployment sets these.
MUST_SET = {
    "kafka_bootstrap_servers",
    "kafka_idempotent_producer",
    "apps",
    "efax_api_base_url",
    "s3_endpoint",
    "s3_access_key",
    "s3_secret_key",
    "gateway_host",
}

# Set only by the local stack launcher (faxrelay up): no deployment, .env.example, compose file or
# manifest sets these; with them the services accept the demo keys and an empty FAXRELAY_APPS.
NEVER_SET = {"local_stack"}

# How the services connect to Kafka: the table of docs/platform.md, "Connecting to your Kafka".
KAFKA_SECURITY = (
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_ssl_cafile",
    "kafka_ssl_certfile",
    "kafka_ssl_keyfile",
    "kafka_ssl_check_hostname",
)


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def fields() -> dict[str, dict[str, Any]]:
    """Field name -> default, meaning and the services that read it, in class order."""
    found: dict[str, dict[str, Any]] = {}
    for service, cls in SERVICES.items():
        for name, info in cls.model_fields.items():
            entry = found.setdefault(
                name,
                {
                    "default": info.get_default(call_default_factory=True),
                    "meaning": info.description or MEANINGS.get(name, ""),
                    "required": info.is_required(),
                    "services": [],
                },
            )
            entry["services"].append(service)
    return found


def show(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "(secret; dev default)"
    if value is None:
        return "unset"
    if isinstance(value, list | dict):
        items = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        return json.dumps(items)
    return str(value)


def table(only: tuple[str, ...] | None = None) -> str:
    """The Markdown table of every setting (or of the fields named in `only`)."""
    lines = [
        "| variable | default | services | meaning |",
        "|---|---|---|---|",
    ]
    everyone = len(SERVICES)
    for name, entry in fields().items():
        if only is not None and name not in only:
            continue
        services = "all" if len(entry["services"]) == everyone else ", ".join(entry["services"])
        must = " **Set in every deployment.**" if name in MUST_SET else ""
        must += " **Never set in a deployment.**" if name in NEVER_SET else ""
        default = show(entry["default"]).replace("|", "\\|")
        meaning = entry["meaning"] + must
        lines.append(f"| `{env_name(name)}` | `{default}` | {services} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(table(KAFKA_SECURITY if sys.argv[1:] == ["kafka-security"] else None), end="")
