"""Who gets a stored fax, and the CloudEvent they get; once it is read, who gets what was read
(CloudEvents, or FHIR R4 DocumentReferences where a rule asks)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from services.router.fhir import FHIR_CONTENT_TYPE, document_references, encoded, sha1_base64
from services.router.rules import Rules, check_topic_template, deliveries, load_rules, user_topic
from services.router.settings import RouterSettings
from shared.contracts import (
    FAX_DOCUMENT_FHIR_EVENT_TYPE,
    FAX_READ_EVENT_TYPE,
    FAX_RECEIVED_EVENT_TYPE,
    FaxRead,
    FaxReadData,
    FaxReceivedData,
    FaxStored,
    ReadFailed,
    read_event_id,
)
from shared.kafka import Decision, Outgoing, Parsed
from shared.logs import fax_fields
from shared.metrics import (
    EVENTS_ROUTED,
    FAX_AGE_AT_ROUTING_SECONDS,
    FAXES_ROUTED,
    READ_EVENTS_ROUTED,
    STORED_REFUSED,
)
from shared.storage import ExistingObject, object_keys, text_key
from shared.tracing import traced

log = logging.getLogger("faxrelay.router")

Presign = Callable[[str, timedelta], str]
Lookup = Callable[[str], Awaitable[ExistingObject | None]]
Fetch = Callable[[str], Awaitable[bytes | None]]


def refusal(fax: FaxStored, found: ExistingObject | None) -> str | None:
    """Why a `fax.stored` record must not be announced, or None. Anyone who can write one record
    could name another patient's object: only the key the fax itself is stored under counts, and
    only when the object there is, by the metadata the downloader wrote, this fax of this user."""
    if fax.stored.key not in object_keys(fax.fax):
        return "its key is not the one its fax is stored under"
    if found is None:
        return "no object under its key"
    if (found.fax_id, found.user_id) != (str(fax.fax.fax_id), str(fax.fax.user_id)):
        return "the object under its key belongs to another fax or user"
    return None


async def genuine(batch: Sequence[Parsed[FaxStored]], lookup: Lookup) -> list[Parsed[FaxStored]]:
    """The records of a batch that may be announced; the others are counted and logged."""

    async def found(fax: FaxStored) -> ExistingObject | None:
        return await lookup(fax.stored.key) if fax.stored.key in object_keys(fax.fax) else None

    objects = await asyncio.gather(*(found(p.model) for p in batch))
    kept: list[Parsed[FaxStored]] = []
    for item, existing in zip(batch, objects, strict=True):
        reason = refusal(item.model, existing)
        if reason is None:
            kept.append(item)
            continue
        STORED_REFUSED.inc()
        fields = fax_fields(item.model.fax.fax_id, item.model.fax.delivery_id, item.trace)
        log.warning("fax.stored record refused, not announced: %s", reason, extra=fields)
    return kept


def fax_received_event(
    fax: FaxStored,
    source: str,
    presign: Presign | None,
    expiry: timedelta,
    now: datetime,
) -> ce_kafka.KafkaMessage:
    """The CloudEvent (Kafka binary mode) a subscriber gets; its id is the fax id, always."""
    f = fax.fax
    data = FaxReceivedData.from_stored(fax)
    if presign is not None and expiry.total_seconds() > 0 and fax.stored.key in object_keys(f):
        data.download_url = presign(fax.stored.key, expiry)
        data.download_url_expires_at = now + expiry
    attributes: dict[str, Any] = {
        "id": str(f.fax_id),
        "source": source,
        "type": FAX_RECEIVED_EVENT_TYPE,
        "subject": str(f.fax_id),
        "time": f.completed_at,
        "datacontenttype": "application/json",
        "partitionkey": str(f.user_id),
    }
    event = CloudEvent(attributes=attributes, data=data.model_dump(mode="json"))
    return ce_kafka.to_binary_event(event)


def checked(settings: RouterSettings) -> tuple[str, Rules]:
    """The topic template and the rules, refused at start when not valid."""
    template = check_topic_template(settings.router_user_topic_template)
    path = settings.router_rules_file
    return template, load_rules(path) if path else Rules()


@dataclass(frozen=True)
class Routing:
    """What routing needs besides the fax: the rules, the names, the download links, and the
    store's own word on whose each object is."""

    rules: Rules
    template: str
    source: str
    presign: Presign | None
    expiry: timedelta
    lookup: Lookup
    fetch: Fetch | None = None  # the image's bytes, for FHIR's SHA-1
    after_reading: bool = False  # the users' topics wait for reading

    @classmethod
    def of(cls, settings: RouterSettings, rules: Rules, template: str, store: Store) -> Routing:
        expiry = timedelta(seconds=settings.router_presign_expiry_s)
        presign = store.presigned_url if expiry.total_seconds() > 0 else None
        return cls(
            rules,
            template,
            settings.router_event_source,
            presign,
            expiry,
            store.find,
            store.read_or_none,
            settings.router_user_topic_after_reading,
        )


class Store(Protocol):
    def presigned_url(self, key: str, expires: timedelta) -> str: ...

    async def find(self, key: str) -> ExistingObject | None: ...

    async def read_or_none(self, key: str) -> bytes | None: ...


def stored_topics(fax: FaxStored, r: Routing) -> list[str]:
    """Where the received event of a `fax.stored` goes: every destination that takes
    CloudEvents (rules on content cannot match yet), less the user's topic when it waits for
    reading (`router_user_topic_after_reading`)."""
    user = user_topic(r.template, fax.fax.user_id)
    return [
        topic
        for topic, kinds in deliveries(fax, r.rules, r.template).items()
        if "cloudevent" in kinds and not (r.after_reading and topic == user)
    ]


def route(fax: FaxStored, trace: Mapping[str, str], r: Routing, now: datetime) -> list[Outgoing]:
    """The CloudEvent of one stored fax, once per destination, keyed by user id."""
    event = fax_received_event(fax, r.source, r.presign, r.expiry, now)
    headers = {**trace, **{k: v.decode() for k, v in event.headers.items()}}
    key = str(fax.fax.user_id).encode()
    return [Outgoing(topic, key, event.value, headers) for topic in stored_topics(fax, r)]


def route_batch(batch: Iterable[Parsed[FaxStored]], r: Routing, now: datetime) -> list[Outgoing]:
    outgoing: list[Outgoing] = []
    for p in batch:
        with traced("route fax", p.trace, fax_id=p.model.fax.fax_id) as trace:
            outgoing.extend(route(p.model, trace, r, now))
    return outgoing


async def route_and_make_topics(
    routing: Routing, topics: UserTopics, batch: Sequence[Parsed[FaxStored]], *, now: datetime
) -> Decision:
    """The events of a batch's genuine records, their topics made first (what the sink then
    writes)."""
    batch = await genuine(batch, routing.lookup)
    outgoing = route_batch(batch, routing, now)
    await topics.ensure(o.topic for o in outgoing)
    return outgoing, partial(tell, batch, routing, now)


def tell(batch: Sequence[Parsed[FaxStored]], r: Routing, now: datetime) -> None:
    """Count and log the faxes of a batch once their events are written."""
    for item in batch:
        fax = item.model.fax
        user = user_topic(r.template, fax.user_id)
        kinds = ["user" if t == user else "rule" for t in stored_topics(item.model, r)]
        for kind in kinds:
            EVENTS_ROUTED.labels(destination=kind).inc()
        FAXES_ROUTED.inc()
        age_s = max(0.0, (now - fax.completed_at).total_seconds())
        FAX_AGE_AT_ROUTING_SECONDS.observe(age_s)
        fields = fax_fields(fax.fax_id, fax.delivery_id, item.trace)
        log.info(
            "fax routed to %d destinations, %.1f s after completion",
            len(kinds),
            age_s,
            extra=fields,
        )


# --- the read event: `fax.read` -> a second CloudEvent to the same destinations -------------


def read_refusal(read: FaxRead, found: ExistingObject | None) -> str | None:
    """Why a `fax.read` record must not be announced, or None: the same trust as `fax.stored`
    (`refusal`), held to its text object, which must be under the key derived from its fax and
    be, by the metadata the reader wrote, this fax's of this user."""
    if not keys_of_its_fax(read):
        return "its keys are not the ones its fax and its text are stored under"
    if found is None:
        return "no text object under its key"
    if (found.fax_id, found.user_id) != (str(read.fax.fax_id), str(read.fax.user_id)):
        return "the text object under its key belongs to another fax or user"
    return None


def keys_of_its_fax(read: FaxRead) -> bool:
    return read.stored.key in object_keys(read.fax) and read.text_object.key == text_key(read.fax)


def fax_read_event(
    read: FaxRead, source: str, presign: Presign | None, expiry: timedelta, now: datetime
) -> ce_kafka.KafkaMessage:
    """The second CloudEvent of a fax: what was read. Deterministic but for the text link."""
    f = read.fax
    data = FaxReadData.from_read(read)
    if presign is not None and expiry.total_seconds() > 0:
        data.text_url = presign(read.text_object.key, expiry)
        data.text_url_expires_at = now + expiry
    attributes: dict[str, Any] = {
        "id": read_event_id(read.fax.fax_id),
        "source": source,
        "type": FAX_READ_EVENT_TYPE,
        "subject": str(f.fax_id),
        "time": read.read_at,
        "datacontenttype": "application/json",
        "partitionkey": str(f.user_id),
    }
    event = CloudEvent(attributes=attributes, data=data.model_dump(mode="json"))
    return ce_kafka.to_binary_event(event)


def fhir_events(read: FaxRead, r: Routing, sha1: str | None) -> list[ce_kafka.KafkaMessage]:
    """One CloudEvent per document whose data is its FHIR R4 DocumentReference (binary mode:
    the record's value is the resource itself, content-type application/fhir+json)."""
    url = None
    if r.presign is not None and r.expiry.total_seconds() > 0:
        url = r.presign(read.stored.key, r.expiry)
    events = []
    for n, resource in enumerate(document_references(read, url=url, sha1=sha1), start=1):
        attributes: dict[str, Any] = {
            "id": f"{read.fax.fax_id}.document.{n}",
            "source": r.source,
            "type": FAX_DOCUMENT_FHIR_EVENT_TYPE,
            "subject": str(read.fax.fax_id),
            "time": read.read_at,
            "datacontenttype": FHIR_CONTENT_TYPE,
            "partitionkey": str(read.fax.user_id),
        }
        event = CloudEvent(attributes=attributes, data=encoded(resource))
        events.append(ce_kafka.to_binary_event(event))
    return events


async def image_sha1(read: FaxRead, r: Routing) -> str | None:
    """FHIR's hash (base64 SHA-1) of the stored image, read back from the store and held to the
    SHA-256 the downloader recorded; None (no hash) when it cannot be had or does not match."""
    data = await r.fetch(read.stored.key) if r.fetch is not None else None
    if data is None or hashlib.sha256(data).hexdigest() != read.stored.sha256:
        return None
    return sha1_base64(data)


async def read_outgoing(
    read: FaxRead, trace: Mapping[str, str], r: Routing, now: datetime
) -> list[Outgoing]:
    """What a read fax sends: to each destination that takes CloudEvents, the read event, with
    the received event first where the `fax.stored` did not bring it (a rule on content, or a
    user's topic waiting for reading); to each that takes FHIR, its DocumentReferences."""
    as_stored = FaxStored(fax=read.fax, stored=read.stored)
    targets = deliveries(as_stored, r.rules, r.template, read)
    already = set(stored_topics(as_stored, r))
    key = str(read.fax.user_id).encode()

    def out(event: ce_kafka.KafkaMessage, topic: str) -> Outgoing:
        headers = {**trace, **{k: v.decode() for k, v in event.headers.items()}}
        return Outgoing(topic, key, event.value, headers)

    received = fax_received_event(as_stored, r.source, r.presign, r.expiry, now)
    read_event = fax_read_event(read, r.source, r.presign, r.expiry, now)
    wants_fhir = any("fhir" in kinds for kinds in targets.values())
    documents = fhir_events(read, r, await image_sha1(read, r)) if wants_fhir else []
    outgoing: list[Outgoing] = []
    for topic, kinds in targets.items():
        if "cloudevent" in kinds:
            if topic not in already:
                outgoing.append(out(received, topic))
            outgoing.append(out(read_event, topic))
        if "fhir" in kinds:
            outgoing.extend(out(event, topic) for event in documents)
    return outgoing


async def route_reads_and_make_topics(
    r: Routing, topics: UserTopics, batch: Sequence[Parsed[FaxRead]], *, now: datetime
) -> Decision:
    """The read events of a batch's genuine records, to wherever their fax goes once read
    (the user's topic and the topics of the rules it matches), their topics made first."""

    async def found(read: FaxRead) -> ExistingObject | None:
        return await r.lookup(read.text_object.key) if keys_of_its_fax(read) else None

    objects = await asyncio.gather(*(found(p.model) for p in batch))
    outgoing: list[Outgoing] = []
    kept: list[Parsed[FaxRead]] = []
    for item, existing in zip(batch, objects, strict=True):
        read = item.model
        fields = fax_fields(read.fax.fax_id, read.fax.delivery_id, item.trace)
        reason = read_refusal(read, existing)
        if reason is not None:
            READ_EVENTS_ROUTED.labels(outcome="refused").inc()
            log.warning("fax.read record refused, not announced: %s", reason, extra=fields)
            continue
        kept.append(item)
        with traced("route read fax", item.trace, fax_id=read.fax.fax_id) as trace:
            outgoing.extend(await read_outgoing(read, trace, r, now))
    await topics.ensure(o.topic for o in outgoing)
    return outgoing, partial(tell_reads, kept)


async def route_unread_and_make_topics(
    r: Routing, topics: UserTopics, batch: Sequence[Parsed[ReadFailed]], *, now: datetime
) -> Decision:
    """With the users' topics waiting for reading, a fax that could not be read still reaches
    its user: the received event alone, to the user's topic (no rule on content can match it).
    Otherwise nothing: the `fax.stored` brought it."""
    if not r.after_reading:
        return [], None
    as_stored = [
        Parsed(FaxStored(fax=p.model.fax, stored=p.model.stored), p.trace, p.record) for p in batch
    ]
    outgoing: list[Outgoing] = []
    for item in await genuine(as_stored, r.lookup):
        fax = item.model
        user = user_topic(r.template, fax.fax.user_id)
        if user not in deliveries(fax, r.rules, r.template):
            continue  # a rule on eFax's notice keeps it off the user's topic
        with traced("route unread fax", item.trace, fax_id=fax.fax.fax_id) as trace:
            event = fax_received_event(fax, r.source, r.presign, r.expiry, now)
            headers = {**trace, **{k: v.decode() for k, v in event.headers.items()}}
            outgoing.append(Outgoing(user, str(fax.fax.user_id).encode(), event.value, headers))
        fields = fax_fields(fax.fax.fax_id, fax.fax.delivery_id, item.trace)
        log.info("unread fax routed to its user, without its text", extra=fields)
    await topics.ensure(o.topic for o in outgoing)
    return outgoing, None


def tell_reads(batch: Sequence[Parsed[FaxRead]]) -> None:
    for item in batch:
        READ_EVENTS_ROUTED.labels(outcome="routed").inc()
        fax = item.model.fax
        fields = fax_fields(fax.fax_id, fax.delivery_id, item.trace)
        log.info("read fax routed: %d pages", item.model.page_count, extra=fields)


class TopicAdmin(Protocol):
    def ensure_topics(
        self,
        names: Iterable[str],
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str] | None = None,
    ) -> list[str]: ...


class UserTopics:
    """Creates the destinations that do not exist yet: one admin client for the process, used
    off the event loop, with one request for all the new topics of a batch."""

    def __init__(
        self, admin: TopicAdmin, partitions: int, replication: int, configs: Mapping[str, str]
    ) -> None:
        self.admin, self.partitions, self.replication = admin, partitions, replication
        self.configs = dict(configs)
        self.known: set[str] = set()

    @classmethod
    def of(cls, admin: TopicAdmin, settings: RouterSettings) -> UserTopics:
        """Per-user topics get the configured durability and retention, not broker defaults."""
        configs = {
            "min.insync.replicas": str(settings.router_user_topic_min_insync_replicas),
            "retention.ms": str(settings.router_user_topic_retention_ms),
        }
        partitions = settings.router_user_topic_partitions
        return cls(admin, partitions, settings.kafka_replication_factor, configs)

    async def ensure(self, topics: Iterable[str]) -> None:
        missing = sorted(set(topics) - self.known)
        if missing:
            await asyncio.to_thread(
                self.admin.ensure_topics, missing, self.partitions, self.replication, self.configs
            )
            self.known.update(missing)
