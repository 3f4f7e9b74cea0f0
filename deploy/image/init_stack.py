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

from shared.contracts import TOPICS, TOPICS_BY_NAME, Topic
from shared.kafka import KafkaAdmin
from shared.settings import ServiceSettings, StorageSettings
from shared.storage import FaxStore, make_minio
from shared.token_store import token_sharing

log = logging.getLogger("faxrelay.init")


class InitSettings(ServiceSettings, StorageSettings):
    pass


def topic_configs(topic: Topic | str, replication_factor: int) -> dict[str, str]:
    """The registry's configs (shared.contracts.TOPICS), and min.insync.replicas: acks=all only
    protects a record if more than one replica must have it (when there are more)."""
    found = TOPICS_BY_NAME[topic] if isinstance(topic, str) else topic
    return {**found.configs(), "min.insync.replicas": str(min(2, replication_factor))}


def ensure_topics(settings: InitSettings) -> None:
    admin = KafkaAdmin(settings)
    try:
        for topic in TOPICS:
            created = admin.ensure_topics(
                [topic.name],
                settings.kafka_partitions,
                settings.kafka_replication_factor,
                topic_configs(topic, settings.kafka_replication_factor),
            )
            log.info("topic %s %s", topic.name, "created" if created else "exists")
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
