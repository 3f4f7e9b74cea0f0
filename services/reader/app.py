"""Reader: `fax.stored` -> the image from the store -> its text, stored next to it ->
`fax.read` (or `fax.read.failed` with a reason). Delivery never waits for it: the router
announces the received fax from `fax.stored` alone.

Each fax is a task of its own (`shared.stage`), read in a reading process of its own that is
killed past its time: a 50-page fax holds one process, never the 1-page faxes behind it."""

from __future__ import annotations

from functools import partial

from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.reader.logic import Reader, Reading, handle_record
from services.reader.processes import Readers
from services.reader.settings import ReaderSettings
from services.reader.understand import understander
from shared import health
from shared.clients import fax_store
from shared.contracts import FAX_READ, FAX_STORED, READ_FAILED, TOPICS_BY_NAME
from shared.kafka import declare, make_broker
from shared.stage import StageRunner
from shared.storage import FaxStore


def create_app(
    settings: ReaderSettings,
    *,
    broker: KafkaBroker | None = None,
    store: FaxStore | None = None,
    readers: Reader | None = None,
) -> FastStream:
    s = settings
    broker = broker or make_broker(s)
    app = FastStream(broker)
    health.bound_the_stop(app, s.shutdown_timeout_s)  # first: it watches every closer
    health.instrument(broker, s)
    health.refuse_bad_kafka_settings_at_start(app, s)
    health.beat_while_running(app, s)
    health.serve_metrics(app, s)
    health.watch_lag(app, s)
    declare(broker, TOPICS_BY_NAME[FAX_READ], TOPICS_BY_NAME[READ_FAILED])
    # a rules or model file that does not check stops the reader here, naming the fault
    understood = understander(s.reader_rules_path, s.reader_model_path, s.reader_review_threshold)
    runner = StageRunner(
        broker,
        s,
        s.reader_group_id,
        max_in_flight=s.reader_max_in_flight,
        max_uncommitted=s.reader_max_uncommitted,
    )
    runner.subscribe(FAX_STORED, s, s.reader_batch_size)
    app.on_shutdown(runner.stop)

    @app.on_startup
    async def connect() -> None:
        """The store and the reading processes, made once and handed to the runner's work."""
        the_store = store or fax_store(s, threads=s.reader_max_in_flight)
        pool = readers
        if pool is None:
            built = pool = Readers(s.reader_processes, s.limits(), s.ocr_options())
            app.after_shutdown(built.close)  # in a thread, within the bounded stop
            await built.warm()
        reading = Reading(the_store, pool, s.reader_seconds_per_fax, understander=understood)
        runner.begin(partial(handle_record, reading))

    return app
