"""Log lines: JSON with the fax's ids, readable text on request, and never a secret."""

from __future__ import annotations

import json
import logging
import uuid

from pydantic import SecretStr

from services.verifier.logic import decide_batch
from services.verifier.settings import VerifierSettings
from shared.logs import fax_fields, formatter
from shared.settings import EfaxApp
from tests.builders import delivery

TRACE = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


def line(settings: VerifierSettings, message: str, **extra: object) -> str:
    record = logging.LogRecord("faxrelay.verifier", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return formatter(settings, "verifier").format(record)


def test_a_json_line_has_time_level_service_and_the_fax_ids() -> None:
    fax_id = uuid.uuid4()
    fields = fax_fields(fax_id, "d-1", {"traceparent": TRACE}, reason="bad_signature")
    out = json.loads(line(VerifierSettings(), "delivery rejected", **fields))
    assert out["level"] == "INFO"
    assert out["service"] == "verifier"
    assert out["message"] == "delivery rejected"
    assert out["time"].startswith("20")
    assert out["fax_id"] == str(fax_id)
    assert out["delivery_id"] == "d-1"
    assert out["trace_id"] == "ab" * 16
    assert out["reason"] == "bad_signature"


def test_the_delivery_id_comes_from_the_correlation_header_when_not_given() -> None:
    assert fax_fields(trace={"correlation_id": "d-9"}) == {"delivery_id": "d-9"}


def test_text_lines_are_readable_and_keep_the_ids() -> None:
    settings = VerifierSettings(log_format="text")
    text = line(settings, "fax stored", **fax_fields("f-1", None, None))
    assert " INFO " in text
    assert "verifier faxrelay.verifier: fax stored fax_id=f-1" in text


def test_no_secret_of_the_settings_survives_in_any_format() -> None:
    app = EfaxApp(
        app_id=uuid.uuid4(),
        api_key=SecretStr("api-key-123456"),
        hmac_secrets=[SecretStr("hmac-secret-abcdef")],
    )
    for form in ("json", "text"):
        settings = VerifierSettings(apps=[app], log_format=form)
        text = line(settings, "oops api-key-123456 and hmac-secret-abcdef")
        assert "api-key-123456" not in text
        assert "hmac-secret-abcdef" not in text
        assert "[redacted]" in text


def test_the_verifier_logs_every_rejection_with_its_reason(caplog) -> None:
    from tests.unit.test_metrics import record, verification

    forged = delivery(signature="00" * 32).model_dump_json().encode()
    _, written = decide_batch([record(b"not json"), record(forged)], verification())
    with caplog.at_level(logging.INFO, logger="faxrelay.verifier"):
        assert written is not None
        written()
    reasons = [getattr(r, "reason", None) for r in caplog.records]
    assert reasons == ["invalid_payload", "bad_signature"]
