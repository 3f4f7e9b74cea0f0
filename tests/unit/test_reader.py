"""How the operator's reader reads: committed records only under exactly-once, and the
partition the producers chose for a key."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from faxrelay.reader import partition_of, reader_options
from shared.kafka import consumer_options
from shared.settings import ServiceSettings


def test_under_exactly_once_the_reader_skips_aborted_transactions_as_the_services_do() -> None:
    for exactly_once in (False, True):
        settings = ServiceSettings(kafka_exactly_once=exactly_once)
        services = consumer_options(settings, "g")["isolation_level"]
        assert reader_options(settings)["isolation_level"] == services
    assert reader_options(ServiceSettings(kafka_exactly_once=True))["isolation_level"] == (
        "read_committed"
    )


def test_find_reads_the_partition_the_services_producers_chose_for_a_fax_id() -> None:
    for count in (1, 3, 6):
        partitions = list(range(count))
        for _ in range(30):
            key = str(uuid.uuid4()).encode()
            assert partition_of(key, count) == DefaultPartitioner()(key, partitions, partitions)
