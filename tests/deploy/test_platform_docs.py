"""docs/platform.md's settings tables are the settings classes', and every setting says what it
means."""

from __future__ import annotations

from deploy.settings_doc import KAFKA_SECURITY, fields, table
from tests.deploy.conftest import ROOT


def test_docs_settings_table_is_current() -> None:
    docs = (ROOT / "docs/platform.md").read_text()
    assert table() in docs, "regenerate the table: python -m deploy.settings_doc"
    assert table(KAFKA_SECURITY) in docs, (
        "regenerate the Kafka table: python -m deploy.settings_doc kafka-security"
    )


def test_every_setting_has_a_meaning() -> None:
    empty = [name for name, entry in fields().items() if not entry["meaning"]]
    assert not empty, f"describe these in the settings classes: {empty}"
