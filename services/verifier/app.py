"""Verifier: `fax.webhook.received` -> `fax.notified`, or a reasoned rejection kept for audit."""

import asyncio
import logging

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage

from services.verifier.logic import DuplicateWindow, decide
from services.verifier.settings import VerifierSettings
from shared.contracts import CORRELATION_HEADER, WEBHOOK_RECEIVED
from shared.health import supervised
from shared.kafka import (
    Outgoing,
    Transactions,
    batch_options,
    header,
    make_broker,
    propagated,
    records,
    run_all,
)

settings = VerifierSettings()
broker = make_broker(settings)
app = supervised(FastStream(broker), settings)

secrets_by_app = {
    str(a.app_id): [s.get_secret_value().encode() for s in a.hmac_secrets] for a in settings.apps
}
window = DuplicateWindow(
    settings.verifier_duplicate_window_s, settings.verifier_duplicate_window_size
)
api_base = str(settings.efax_api_base_url)
transactions = (
    Transactions(settings, settings.verifier_group_id) if settings.kafka_exactly_once else None
)


@app.after_shutdown
async def close_transactions() -> None:
    if transactions is not None:
        await transactions.close()


@broker.subscriber(
    WEBHOOK_RECEIVED,
    **batch_options(settings, settings.verifier_group_id, settings.verifier_batch_size),
)
async def on_webhook_received(bodies: list[bytes], message: KafkaMessage) -> None:
    in_batch: set[str] = set()
    batch = records(message)
    outcomes = [decide(r.value or b"", secrets_by_app, api_base, window, in_batch) for r in batch]
    if transactions is not None:
        await transactions.commit_batch(
            (
                record,
                [
                    Outgoing(
                        outcome.topic,
                        outcome.message.model_dump_json().encode(),
                        outcome.key.encode() if outcome.key else None,
                        propagated(record),
                    )
                ],
            )
            for outcome, record in zip(outcomes, batch, strict=True)
        )
        for outcome in outcomes:
            window.remember(*outcome.remember)
        return
    await run_all(
        (
            broker.publish(
                outcome.message.model_dump_json().encode(),
                outcome.topic,
                key=outcome.key.encode() if outcome.key else None,
                correlation_id=header(record, CORRELATION_HEADER),
                headers=propagated(record),
            )
            for outcome, record in zip(outcomes, batch, strict=True)
        )
    )
    for outcome in outcomes:
        window.remember(*outcome.remember)


def main() -> None:
    logging.basicConfig(level=settings.log_level)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
