"""Log lines: JSON with the fax's ids, readable text on request, and never a secret."""

from __future__ import annotations

import json
import logging
import uuid

from pydantic import SecretStr

from services.router.settings import RouterSettings
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


def test_a_short_secret_is_redacted_as_a_word_but_never_mangles_names_ids_or_paths() -> None:
    """The local S3 key once turned logger names into `[redacted].router`."""
    settings = RouterSettings(s3_access_key="faxrelay", s3_secret_key="faxrelay-secret")
    for form in ("json", "text"):
        formatter_ = formatter(settings.model_copy(update={"log_format": form}), "router")
        record = logging.LogRecord(
            "faxrelay.router",
            logging.INFO,
            __file__,
            1,
            "bucket faxrelay-internal at /data/faxrelay/x; the key was faxrelay",
            (),
            None,
        )
        text = formatter_.format(record)
        assert "faxrelay.router" in text
        assert "faxrelay-internal" in text
        assert "/data/faxrelay/x" in text
        assert "the key was [redacted]" in text


def test_a_field_named_as_a_secret_is_redacted_whatever_its_value() -> None:
    text = line(VerifierSettings(), "calling eFax", api_key="k1", token="t0", password="pw")
    out = json.loads(text)
    assert out["api_key"] == out["token"] == out["password"] == "[redacted]"
    assert out["message"] == "calling eFax"


def test_a_long_secret_is_redacted_even_inside_other_text() -> None:
    app = EfaxApp(app_id=uuid.uuid4(), api_key=SecretStr("api-key-1234567890"))
    text = line(VerifierSettings(apps=[app]), "url=https://x/?k=api-key-1234567890&y=1")
    assert "api-key-1234567890" not in text
    assert "k=[redacted]&y=1" in text
