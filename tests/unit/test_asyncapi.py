import importlib
from pathlib import Path

from faststream.kafka import KafkaBroker

from deploy.settings_doc import SERVICES
from faxrelay.asyncapi import document
from shared.contracts import RULE_TOPIC, USER_TOPIC

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_the_committed_asyncapi_document_matches_the_code() -> None:
    assert COMMITTED.read_text() == document(), (
        "docs/asyncapi.yaml is stale: python -m faxrelay.asyncapi > docs/asyncapi.yaml"
    )


def test_the_document_names_every_topic_and_the_users_topic() -> None:
    text = document()
    for topic in ("fax.webhook.received", "fax.notified", "fax.stored", "faxes.user.{user_id}"):
        assert f"address: {topic}" in text


def test_the_apps_declare_every_registry_topic_with_the_registrys_model() -> None:
    """The document is made of the publishers the apps declare."""

    from shared.contracts import TOPICS_BY_NAME

    registry = {
        **{n: t.model for n, t in TOPICS_BY_NAME.items()},
        USER_TOPIC.name: USER_TOPIC.model,
        RULE_TOPIC.name: RULE_TOPIC.model,
    }
    declared: set[str] = set()
    for name, settings_class in SERVICES.items():
        broker = KafkaBroker()
        importlib.import_module(f"services.{name}.app").create_app(settings_class(), broker=broker)
        for publisher in broker.publishers:
            schema = publisher.specification.config.schema_  # FastStream 0.7
            assert schema is registry[publisher.topic], f"{name}: {publisher.topic}"
            declared.add(publisher.topic)
    assert declared == set(registry), "every registry topic has a writer, and only those"
