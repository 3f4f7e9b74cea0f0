"""In-memory state of the sandbox: tokens, faxes, the delivery log and counters.

All mutations happen on the server's event loop; other threads go through
``RunningSandbox``, which hops onto that loop.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.settings import AppConfig, Content, Resolution, SandboxSettings


@dataclass
class Token:
    value: str
    app_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class Fax:
    fax_id: str
    app_id: str
    user_id: str
    completed_at: datetime
    completed_timestamp: str
    duration: int
    pages: int
    size: int
    sending_fax_number: str
    receiving_fax_number: str
    originating_fax_tsid: str
    destination_fax_csid: str
    notification_id: str
    size_mb: float | None = None
    image_downloaded: bool = False
    direction: str = "INBOUND"
    fax_status: str = "COMPLETE"
    routing_data: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    listed_from: float = 0.0  # wall clock: GET /faxes/received shows it from then on
    content: Content = "noise"
    resolution: Resolution = "fine"
    content_seed: int = 0  # what documents it carries (with content="documents")

    def summary(self) -> dict[str, Any]:
        """The entry of ``GET /faxes/received``."""
        return {
            "fax_id": self.fax_id,
            "size": self.size,
            "duration": self.duration,
            "pages": self.pages,
            "image_downloaded": self.image_downloaded,
            "completed_timestamp": self.completed_timestamp,
            "originating_fax_number": self.sending_fax_number,
            "destination_fax_number": self.receiving_fax_number,
            "originating_fax_tsid": self.originating_fax_tsid,
        }

    def metadata(self) -> dict[str, Any]:
        """The answer of ``GET /faxes/{fax_id}/metadata``."""
        return {
            **self.summary(),
            "user_id": self.user_id,
            "fax_status": self.fax_status,
            "direction": self.direction,
            "destination_fax_csid": self.destination_fax_csid,
            "routing_data": dict(self.routing_data),
            "transmission_data": {
                "pages": self.pages,
                "duration": self.duration,
                "completed_timestamp": self.completed_timestamp,
            },
            "client_tracking_data": {},
        }

    def search_values(self) -> list[str]:
        return [
            self.fax_id,
            self.sending_fax_number,
            self.receiving_fax_number,
            self.originating_fax_tsid,
            self.destination_fax_csid,
            self.completed_timestamp,
            *self.routing_data.values(),
        ]


@dataclass
class Delivery:
    """One webhook attempt, as listed by ``GET /notifications``."""

    notification_id: str
    app_id: str
    user_id: str | None
    fax_id: str | None
    direction: str
    event_type: str
    status: str
    attempt: int
    time: datetime
    http_status: int | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "app_id": self.app_id,
            "user_id": self.user_id,
            "fax_id": self.fax_id,
            "direction": self.direction,
            "event_type": self.event_type,
            "status": self.status,
            "attempt": self.attempt,
            "time": format_timestamp(self.time, "Z"),
            "http_status": self.http_status,
            "error": self.error,
        }


def format_timestamp(moment: datetime, style: str) -> str:
    """``2024-05-10T17:54:11Z`` with the given ending (``Z``, ``+00:00``, ``.000+0000``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + style


def fax_number_of(user_id: str) -> str:
    digest = int(hashlib.sha256(user_id.encode()).hexdigest(), 16)
    return f"1888{digest % 10_000_000:07d}"


def notification_config_id(app_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-notify-config:{app_id}"))


class State:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.apps: dict[str, AppConfig] = {a.app_id: a for a in settings.apps}
        self.tokens: dict[str, Token] = {}
        self.faxes: dict[str, Fax] = {}
        self.deliveries: list[Delivery] = []
        self.hostile: list[dict[str, Any]] = []
        self.stats: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self.rng = random.Random(settings.seed)
        self._round_robin = 0

    def pairs(self, app_id: str | None) -> list[tuple[str, str]]:
        apps = [self.apps[app_id]] if app_id is not None else list(self.apps.values())
        return [(a.app_id, u) for a in apps for u in a.user_ids]

    def next_owner(self, app_id: str | None, user_id: str | None) -> tuple[str, str]:
        if user_id is not None:
            if app_id is None:
                app_id = next((a.app_id for a in self.apps.values() if user_id in a.user_ids), None)
            if app_id is None or user_id not in self.apps[app_id].user_ids:
                raise KeyError(f"user {user_id} belongs to no configured app")
            return app_id, user_id
        if app_id is not None and app_id not in self.apps:
            raise KeyError(f"unknown app {app_id}")
        pairs = self.pairs(app_id)
        if not pairs:
            raise KeyError("no configured app has users")
        owner = pairs[self._round_robin % len(pairs)]
        self._round_robin += 1
        return owner

    def new_token(self, app_id: str, now: float) -> Token:
        if self.settings.new_token_ends_previous:
            for token in self.tokens.values():
                if token.app_id == app_id:
                    token.revoked = True
        token = Token(secrets.token_urlsafe(32), app_id, now + self.settings.token_lifetime_s)
        self.tokens[token.value] = token
        self.stats["tokens_issued"] += 1
        return token

    def expire_tokens(self) -> None:
        for token in self.tokens.values():
            token.revoked = True

    def new_fax(
        self,
        app_id: str,
        user_id: str,
        pages: int,
        completed_at: datetime,
        size_mb: float | None = None,
        sending_fax_number: str | None = None,
        originating_fax_tsid: str | None = None,
        timestamp_style: str | None = None,
    ) -> Fax:
        rng, s = self.rng, self.settings
        if sending_fax_number is None:
            if rng.random() < s.unavailable_rate:
                sending_fax_number = "unavailable"
            else:
                sending_fax_number = f"1{rng.randrange(200, 999)}{rng.randrange(10**7):07d}"
        receiving = fax_number_of(user_id)
        if rng.random() < s.plus_number_rate:
            receiving = "+" + receiving
            if sending_fax_number != "unavailable":
                sending_fax_number = "+" + sending_fax_number.lstrip("+")
        if originating_fax_tsid is None:
            tsid_unknown = sending_fax_number == "unavailable" or rng.random() < s.unavailable_rate
            originating_fax_tsid = "unavailable" if tsid_unknown else sending_fax_number.lstrip("+")
        style = timestamp_style or rng.choice(s.timestamp_styles or ["Z"])
        fax = Fax(
            fax_id=str(uuid.uuid4()),
            app_id=app_id,
            user_id=user_id,
            completed_at=completed_at.replace(microsecond=0),
            completed_timestamp=format_timestamp(completed_at, style),
            duration=pages * rng.randint(18, 40),
            pages=pages,
            size=int(size_mb * 1024 * 1024) if size_mb else pages * s.page_kb * 1024,
            sending_fax_number=sending_fax_number,
            receiving_fax_number=receiving,
            originating_fax_tsid=originating_fax_tsid,
            destination_fax_csid=receiving.lstrip("+"),
            notification_id=str(uuid.uuid4()),
            size_mb=size_mb,
            routing_data={
                "from_name": rng.choice(["Acme Clinic", "Front Desk", "unavailable", ""]),
                "to_name": rng.choice(["Records", "Billing", "Intake"]),
                "to_company": "Sandbox Corp",
                "subject": rng.choice(["Referral", "Lab results", "Invoice", ""]),
            },
        )
        self.faxes[fax.fax_id] = fax
        self.stats["faxes_created"] += 1
        return fax

    def snapshot(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in sorted(self.stats.items())},
            "faxes": sum(1 for f in self.faxes.values() if not f.deleted),
            "requests_by_status": {str(k): v for k, v in sorted(self.status_counts.items())},
        }


def utc_now() -> datetime:
    return datetime.now(UTC)
