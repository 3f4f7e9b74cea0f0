"""What eFax sends: the webhook bodies, and the rules its numbers and timestamps follow."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
)

_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_efax_timestamp(value: object) -> object:
    """eFax writes `...Z`, `...+00:00` and `....000+0000`; all mean the same instant."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", text)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


EfaxTimestamp = Annotated[datetime, BeforeValidator(parse_efax_timestamp), AfterValidator(_as_utc)]

_FAX_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def _fax_number(value: str) -> str:
    if value != "unavailable" and not _FAX_NUMBER.fullmatch(value):  # `$` allows a final LF
        raise ValueError("a fax number is digits with an optional leading +, or 'unavailable'")
    return value


FaxNumber = Annotated[str, Field(max_length=21), AfterValidator(_fax_number)]
_TSID = re.compile(r"^[\x20-\x7e]{0,64}$")
Tsid = Annotated[str, Field(max_length=64, pattern=_TSID.pattern)]
UNAVAILABLE = "unavailable"


def listed_number(value: str) -> str:
    """A number from eFax's listing, held to the webhook's rule: one that is not a fax number
    (a CR, LF or non-ASCII character would break every store write of the fax) is kept as
    'unavailable', so the fax itself still flows. An absent one stays empty."""
    try:
        return _fax_number(value) if value else value
    except ValueError:
        return UNAVAILABLE


def listed_tsid(value: str) -> str:
    """A TSID from the listing, printable ASCII as the webhook's must be, else 'unavailable'."""
    return value if _TSID.fullmatch(value) else UNAVAILABLE


# --- what eFax sends -------------------------------------------------------------------------


class _VendorModel(BaseModel):
    """What eFax sends: tolerant of the fields eFax may add (the API grows without notice)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class InboundNotification(_VendorModel):
    """The body eFax posts for a fax (the vendor page's example). Unknown fields are ignored."""

    app_id: UUID = Field(description="eFax App ID (group) the fax belongs to.")
    user_id: UUID = Field(description="eFax user who owns the receiving number.")
    notification_id: UUID = Field(description="Id of this notification (the same on retries).")
    direction: Literal["INBOUND", "OUTBOUND"] = Field(description="Fax direction.")
    completed_timestamp: EfaxTimestamp = Field(description="When the fax finished arriving.")
    duration: NonNegativeInt = Field(le=86_400, description="Transmission time in seconds.")
    pages: NonNegativeInt = Field(le=10_000, description="Page count.")
    fax_id: UUID = Field(description="eFax fax id.")
    sending_fax_number: FaxNumber = Field(description="Caller's number, or 'unavailable'.")
    receiving_fax_number: FaxNumber = Field(description="Number that received the fax.")
    resource_url: str = Field(max_length=2048, description="Where eFax says the image is.")
    originating_fax_tsid: Tsid = Field(default="", description="Sender's TSID, or 'unavailable'.")


class PingNotification(_VendorModel):
    """The body eFax posts after `POST /notifications/ping`."""

    app_id: str = Field(max_length=64)
    notification_id: str = Field(max_length=64)
    direction: Literal["INBOUND", "OUTBOUND"] = "INBOUND"
    event_type: Literal["PING"]
    notification_config_id: str = Field(default="", max_length=64)
