"""The reader's stage: a stored fax read once in a reading process, its text stored next to the
image, and the same record again on a reread; each bad input its reason. Real reading processes
(Tesseract), an in-memory store."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest

from bench.reader import FINE, cer, g4_tiff, render_fax_page
from services.reader.logic import (
    Failure,
    FaxText,
    Reading,
    TextDocument,
    fax_read,
    read_stored,
)
from services.reader.ocr import OcrOptions
from services.reader.pages import Limits
from services.reader.processes import Readers
from shared.contracts import FaxRead, FaxStored, ReadFailed, ReadFailureReason, TextObject
from shared.storage import text_key
from tests.builders import stored
from tests.fakes import FakeStore

TEXT = (
    "Please schedule an MRI of the lumbar spine for Margaret Olsen, chart 00482913. "
    "Call our office at (555) 201-4477 with the date."
)


def pdf_of(text: str) -> bytes:
    page = render_fax_page(text, font="", points=11, resolution=FINE, width_in=6.0)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=204)
    return out.getvalue()


@pytest.fixture(scope="module")
def readers() -> Iterator[Readers]:
    pool = Readers(1, Limits(max_pages=3), OcrOptions())
    yield pool
    pool.close()


class Counting:
    """The readers, counted: a reread must not read again."""

    def __init__(self, readers: Readers) -> None:
        self.readers, self.calls = readers, 0

    async def read(self, data: bytes, timeout_s: float) -> FaxText | Failure:
        self.calls += 1
        return await self.readers.read(data, timeout_s)


def put_image(store: FakeStore, fax: FaxStored, data: bytes) -> None:
    store.objects[fax.stored.key] = data
    store.metadata[fax.stored.key] = {
        "fax-id": str(fax.fax.fax_id),
        "user-id": str(fax.fax.user_id),
    }


async def test_a_fax_is_read_its_text_stored_and_a_reread_yields_the_same_record(
    readers: Readers,
) -> None:
    store, fax = FakeStore(), stored(pages=1)
    put_image(store, fax, pdf_of(TEXT))
    counting = Counting(readers)
    reading = Reading(store, counting, seconds_per_fax=120)  # type: ignore[arg-type]

    first = await read_stored(reading, fax)
    assert isinstance(first, FaxRead), first
    assert cer(TEXT, first.pages[0].text) <= 0.02
    assert (first.page_count, first.reported_pages) == (1, 1)
    assert first.text_object.key == text_key(fax.fax)
    assert first.text_object.key.endswith(f"{fax.fax.fax_id}.text.json")
    document = TextDocument.model_validate_json(store.objects[first.text_object.key])
    assert cer(TEXT, document.pages[0].text) <= 0.02
    assert document.pages[0].words, "word boxes kept"
    assert store.metadata[first.text_object.key]["fax-id"] == str(fax.fax.fax_id)

    again = await read_stored(reading, fax)
    assert again == first
    assert counting.calls == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\n1 0 obj <<>> trunc", ReadFailureReason.CORRUPT),
        (b"II*\x00" + b"\x00" * 40, ReadFailureReason.CORRUPT),
        (b"GIF89a not a fax", ReadFailureReason.UNSUPPORTED_FORMAT),
    ],
)
async def test_a_bad_image_gets_its_reason_and_no_text_object(
    readers: Readers, data: bytes, reason: ReadFailureReason
) -> None:
    store, fax = FakeStore(), stored()
    put_image(store, fax, data)
    outcome = await read_stored(Reading(store, readers, 60), fax)  # type: ignore[arg-type]
    assert isinstance(outcome, ReadFailed)
    assert outcome.reason is reason
    assert text_key(fax.fax) not in store.objects


async def test_too_many_pages_is_refused_before_reading(readers: Readers) -> None:
    page = render_fax_page("page", font="", points=11, resolution=FINE, width_in=6.0)
    store, fax = FakeStore(), stored()
    put_image(store, fax, g4_tiff([page] * 4))  # the limit is 3
    outcome = await read_stored(Reading(store, readers, 60), fax)  # type: ignore[arg-type]
    assert isinstance(outcome, ReadFailed)
    assert outcome.reason is ReadFailureReason.TOO_MANY_PAGES


async def test_a_missing_object_or_one_of_another_fax_is_object_missing(
    readers: Readers,
) -> None:
    store, fax = FakeStore(), stored()
    reading = Reading(store, readers, 60)  # type: ignore[arg-type]
    outcome = await read_stored(reading, fax)
    assert isinstance(outcome, ReadFailed)
    assert outcome.reason is ReadFailureReason.OBJECT_MISSING
    other = stored()
    put_image(store, other, pdf_of(TEXT))
    store.objects[fax.stored.key] = store.objects[other.stored.key]
    store.metadata[fax.stored.key] = store.metadata[other.stored.key]  # another fax's object
    outcome = await read_stored(reading, fax)
    assert isinstance(outcome, ReadFailed)
    assert outcome.reason is ReadFailureReason.OBJECT_MISSING


async def test_a_fax_past_its_time_kills_its_process_and_the_next_fax_is_read() -> None:
    readers = Readers(1, Limits(), OcrOptions())
    try:
        late = await readers.read(pdf_of(TEXT), timeout_s=0.01)
        assert isinstance(late, Failure)
        assert late.reason is ReadFailureReason.FAX_TIMEOUT
        read = await readers.read(pdf_of(TEXT), timeout_s=120)
        assert isinstance(read, FaxText)
        assert cer(TEXT, read.pages[0].text) <= 0.02
    finally:
        readers.close()


async def test_a_long_fax_does_not_hold_a_short_one_behind_it() -> None:
    """Two reading processes: a 1-page fax finishes while a 3-page one is still read."""
    readers = Readers(2, Limits(), OcrOptions())
    page = render_fax_page(TEXT, font="", points=11, resolution=FINE, width_in=6.0)
    try:
        await asyncio.gather(readers.read(b"", 60), readers.read(b"", 60))  # both started
        done: list[str] = []

        async def read(name: str, data: bytes) -> None:
            await readers.read(data, 120)
            done.append(name)

        await asyncio.gather(read("long", g4_tiff([page] * 3)), read("short", g4_tiff([page])))
        assert done == ["short", "long"]
    finally:
        readers.close()


def test_text_past_the_limit_is_cut_into_prefixes_and_flagged() -> None:
    fax = stored(pages=2)
    document = TextDocument.model_validate(
        {
            "fax_id": fax.fax.fax_id,
            "user_id": fax.fax.user_id,
            "image_key": fax.stored.key,
            "image_sha256": fax.stored.sha256,
            "read_at": "2024-05-10T18:00:00Z",
            "pages": [
                {"number": 1, "text": "a" * 60, "confidence": 90, "orientation": 0, "blank": False},
                {
                    "number": 2,
                    "text": "b" * 60,
                    "confidence": 80,
                    "orientation": 180,
                    "blank": False,
                },
                {"number": 3, "text": "", "confidence": 0, "orientation": 0, "blank": True},
            ],
        }
    )
    text_object = TextObject(bucket="faxes", key=text_key(fax.fax), size=999)
    read = fax_read(fax, document, text_object, limit=100)
    assert [len(p.text) for p in read.pages] == [60, 40, 0]
    assert [p.text_truncated for p in read.pages] == [False, True, False]
    assert (read.page_count, read.reported_pages, read.confidence) == (3, 2, 85.0)
    assert read.pages[1].orientation == 180
    assert read.pages[2].blank
