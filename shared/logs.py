"""How every service logs: one JSON object a line (or readable text for `make run`), with time,
level, service and, where known, fax_id, delivery_id and trace_id; never a secret.

Logic passes the ids with `extra=fax_fields(...)`; `configure_logging` is called once, in each
service's `__main__`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr
from pythonjsonlogger.json import JsonFormatter

from shared.contracts import CORRELATION_HEADER, TRACEPARENT_HEADER
from shared.settings import ServiceSettings

__all__ = ["FIELDS", "configure_logging", "fax_fields"]

FIELDS = ("fax_id", "delivery_id", "trace_id", "reason")
REDACTED = "[redacted]"
QUIET = {"httpx": logging.WARNING, "kafka": logging.WARNING}  # a line per request, connection


def fax_fields(
    fax_id: object = None,
    delivery_id: object = None,
    trace: Mapping[str, str] | None = None,
    **more: object,
) -> dict[str, object]:
    """The `extra` of a log line about one fax: its ids, the trace id of its traceparent."""
    fields: dict[str, object] = {k: v for k, v in more.items() if v is not None}
    if fax_id is not None:
        fields["fax_id"] = str(fax_id)
    trace = trace or {}
    delivery = delivery_id or trace.get(CORRELATION_HEADER)
    if delivery:
        fields["delivery_id"] = str(delivery)
    parts = trace.get(TRACEPARENT_HEADER, "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        fields["trace_id"] = parts[1]
    return fields


# A secret this long is redacted wherever it appears; a shorter one only as a word of its own
# (not inside a logger name, an id or a path: a local key like `faxrelay` would mangle
# `faxrelay.router`).
REDACT_ANYWHERE = 12
SECRET_FIELD = re.compile(r"secret|password|passwd|api_?key|token|authorization|credential", re.I)


def secrets_of(value: Any) -> set[str]:
    """Every SecretStr value in settings (the eFax keys and HMAC secrets of each App too)."""
    found: set[str] = set()
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if len(secret) >= 4:  # shorter ones would redact ordinary words
            found.add(secret)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= secrets_of(getattr(value, name))
    elif isinstance(value, list | tuple | set):
        for item in value:
            found |= secrets_of(item)
    return found


class _Redacting(logging.Formatter):
    """Wraps a formatter: a field named as a secret (`password`, `api_key`, `token`, ...) is
    written as [redacted], whatever its value; the settings' secrets are redacted in the text,
    the long ones wherever they appear, the short ones where they stand as a word of their own."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        ordered = sorted(secrets, key=len, reverse=True)
        self.long = [secret for secret in ordered if len(secret) >= REDACT_ANYWHERE]
        short = [re.escape(secret) for secret in ordered if len(secret) < REDACT_ANYWHERE]
        word = r"(?<![\w.\-/])(?:{})(?![\w.\-/])".format("|".join(short))
        self.short = re.compile(word) if short else None

    def format(self, record: logging.LogRecord) -> str:
        named = [k for k in vars(record) if SECRET_FIELD.search(k)]
        if named:
            record = logging.makeLogRecord({**vars(record), **dict.fromkeys(named, REDACTED)})
        text = self.inner.format(record)
        for secret in self.long:
            text = text.replace(secret, REDACTED)
        return self.short.sub(REDACTED, text) if self.short else text


class _Text(logging.Formatter):
    """Readable: time level service logger message key=value (the fax fields)."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s " + service + " %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = [f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None)]
        return " ".join([line, *known])


def formatter(settings: ServiceSettings, service: str) -> logging.Formatter:
    inner: logging.Formatter
    if settings.log_format == "text":
        inner = _Text(service)
    else:
        inner = JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"service": service},
            timestamp="time",
        )
    return _Redacting(inner, secrets_of(settings))


def configure_logging(settings: ServiceSettings, service: str) -> None:
    """The root logger writes to stderr in the configured format, at the configured level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings, service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(max(level, root.level))
