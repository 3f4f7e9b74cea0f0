"""Kafka, both dialects: FastStream brokers for producing and consuming, and one small
administration adapter on kafka-python-ng (topics, committed offsets). One module per concern:

- `security`: TLS and SASL, in each client's form;
- `connection`: the connection check at start;
- `broker`: the broker factory, the one set of producer options, consumer options, `declare`;
- `admin`: the administration adapter;
- `subscriber`: the batch subscriber of a pipeline stage;
- `parsing`: a batch's records, headers and models;
- `publishing`: `Outgoing` records and `publish_all`;
- `exactly_once`: transactions and the sink.
"""

from shared.kafka.admin import KafkaAdmin
from shared.kafka.broker import (
    AT_LEAST_ONCE,
    MAX_RECORD_BYTES,
    consumer_options,
    declare,
    isolation_level,
    make_broker,
    producer_options,
)
from shared.kafka.connection import KafkaSettingsError, check_connection
from shared.kafka.exactly_once import Decision, Sink, Transactions
from shared.kafka.parsing import Parsed, header, parsed, propagated, raw_bodies, records
from shared.kafka.publishing import Outgoing, Publish, publish_all, run_all
from shared.kafka.security import client_options, security, ssl_context
from shared.kafka.subscriber import batch_options, batch_subscriber

__all__ = [
    "AT_LEAST_ONCE",
    "MAX_RECORD_BYTES",
    "Decision",
    "KafkaAdmin",
    "KafkaSettingsError",
    "Outgoing",
    "Parsed",
    "Publish",
    "Sink",
    "Transactions",
    "batch_options",
    "batch_subscriber",
    "check_connection",
    "client_options",
    "consumer_options",
    "declare",
    "header",
    "isolation_level",
    "make_broker",
    "parsed",
    "producer_options",
    "propagated",
    "publish_all",
    "raw_bodies",
    "records",
    "run_all",
    "security",
    "ssl_context",
]
