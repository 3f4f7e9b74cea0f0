"""Who gets a stored fax, and the CloudEvent they get (what was read goes out by reads.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from services.router.rules import Rules, check_topic_template, deliveries, load_rules, user_topic
from services.router.settings import RouterSettings
from shared.contracts import (
    FAX_RECEIVED_EVENT_TYPE,
    FaxReceivedData,
    FaxStored,
)
from shared.kafka import Decision, Outgoing, Parsed
from shared.logs import fax_fields
from shared.metrics import (
    EVENTS_ROUTED,
    FAX_AGE_AT_ROUTING_SECONDS,
    FAXES_ROUTED,
    STORED_REFUSED,
)
from shared.storage import ExistingObject, object_keys
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
