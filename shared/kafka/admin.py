"""The administration adapter on kafka-python-ng: topics, partitions, committed and end
offsets, lag."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.kafka.security import client_options
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class KafkaAdmin:
    """Topics and consumer offsets, through kafka-python-ng."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._client = KafkaAdminClient(**client_options(settings), client_id="faxrelay-admin")

    def close(self) -> None:
        self._client.close()

    def topics(self) -> set[str]:
        return set(self._client.list_topics())

    def partitions(self, topic: str) -> list[int]:
        """The partitions of `topic`, none when it does not exist (never creates it)."""
        if topic not in self.topics():
            return []
        (described,) = self._client.describe_topics([topic])
        return sorted(int(p["partition"]) for p in described["partitions"])

    def ensure_topics(
        self,
        names: Iterable[str],
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Create the topics that do not exist yet; return the ones created."""
        missing = sorted(set(names) - self.topics())
        if not missing:
            return []
        new = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(configs or {}))
            for name in missing
        ]
        try:
            self._client.create_topics(new)
        except TopicAlreadyExistsError:
            log.debug("topics created concurrently: %s", missing)
        return missing

    def committed_offsets(self, group_id: str, topic: str, partitions: int) -> dict[int, int]:
        """Committed offset per partition (Tansu needs the partitions named)."""
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        answer = self._client.list_consumer_group_offsets(group_id, partitions=wanted)
        return {tp.partition: meta.offset for tp, meta in answer.items() if meta.offset >= 0}

    def end_offsets(self, topic: str) -> dict[int, int]:
        """The offset after the last record, per partition (Tansu's read low: its gap)."""
        consumer = KafkaConsumer(**client_options(self._settings), enable_auto_commit=False)
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            consumer.close()

    def lag(self, group_id: str, topic: str) -> dict[int, int]:
        """Records on `topic` the group has not yet committed past, per partition."""
        ends = self.end_offsets(topic)
        committed = self.committed_offsets(group_id, topic, len(ends))
        return {p: max(0, end - committed.get(p, 0)) for p, end in sorted(ends.items())}
