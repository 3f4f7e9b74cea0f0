"""The admin adapter: the missing topics of a call are created in one request, with configs."""

from __future__ import annotations

from unittest.mock import MagicMock, patch

from shared.kafka import KafkaAdmin
from shared.settings import ServiceSettings


def test_missing_topics_are_created_in_one_request_with_their_configs() -> None:
    client = MagicMock()
    client.list_topics.return_value = ["faxes.user.a"]
    with patch("shared.kafka.admin.KafkaAdminClient", return_value=client):
        admin = KafkaAdmin(ServiceSettings())
    configs = {"retention.ms": "604800000", "min.insync.replicas": "1"}
    created = admin.ensure_topics(["faxes.user.a", "faxes.user.b", "faxes.user.c"], 1, 1, configs)
    assert created == ["faxes.user.b", "faxes.user.c"]
    ((new,), _) = client.create_topics.call_args
    assert client.create_topics.call_count == 1
    assert [(t.name, t.topic_configs) for t in new] == [
        ("faxes.user.b", configs),
        ("faxes.user.c", configs),
    ]
