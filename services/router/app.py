"""Router: `fax.stored` -> one CloudEvent per destination (the user's topic and rule topics)."""

import asyncio
import logging
from datetime import timedelta
from functools import partial

from aiokafka import ConsumerRecord
from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from services.router.logic import (
    Rules,
    check_topic_template,
    destinations,
    fax_received_event,
    load_rules,
)
from services.router.settings import RouterSettings
from shared.contracts import FAX_STORED, FaxStored, now_utc
from shared.health import supervised
from shared.kafka import (
    KafkaAdmin,
    Outgoing,
    Transactions,
    batch_options,
    make_broker,
    propagated,
    records,
    run_all,
)
from shared.storage import FaxStore, make_minio

log = logging.getLogger("faxrelay.router")

settings = RouterSettings()
template = check_topic_template(settings.router_user_topic_template)
rules = load_rules(settings.router_rules_file) if settings.router_rules_file else Rules()
broker = make_broker(settings)
app = supervised(FastStream(broker), settings)
store = FaxStore(make_minio(settings), settings.s3_bucket)
expiry = timedelta(seconds=settings.router_presign_expiry_s)
known_topics: set[str] = set()
transactions = (
    Transactions(settings, settings.router_group_id) if settings.kafka_exactly_once else None
)


@app.after_shutdown
async def close_transactions() -> None:
    if transactions is not None:
        await transactions.close()


async def ensure_topics(topics: list[str]) -> None:
    missing = [t for t in topics if t not in known_topics]
    if missing:
        admin = KafkaAdmin(settings)
        try:
            await asyncio.to_thread(
                partial(
                    admin.ensure_topics,
                    missing,
                    settings.router_user_topic_partitions,
                    settings.kafka_replication_factor,
                )
            )
        finally:
            admin.close()
        known_topics.update(missing)


async def events(fax: FaxStored, trace: dict[str, str]) -> list[Outgoing]:
    topics = destinations(fax, rules, template)
    await ensure_topics(topics)
    presign = store.presigned_url if expiry.total_seconds() > 0 else None
    event = fax_received_event(fax, settings.router_event_source, trace, presign, expiry, now_utc())
    headers = {**trace, **{k: v.decode() for k, v in event.headers.items()}}
    return [Outgoing(t, event.value, str(fax.fax.user_id).encode(), headers) for t in topics]


async def route(fax: FaxStored, trace: dict[str, str]) -> None:
    await run_all(
        broker.publish(o.value, o.topic, key=o.key, headers=dict(o.headers))
        for o in await events(fax, trace)
    )


@broker.subscriber(
    FAX_STORED, **batch_options(settings, settings.router_group_id, settings.router_batch_size)
)
async def on_fax_stored(bodies: list[bytes], message: KafkaMessage) -> None:
    if transactions is not None:
        await transactions.commit_batch(
            [(record, await events_of(record)) for record in records(message)]
        )
        return
    work = []
    for record in records(message):
        try:
            fax = FaxStored.model_validate_json(record.value or b"")
        except ValidationError:
            log.error("skipping an unreadable record at offset %s", record.offset)
            continue
        work.append(route(fax, propagated(record)))
    await run_all(work)


async def events_of(record: ConsumerRecord[bytes, bytes]) -> list[Outgoing]:
    try:
        fax = FaxStored.model_validate_json(record.value or b"")
    except ValidationError:
        log.error("skipping an unreadable record at offset %s", record.offset)
        return []
    return await events(fax, propagated(record))


def main() -> None:
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
