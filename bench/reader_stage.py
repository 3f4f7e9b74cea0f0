"""`python -m bench reader`: the reader as a stage, against the bare engine on the same pages.

- engine: a loop that opens each fax and calls the same `PageReader` on its pages, in this
  process (wall time): `engine_pages_per_s`, and the CER of `bench.reader`'s corpus per
  resolution (`cer_fine`, `cer_standard`).
- stage: the reader service (one reading process) on a local stack: a backlog of 1-page faxes
  written to the store and announced on `fax.stored` at once, pages/s from the first
  announcement to the last `fax.read` (`pages_per_s`); then 1-page and 10-page faxes at a
  steady rate below capacity, the time from each `fax.stored` to its `fax.read` (`p50_ms`,
  `p99_ms` over both).
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from minio.helpers import DictType
from PIL import Image

from bench.hop import quantile
from bench.reader import FINE, STANDARD, TEXT, Setting, measure, render_fax_page
from faxrelay.localstack import Broker, LocalStack, start_services
from services.reader.ocr import OcrOptions, PageReader
from services.reader.pages import Limits, open_fax
from shared.contracts import (
    FAX_READ,
    FAX_STORED,
    READ_FAILED,
    FaxNotified,
    FaxStored,
    Source,
    StoredObject,
)
from shared.storage import object_key

BUCKET = "faxes-bench"


def pdf(pages: int) -> bytes:
    images: list[Image.Image] = [
        render_fax_page(TEXT, font="", points=11, resolution=FINE, seed=i) for i in range(pages)
    ]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=204, save_all=True, append_images=images[1:])
    return out.getvalue()


def engine_pages_per_s(data: bytes, faxes: int) -> float:
    reader, limits = PageReader(OcrOptions()), Limits()
    pages, started = 0, time.monotonic()
    try:
        for _ in range(faxes):
            fax = open_fax(data, limits)
            for index in range(fax.page_count):
                reader.read(index, fax.page(index).image, limits.dpi)
                pages += 1
            fax.close()
    finally:
        reader.close()
    return pages / (time.monotonic() - started)


def stored_fax(stack: LocalStack, data: bytes, pages: int) -> FaxStored:
    fax = FaxNotified(
        fax_id=uuid.uuid4(),
        app_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        source=Source.WEBHOOK,
        completed_at=datetime.now(UTC),
        pages=pages,
    )
    key = object_key(fax, "PDF")
    meta: DictType = {"fax-id": str(fax.fax_id), "user-id": str(fax.user_id)}
    stack.minio().put_object(
        BUCKET, key, io.BytesIO(data), len(data), "application/pdf", metadata=meta
    )
    stored = StoredObject(
        bucket=BUCKET, key=key, size=len(data), sha256="", content_type="application/pdf"
    )
    return FaxStored(fax=fax, stored=stored)


async def run_stage(
    stack: LocalStack, backlog: list[FaxStored], steady: list[FaxStored], rate: float
) -> tuple[float, list[float]]:
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        FAX_READ, READ_FAILED, bootstrap_servers=stack.bootstrap_servers,
        auto_offset_reset="earliest", group_id=f"bench-{uuid.uuid4().hex}",
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers)
    await consumer.start()
    await producer.start()

    arrived = asyncio.Event()

    async def collect() -> None:
        async for record in consumer:
            done.setdefault(json.loads(record.value or b"")["fax"]["fax_id"], time.monotonic())
            arrived.set()

    collector = asyncio.create_task(collect())

    async def announce(fax: FaxStored) -> None:
        fax_id = str(fax.fax.fax_id)
        sent[fax_id] = time.monotonic()
        await producer.send_and_wait(FAX_STORED, fax.model_dump_json().encode(), fax_id.encode())

    async def all_done(faxes: list[FaxStored]) -> None:
        while not all(str(f.fax.fax_id) in done for f in faxes):
            await arrived.wait()
            arrived.clear()

    try:
        await asyncio.gather(*(announce(f) for f in backlog))
        first = min(sent.values())
        await all_done(backlog)
        pages = sum(f.fax.pages or 0 for f in backlog)
        pages_per_s = pages / (max(done[str(f.fax.fax_id)] for f in backlog) - first)
        for fax in steady:
            await announce(fax)
            await asyncio.sleep(1 / rate)
        await all_done(steady)
        latencies = sorted(
            1000 * (done[str(f.fax.fax_id)] - sent[str(f.fax.fax_id)]) for f in steady
        )
    finally:
        collector.cancel()
        await producer.stop()
        await consumer.stop()
    return pages_per_s, latencies


def main(broker: Broker, backlog: int, steady: int, rate: float) -> None:
    one, ten = pdf(1), pdf(10)
    setting = Setting("installed", "", 3, 204.0, "auto")
    engine = engine_pages_per_s(one, max(3, backlog // 2))
    cer_fine, cer_standard = measure(setting, FINE)["cer"], measure(setting, STANDARD)["cer"]
    with tempfile.TemporaryDirectory(prefix="faxrelay-bench-") as tmp:
        stack = LocalStack(Path(tmp), persistent=False, broker=broker)
        try:
            stack.start()
            stack.ensure_topics(partitions=3)
            stack.minio().make_bucket(BUCKET)
            env = {"FAXRELAY_S3_BUCKET": BUCKET, "FAXRELAY_READER_PROCESSES": "1"}
            start_services(stack, env, services=["reader"])
            faxes = [stored_fax(stack, one, 1) for _ in range(backlog)]
            mixed = [stored_fax(stack, ten if i % 5 == 4 else one, 10 if i % 5 == 4 else 1)
                     for i in range(steady)]  # fmt: skip
            pages_per_s, latencies = asyncio.run(run_stage(stack, faxes, mixed, rate))
        finally:
            stack.stop()
    print(f"\nreader on {broker}: engine alone {engine:.2f} pages/s, stage {pages_per_s:.2f}")
    print(f"(overhead ratio {pages_per_s / engine:.2f}); stored -> read over {steady} faxes at")
    print(f"{rate:g}/s (one in five of 10 pages): p50 {quantile(latencies, 0.5):.0f} ms, "
          f"p99 {quantile(latencies, 0.99):.0f} ms")  # fmt: skip
    print(
        f"reader summary: pages_per_s={pages_per_s:.3f} engine_pages_per_s={engine:.3f} "
        f"cer_fine={cer_fine:.4f} cer_standard={cer_standard:.4f} "
        f"p50_ms={quantile(latencies, 0.5):.0f} p99_ms={quantile(latencies, 0.99):.0f}"
    )
