from pathlib import Path

from faxrelay.asyncapi import document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_the_committed_asyncapi_document_matches_the_code() -> None:
    assert COMMITTED.read_text() == document(), (
        "docs/asyncapi.yaml is stale: python -m faxrelay.asyncapi > docs/asyncapi.yaml"
    )


def test_the_document_names_every_topic_and_the_users_topic() -> None:
    text = document()
    for topic in ("fax.webhook.received", "fax.notified", "fax.stored", "faxes.user.{user_id}"):
        assert f"address: {topic}" in text
