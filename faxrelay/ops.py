"""The operator's view of the pipeline, read from the topics themselves: status per stage, one
fax's history, replays of failed and rejected faxes, the key a link may be signed for.

Records are read by `faxrelay.reader` (each through its topic's model), the services' committed
offsets through the admin adapter (`KafkaAdmin`); replays are published with FastStream."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from faxrelay.config import OpsSettings
from faxrelay.reader import (
    KEYED_BY_FAX,
    REPLAY_HEADER,
    Record,
    Topics,
    claimed_fax_id,
    fax_id_of,
    parsed,
    reason_code,
    time_of,
    verified_fax,
)
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_READ,
    FAX_STORED,
    PIPELINE_TOPICS,
    READ_FAILED,
    TOPICS_BY_NAME,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
    DownloadFailed,
    FaxStored,
    ReadFailed,
    RejectReason,
    WebhookRejected,
    read_event_id,
)
from shared.kafka import KafkaAdmin, header
from shared.storage import EXTENSIONS, object_key

Kind = Literal["failed", "rejected", "unread"]
REPLAY_SOURCE: dict[str, str] = {
    "failed": DOWNLOAD_FAILED,
    "rejected": WEBHOOK_REJECTED,
    "unread": READ_FAILED,
}
REPLAY_TARGET: dict[str, str] = {
    "failed": FAX_NOTIFIED,
    "rejected": WEBHOOK_RECEIVED,
    "unread": FAX_STORED,
}


def user_topic_prefix(template: str) -> str:
    return template.split("{user_id}", 1)[0]


def stage_of(topic: str, template: str) -> str:
    known = TOPICS_BY_NAME.get(topic)
    if known is not None:
        return known.stage or topic
    return "routed" if topic.startswith(user_topic_prefix(template)) else topic


# --- status ------------------------------------------------------------------------------------


@dataclass
class StageStatus:
    topics: list[str]
    group: str | None
    records: int = 0
    lag: int | None = None
    oldest_unprocessed_age_s: float | None = None
    last_fax: str | None = None
    last_at: datetime | None = None
    reasons: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "lag": self.lag,
            "group": self.group,
            "oldest_unprocessed_age_s": self.oldest_unprocessed_age_s,
            "last_fax": self.last_fax,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            **({"reasons": dict(self.reasons)} if self.topics[0] in REASONED else {}),
        }


REASONED = (WEBHOOK_REJECTED, DOWNLOAD_FAILED, READ_FAILED)


def stage_plan(settings: OpsSettings, topics: set[str]) -> dict[str, tuple[list[str], str | None]]:
    prefix = user_topic_prefix(settings.router_user_topic_template)
    return {
        "received": ([WEBHOOK_RECEIVED], settings.verifier_group_id),
        "verified": ([FAX_NOTIFIED], settings.downloader_group_id),
        "stored": ([FAX_STORED], settings.router_group_id),
        "routed": (sorted(t for t in topics if t.startswith(prefix)), None),
        "rejected": ([WEBHOOK_REJECTED], None),
        "failed": ([DOWNLOAD_FAILED], None),
        # the reader, off the delivery path: its backlog of stored faxes, what it read (and the
        # router's lag announcing that), and what it could not read
        "to read": ([FAX_STORED], settings.reader_group_id),
        "read": ([FAX_READ], settings.router_read_group_id),
        "unread": ([READ_FAILED], None),
    }


async def status(
    settings: OpsSettings, admin: KafkaAdmin, reader: Topics, now: datetime | None = None
) -> dict[str, StageStatus]:
    now = now or datetime.now(UTC)
    stages: dict[str, StageStatus] = {}
    for name, (topics, group) in stage_plan(settings, admin.topics()).items():
        stage = stages[name] = StageStatus(topics or [name], group)
        for topic in topics:
            await _measure(stage, topic, admin, reader, now)
    return stages


async def _measure(
    stage: StageStatus, topic: str, admin: KafkaAdmin, reader: Topics, now: datetime
) -> None:
    tails = await reader.tails(topic)
    stage.records += sum(end - first for first, end, _ in tails.values())
    for _, _, last in tails.values():
        if last is not None and (stage.last_at is None or time_of(last) > stage.last_at):
            stage.last_at, stage.last_fax = time_of(last), header(last, "ce_id") or fax_id_of(last)
    if stage.group is not None:
        committed = admin.committed_offsets(stage.group, topic, len(tails))
        stage.lag = stage.lag or 0
        for partition, (first, end, _) in tails.items():
            position = max(first, committed.get(partition, first))
            stage.lag += max(0, end - position)
            oldest = await reader.at(topic, partition, position) if position < end else None
            if oldest is not None:
                age = (now - time_of(oldest)).total_seconds()
                stage.oldest_unprocessed_age_s = max(stage.oldest_unprocessed_age_s or 0, age)
    if topic in REASONED:
        stage.reasons.update(reason_code(record) for record in await reader.read(topic))


def status_lines(stages: dict[str, StageStatus], now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    lines = [f"{'stage':<9} {'records':>8} {'lag':>6} {'oldest':>8}  last fax"]
    for name, s in stages.items():
        lag = "-" if s.lag is None else str(s.lag)
        oldest = "-" if s.oldest_unprocessed_age_s is None else _age(s.oldest_unprocessed_age_s)
        last = "-"
        if s.last_at:
            last = f"{s.last_fax or '?'} {_age((now - s.last_at).total_seconds())} ago"
        lines.append(f"{name:<9} {s.records:>8} {lag:>6} {oldest:>8}  {last}")
        for reason, count in s.reasons.most_common():
            lines.append(f"{'':<9} {count:>8}  {reason}")
    return lines


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


# --- find --------------------------------------------------------------------------------------


@dataclass
class FaxHistory:
    fax_id: str
    records: list[Record]
    user_id: str | None  # the owner verified records name; never an unverified delivery's
    stored: FaxStored | None
    events: list[Record]

    @property
    def stored_key(self) -> str | None:
        return self.stored.stored.key if self.stored else None


def history_of(fax_id: str, found: list[Record]) -> tuple[str | None, FaxStored | None]:
    """The owner and the stored record of a fax, from the verified records alone."""
    user_id, stored = None, None
    for record in found:
        fax = verified_fax(record)
        if fax is not None and str(fax.fax_id) == fax_id:
            user_id = str(fax.user_id)
        model = parsed(record)
        if isinstance(model, FaxStored) and str(model.fax.fax_id) == fax_id:
            stored = model
    return user_id, stored


async def find(settings: OpsSettings, reader: Topics, fax_id: str) -> FaxHistory:
    found = [
        r
        for topic in PIPELINE_TOPICS
        for r in await reader.read(topic, fax_id.encode() if topic in KEYED_BY_FAX else None)
        if fax_id_of(r) == fax_id
    ]
    found.sort(key=lambda r: (r.timestamp, PIPELINE_TOPICS.index(r.topic)))
    user_id, stored = history_of(fax_id, found)
    events: list[Record] = []
    if user_id:
        topic = settings.router_user_topic_template.format(user_id=user_id)
        ids = {fax_id, read_event_id(fax_id)}  # the received event, then the read one
        events = [r for r in await reader.read(topic) if header(r, "ce_id") in ids]
    return FaxHistory(fax_id, found, user_id, stored, events)


# --- link --------------------------------------------------------------------------------------


class RefusedKey(ValueError):
    """A stored record names a key that is not the one its fax's owner's faxes are stored at."""


def link_key(stored: FaxStored) -> str:
    """The key a link for this fax may be signed for: the one computed from the fax itself
    (`object_key`, whatever image format stored it), never a key a record merely names."""
    computed = {object_key(stored.fax, image_format) for image_format in EXTENSIONS}
    if stored.stored.key not in computed:
        raise RefusedKey(
            f"fax.stored names {stored.stored.key!r}, not the key of fax {stored.fax.fax_id} of "
            f"user {stored.fax.user_id}: no link signed"
        )
    return stored.stored.key


def link_expiry(router_expiry_s: int, asked_s: int | None) -> timedelta:
    """The lifetime asked for, else the router's; where the router makes no links (0), an hour."""
    return timedelta(seconds=asked_s or router_expiry_s or 3600)


# --- replay ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """One record to publish again: the original notification or delivery, as its model."""

    fax_id: str | None
    reason: str
    topic: str
    key: bytes | None
    message: BaseModel
    at: datetime  # when it failed or was rejected

    @property
    def value(self) -> bytes:
        return self.message.model_dump_json().encode()


async def replays(
    reader: Topics,
    kind: Kind,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    fax_id: str | None = None,
) -> list[Replay]:
    """What `faxrelay replay failed|rejected` would publish, one per fax (failed) or delivery
    (rejected). Duplicate rejections are left out unless asked for by --reason."""
    source = REPLAY_SOURCE[kind]
    chosen: dict[str, Replay] = {}
    for record in await reader.read(source):
        replay = replay_of(record)
        if replay is None:
            continue
        if reason is not None and replay.reason != reason:
            continue
        if reason is None and replay.reason == RejectReason.DUPLICATE:
            continue
        if since is not None and replay.at < since:
            continue
        if fax_id is not None and replay.fax_id != fax_id:
            continue
        chosen[replay.value.decode() if kind == "rejected" else str(replay.fax_id)] = replay
    return list(chosen.values())


def replay_of(record: Record) -> Replay | None:
    """The original of a failure or a rejection, as its topic's model; None for a record that
    is neither."""
    model = parsed(record)
    if isinstance(model, DownloadFailed):
        fax_id = str(model.fax.fax_id)
        return Replay(
            fax_id, model.reason, FAX_NOTIFIED, fax_id.encode(), model.fax, model.failed_at
        )
    if isinstance(model, ReadFailed):  # read again from the stored record (the reader's input)
        fax_id = str(model.fax.fax_id)
        stored = FaxStored(fax=model.fax, stored=model.stored)
        return Replay(fax_id, model.reason, FAX_STORED, fax_id.encode(), stored, model.failed_at)
    if isinstance(model, WebhookRejected):
        named = claimed_fax_id(model.delivery)
        key = named.encode() if named and len(named) <= 64 else None  # as the gateway keys it
        return Replay(named, model.reason, WEBHOOK_RECEIVED, key, model.delivery, model.rejected_at)
    return None


async def already_stored(reader: Topics, chosen: list[Replay], kind: Kind = "failed") -> set[str]:
    """The faxes of `chosen` that were stored after all (the poller found them, or an earlier
    replay took them), or for `unread` read after all: a replay would only be collapsed as a
    duplicate. Reads from an hour before the earliest failure or rejection (clock skew)."""
    done_topic = FAX_READ if kind == "unread" else FAX_STORED
    wanted = {r.fax_id for r in chosen if r.fax_id is not None}
    if not wanted:
        return set()
    since = min(r.at for r in chosen) - timedelta(hours=1)
    return {
        fax_id
        for record in await reader.read_since(done_topic, since)
        if (fax_id := fax_id_of(record)) in wanted
    }


def checked(replay: Replay) -> bytes:
    """The bytes to publish, validated by the target topic's model first: a replay never
    sends what the topic's consumers would refuse."""
    value = replay.value
    TOPICS_BY_NAME[replay.topic].model.model_validate_json(value)
    return value


Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[Any]]


async def publish_replays(
    publish: Publish, chosen: list[Replay], kind: Kind, progress: Callable[[int], None]
) -> list[tuple[Replay, str]]:
    """Publish every valid replay; return the invalid ones, each with why (none is sent)."""
    invalid: list[tuple[Replay, str]] = []
    valid: list[tuple[Replay, bytes]] = []
    for replay in chosen:
        try:
            valid.append((replay, checked(replay)))
        except ValidationError as error:
            invalid.append((replay, f"{error.error_count()} invalid fields"))
    for done, (replay, value) in enumerate(valid, 1):
        await publish(value, replay.topic, replay.key, {REPLAY_HEADER: kind})
        progress(done)
    return invalid
