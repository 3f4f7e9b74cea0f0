"""The operator's view of the pipeline, read from the topics themselves: status per stage, one
fax's history, replays of failed and rejected faxes, fresh links.

Reading goes through one kafka-python-ng consumer without a group (nothing is committed);
offsets of the services' groups through `KafkaAdmin`; replays are published with FastStream.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from pydantic import Field

from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    OUTBOUND_NOTIFIED,
    PIPELINE_TOPICS,
    TOPICS_BY_NAME,
    USER_TOPIC_TEMPLATE,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
    DownloadFailed,
    RejectReason,
    WebhookRejected,
)
from shared.kafka import KafkaAdmin, client_options
from shared.settings import ServiceSettings, StorageSettings

REPLAY_HEADER = "faxrelay_replayed"


class OpsSettings(ServiceSettings):
    """The services' own variables the CLI needs (same names, same defaults)."""

    verifier_group_id: str = "faxrelay-verifier"
    downloader_group_id: str = "faxrelay-downloader"
    router_group_id: str = "faxrelay-router"
    router_user_topic_template: str = USER_TOPIC_TEMPLATE


class OpsStoreSettings(OpsSettings, StorageSettings):
    router_presign_expiry_s: int = Field(default=24 * 3600, ge=1, le=7 * 24 * 3600)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def json(self) -> Any:
        try:
            return json.loads(self.value)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None


class Topics:
    """Reads whole topics, or single records, up to the end seen at the call.

    End offsets are not trusted as the last word: Tansu answers the base offset of a
    partition's last batch, so the tail is always read until the broker has nothing more."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.consumer = KafkaConsumer(
            **client_options(settings), enable_auto_commit=False, fetch_max_wait_ms=100
        )

    def close(self) -> None:
        self.consumer.close()

    def partitions(self, topic: str) -> list[TopicPartition]:
        found = self.consumer.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(found)]

    def bounds(self, topic: str) -> dict[int, tuple[int, int]]:
        """(first, end) offset per partition as the broker answers them."""
        parts = self.partitions(topic)
        if not parts:
            return {}
        first = self.consumer.beginning_offsets(parts)
        end = self.consumer.end_offsets(parts)
        return {tp.partition: (first[tp], end[tp]) for tp in parts}

    def tails(self, topic: str) -> dict[int, tuple[int, int, Record | None]]:
        """(first, true end, last record) per partition, reading only from the answered end."""
        bounds = self.bounds(topic)
        start = {p: max(first, end - 1) for p, (first, end) in bounds.items()}
        last: dict[int, Record] = {}
        for record in self._read(topic, start, bounds):
            last[record.partition] = record
        return {
            p: (first, max(end, last[p].offset + 1) if p in last else end, last.get(p))
            for p, (first, end) in bounds.items()
        }

    def read(self, topic: str, key: bytes | None = None) -> Iterator[Record]:
        """Every record to the end; with `key`, only its partition's (the producers' default
        partitioner, murmur2, puts a key on one partition)."""
        bounds = self.bounds(topic)
        if key is not None and bounds:
            chosen = sorted(bounds)[partition_of(key, len(bounds))]
            bounds = {chosen: bounds[chosen]}
        begin = {p: first for p, (first, _) in bounds.items()}
        return self._read(topic, begin, bounds)

    def _read(
        self, topic: str, begin: dict[int, int], bounds: dict[int, tuple[int, int]]
    ) -> Iterator[Record]:
        if not begin:
            return
        parts = [TopicPartition(topic, p) for p in begin]
        self.consumer.assign(parts)
        for tp in parts:
            self.consumer.seek(tp, begin[tp.partition])
        try:
            while True:
                batches = self.consumer.poll(timeout_ms=150)
                for batch in batches.values():
                    for r in batch:
                        yield _record(r)
                if not batches and all(
                    self.consumer.position(tp) >= bounds[tp.partition][1] for tp in parts
                ):
                    return
        finally:
            self.consumer.unsubscribe()

    def read_since(self, topic: str, since: datetime) -> Iterator[Record]:
        """Every record written at `since` or later, to the end. Where the broker cannot look
        a time up, from the beginning: more to read, nothing missed."""
        bounds = self.bounds(topic)
        at = int(since.timestamp() * 1000)
        try:
            found = self.consumer.offsets_for_times({TopicPartition(topic, p): at for p in bounds})
        except KafkaError:
            found = {}
        begin = {}
        for p, (first, end) in bounds.items():
            tp = TopicPartition(topic, p)
            hit = found.get(tp)
            if tp not in found:  # the broker could not look the time up
                begin[p] = first
            elif hit is None:  # nothing written since then
                begin[p] = end
            else:
                begin[p] = max(first, hit.offset)
        return self._read(topic, begin, bounds)

    def at(self, topic: str, partition: int, offset: int) -> Record | None:
        tp = TopicPartition(topic, partition)
        self.consumer.assign([tp])
        self.consumer.seek(tp, offset)
        try:
            for _ in range(5):
                batch = self.consumer.poll(timeout_ms=300, max_records=1).get(tp)
                if batch:
                    return _record(batch[0])
            return None
        finally:
            self.consumer.unsubscribe()


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producers' default partitioner (Kafka's murmur2) gives `key`."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def _record(r: Any) -> Record:
    return Record(
        r.topic, r.partition, r.offset, r.timestamp, r.key, r.value or b"", tuple(r.headers)
    )


def user_topic_prefix(template: str) -> str:
    return template.split("{user_id}", 1)[0]


def fax_id_of(record: Record) -> str | None:
    """The fax a pipeline record is about, whatever its topic."""
    data = record.json()
    if not isinstance(data, dict):
        return None
    if record.topic == WEBHOOK_RECEIVED:
        data = _body(data)
    elif record.topic == WEBHOOK_REJECTED:
        data = _body(data.get("delivery") or {})
    elif record.topic in (FAX_STORED, DOWNLOAD_FAILED):
        data = data.get("fax") or {}
    value = data.get("fax_id") if isinstance(data, dict) else None
    return str(value) if value else None


def _body(delivery: dict[str, Any]) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(delivery.get("body") or ""))
    except ValueError:
        return None


def reason_of(record: Record) -> str:
    """What `faxrelay find` says of a record; a record `faxrelay replay` wrote says so."""
    said = _reason_of(record)
    replayed = record.header(REPLAY_HEADER)
    return f"{said}, replayed ({replayed})" if replayed else said


def _reason_of(record: Record) -> str:
    data = record.json() or {}
    if record.topic == WEBHOOK_REJECTED:
        return f"{data.get('reason')}: {data.get('detail', '')}"
    if record.topic == DOWNLOAD_FAILED:
        return f"{data.get('reason')}: {data.get('detail', '')} ({data.get('attempts')} attempts)"
    if record.topic == FAX_STORED:
        return f"stored {data.get('stored', {}).get('key')}"
    if record.topic == FAX_NOTIFIED:
        return f"source {data.get('source')}"
    if record.topic == WEBHOOK_RECEIVED:
        return f"delivery {data.get('delivery_id')}"
    return ""


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


REASONED = (WEBHOOK_REJECTED, DOWNLOAD_FAILED)


def stage_plan(settings: OpsSettings, topics: set[str]) -> dict[str, tuple[list[str], str | None]]:
    prefix = user_topic_prefix(settings.router_user_topic_template)
    return {
        "received": ([WEBHOOK_RECEIVED], settings.verifier_group_id),
        "verified": ([FAX_NOTIFIED], settings.downloader_group_id),
        "stored": ([FAX_STORED], settings.router_group_id),
        "routed": (sorted(t for t in topics if t.startswith(prefix)), None),
        "rejected": ([WEBHOOK_REJECTED], None),
        "failed": ([DOWNLOAD_FAILED], None),
    }


def status(settings: OpsSettings, now: datetime | None = None) -> dict[str, StageStatus]:
    now = now or datetime.now(UTC)
    admin, reader = KafkaAdmin(settings), Topics(settings)
    try:
        plan = stage_plan(settings, admin.topics())
        stages: dict[str, StageStatus] = {}
        for name, (topics, group) in plan.items():
            stage = stages[name] = StageStatus(topics or [name], group)
            for topic in topics:
                _measure(stage, topic, admin, reader, now)
        return stages
    finally:
        reader.close()
        admin.close()


def _measure(
    stage: StageStatus, topic: str, admin: KafkaAdmin, reader: Topics, now: datetime
) -> None:
    tails = reader.tails(topic)
    stage.records += sum(end - first for first, end, _ in tails.values())
    for _, _, last in tails.values():
        if last is not None and (stage.last_at is None or last.time > stage.last_at):
            stage.last_at, stage.last_fax = last.time, _fax_of_any(last)
    if stage.group is not None:
        committed = admin.committed_offsets(stage.group, topic, len(tails))
        stage.lag = stage.lag or 0
        for partition, (first, end, _) in tails.items():
            position = max(first, committed.get(partition, first))
            stage.lag += max(0, end - position)
            if position < end:
                oldest = reader.at(topic, partition, position)
                if oldest is not None:
                    age = (now - oldest.time).total_seconds()
                    stage.oldest_unprocessed_age_s = max(stage.oldest_unprocessed_age_s or 0, age)
    if topic in REASONED:
        for record in reader.read(topic):
            data = record.json() or {}
            stage.reasons[str(data.get("reason"))] += 1


def _fax_of_any(record: Record) -> str | None:
    return record.header("ce_id") or fax_id_of(record)


def status_lines(stages: dict[str, StageStatus], now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    lines = [f"{'stage':<9} {'records':>8} {'lag':>6} {'oldest':>8}  last fax"]
    for name, s in stages.items():
        lag = "-" if s.lag is None else str(s.lag)
        oldest = "-" if s.oldest_unprocessed_age_s is None else _age(s.oldest_unprocessed_age_s)
        last = (
            f"{s.last_fax or '?'} {_age((now - s.last_at).total_seconds())} ago"
            if s.last_at
            else "-"
        )
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
    user_id: str | None
    stored_key: str | None
    events: list[Record]


KEYED_BY_FAX = frozenset(
    {WEBHOOK_RECEIVED, FAX_NOTIFIED, FAX_STORED, DOWNLOAD_FAILED, OUTBOUND_NOTIFIED}
)
"""Topics whose records of a fax are on the partition of its id (see the registry's keys)."""


def find(settings: OpsSettings, fax_id: str) -> FaxHistory:
    reader = Topics(settings)
    try:
        found = [
            r
            for topic in PIPELINE_TOPICS
            for r in reader.read(topic, fax_id.encode() if topic in KEYED_BY_FAX else None)
            if fax_id_of(r) == fax_id
        ]
        found.sort(key=lambda r: (r.timestamp_ms, PIPELINE_TOPICS.index(r.topic)))
        user_id, stored_key = None, None
        for r in found:
            data = r.json() or {}
            fax = (
                _body(data.get("delivery") or data)
                if r.topic in (WEBHOOK_RECEIVED, WEBHOOK_REJECTED)
                else data.get("fax", data)
            )
            if isinstance(fax, dict) and fax.get("user_id"):
                user_id = str(fax["user_id"])
            if r.topic == FAX_STORED:
                stored_key = data.get("stored", {}).get("key")
        events: list[Record] = []
        if user_id:
            topic = settings.router_user_topic_template.format(user_id=user_id)
            events = [r for r in reader.read(topic) if r.header("ce_id") == fax_id]
        return FaxHistory(fax_id, found, user_id, stored_key, events)
    finally:
        reader.close()


# --- replay ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """One record to publish again: the original notification or delivery."""

    fax_id: str | None
    reason: str
    topic: str
    key: bytes | None
    value: bytes
    at: datetime  # when it failed or was rejected


def replays(
    settings: OpsSettings,
    kind: str,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    fax_id: str | None = None,
) -> list[Replay]:
    """What `faxrelay replay failed|rejected` would publish, one per fax (failed) or delivery
    (rejected). Duplicate rejections are left out unless asked for by --reason."""
    source = DOWNLOAD_FAILED if kind == "failed" else WEBHOOK_REJECTED
    chosen: dict[str, Replay] = {}
    reader = Topics(settings)
    try:
        for record in reader.read(source):
            replay = _replay_of(record, kind)
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
            chosen[str(replay.fax_id) if kind == "failed" else replay.value.decode()] = replay
    finally:
        reader.close()
    return list(chosen.values())


def _replay_of(record: Record, kind: str) -> Replay | None:
    try:
        if kind == "failed":
            failed = DownloadFailed.model_validate_json(record.value)
            fax = failed.fax
            fax_id = str(fax.fax_id)
            value = fax.model_dump_json().encode()
            return Replay(
                fax_id, failed.reason, FAX_NOTIFIED, fax_id.encode(), value, failed.failed_at
            )
        rejected = WebhookRejected.model_validate_json(record.value)
    except ValueError:
        return None
    named = fax_id_of(record)
    key = named.encode() if named and len(named) <= 64 else None  # as the gateway keys it
    value = rejected.delivery.model_dump_json().encode()
    return Replay(named, rejected.reason, WEBHOOK_RECEIVED, key, value, rejected.rejected_at)


def already_stored(settings: OpsSettings, chosen: list[Replay]) -> set[str]:
    """The faxes of `chosen` that `fax.stored` announced after all (the poller found them, or
    an earlier replay took them): a replay would only be collapsed as a duplicate. Reads
    `fax.stored` from an hour before the earliest failure or rejection (clock skew)."""
    wanted = {r.fax_id for r in chosen if r.fax_id is not None}
    if not wanted:
        return set()
    reader = Topics(settings)
    try:
        since = min(r.at for r in chosen) - timedelta(hours=1)
        return {
            fax_id
            for record in reader.read_since(FAX_STORED, since)
            if (fax_id := fax_id_of(record)) in wanted
        }
    finally:
        reader.close()


async def publish_replays(
    settings: OpsSettings, chosen: list[Replay], kind: str, progress: Callable[[int], None]
) -> None:
    from shared.kafka import make_broker

    broker = make_broker(settings)
    await broker.start()
    try:
        for done, replay in enumerate(chosen, 1):
            await broker.publish(
                replay.value, replay.topic, key=replay.key, headers={REPLAY_HEADER: kind}
            )
            progress(done)
    finally:
        await broker.stop()


def progress_bar(total: int, out: Any = None) -> Callable[[int], None]:
    """A one-line bar on stderr: done/total and the rate."""
    started = time.monotonic()
    out = out or sys.stderr

    def show(done: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        rate = done / max(time.monotonic() - started, 1e-3)
        end = "\n" if done >= total else ""
        bar = "#" * filled + "." * (width - filled)
        print(f"\r[{bar}] {done}/{total} {rate:.0f}/s", end=end, file=out, flush=True)

    return show


def expiry_of(settings: OpsStoreSettings, seconds: int | None) -> timedelta:
    return timedelta(seconds=seconds or settings.router_presign_expiry_s)
