"""One-shot init of a faxrelay installation: the buckets and the pipeline topics.

    python /app/init_stack.py

Reads the same FAXRELAY_* settings as the services (broker, partitions, replication, object
store). Idempotent: what exists is left as it is, so it runs before every `docker compose up` and
as a Kubernetes Job on every deploy. It never changes an existing topic: raising partitions or
changing retention later is a broker operation (see docs/platform.md, "Topics").

Per-user topics (faxes.user.<uuid>) are not made here: the router creates them on demand.
"""

from __future__ import annotations

import logging
import sys
import time

from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    OUTBOUND_NOTIFIED,
    PING_RECEIVED,
    PIPELINE_TOPICS,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
)
from shared.kafka import KafkaAdmin
from shared.settings import ServiceSettings, StorageSettings
from shared.storage import FaxStore, make_minio, token_sharing

log = logging.getLogger("faxrelay.init")

DAY_MS = 24 * 3600 * 1000

# Why these numbers: work topics keep a week, so a service that was down over a long weekend,
# or a fixed bug, can be replayed from Kafka; audit and failure topics keep a month for people to
# look at. fax.stored is keyed by fax_id and also compacted: the latest record of every stored
# fax survives for re-routing (e.g. after a rule change) while duplicates collapse.
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    WEBHOOK_RECEIVED: {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
    WEBHOOK_REJECTED: {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
    PING_RECEIVED: {"cleanup.policy": "delete", "retention.ms": str(1 * DAY_MS)},
    OUTBOUND_NOTIFIED: {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
    FAX_NOTIFIED: {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
    FAX_STORED: {"cleanup.policy": "compact,delete", "retention.ms": str(30 * DAY_MS)},
    DOWNLOAD_FAILED: {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
}
assert set(TOPIC_CONFIGS) == set(PIPELINE_TOPICS), "every pipeline topic needs a definition"


class InitSettings(ServiceSettings, StorageSettings):
    pass


def topic_configs(name: str, replication_factor: int) -> dict[str, str]:
    # acks=all only protects a record if more than one replica must have it (when there are more).
    return {**TOPIC_CONFIGS[name], "min.insync.replicas": str(min(2, replication_factor))}


def ensure_topics(settings: InitSettings) -> None:
    admin = KafkaAdmin(settings)
    try:
        for name in PIPELINE_TOPICS:
            created = admin.ensure_topics(
                [name],
                settings.kafka_partitions,
                settings.kafka_replication_factor,
                topic_configs(name, settings.kafka_replication_factor),
            )
            log.info("topic %s %s", name, "created" if created else "exists")
    finally:
        admin.close()


def ensure_bucket(settings: InitSettings) -> None:
    FaxStore(make_minio(settings), settings.s3_bucket).ensure_bucket()
    log.info("bucket %s ready", settings.s3_bucket)
    tokens = token_sharing(settings, share=True)  # the services make it too, on first save
    assert tokens is not None
    tokens.ensure_bucket()
    log.info("internal bucket %s ready", settings.s3_internal_bucket)


def main(attempts: int = 30) -> int:
    settings = InitSettings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    for attempt in range(1, attempts + 1):
        try:
            ensure_bucket(settings)
            ensure_topics(settings)
            return 0
        except Exception as exc:  # the broker or the store is still starting: try again
            log.warning("attempt %d/%d: %s", attempt, attempts, exc)
            time.sleep(2)
    return 1


if __name__ == "__main__":
    sys.exit(main())
