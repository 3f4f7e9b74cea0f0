"""Once a fax is read, who gets what was read: the read event, or FHIR R4 DocumentReferences
where a rule asks (and, when users wait for reading, the received event too)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from services.router.fhir import FHIR_CONTENT_TYPE, document_references, encoded, sha1_base64
from services.router.logic import (
    Presign,
    Routing,
    UserTopics,
    fax_received_event,
    genuine,
    log,
    stored_topics,
)
from services.router.rules import deliveries, user_topic
from shared.contracts import (
    FAX_DOCUMENT_FHIR_EVENT_TYPE,
    FAX_READ_EVENT_TYPE,
    FaxRead,
    FaxReadData,
    FaxStored,
    ReadFailed,
    read_event_id,
)
from shared.kafka import Decision, Outgoing, Parsed
from shared.logs import fax_fields
from shared.metrics import (
    READ_EVENTS_ROUTED,
)
from shared.storage import ExistingObject, object_keys, text_key
from shared.tracing import traced


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
