"""The reader on the real stack: sandbox faxes with known text are read into a second event on
the owner's topic and into a text object next to the image; delivery never waits for reading;
bad images get their reason and are still delivered; a reader killed mid-fax loses nothing."""

from __future__ import annotations

import io
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from kafka import KafkaProducer
from minio.helpers import DictType

from bench.reader import cer
from shared.contracts import (
    FAX_READ,
    FAX_READ_EVENT_TYPE,
    FAX_RECEIVED_EVENT_TYPE,
    FAX_STORED,
    READ_FAILED,
    FaxNotified,
    FaxStored,
    Source,
    StoredObject,
)
from shared.storage import object_key, text_key
from tests.e2e.conftest import (
    BOTH_BROKERS,
    System,
    read_topic,
    wait_for_progress,
    wait_until,
)
from tests.e2e.test_walking_skeleton import decode_events
from tests.pdfs import SCRIPT, encrypted_pdf, pdf_bytes

pytestmark = pytest.mark.e2e
# The right text was read: the share of the truth's words (as a multiset, order-free) found in
# what was read. Order-free because OCR reads a form's labels and values as two columns, which
# character error rate counts as wrong (CER over 0.10 on 17 % of the fine sandbox faxes since
# the corpus grew forms and tables). On 240 sandbox faxes read (`python -m bench understand`'s
# cache, 2026-12-08) a fax's own words were found at 0.71-0.97 (median 0.89 fine, 0.79
# standard), another fax's at most 0.58. Quality is measured by `python -m bench reader`.
WORDS_FOUND_BOUND = 0.65


def words_found(truth: str, read: str) -> float:
    want, got = Counter(truth.split()), Counter(read.split())
    return sum((want & got).values()) / max(1, sum(want.values()))


@pytest.fixture(scope="module")
def reading(system: System) -> Iterator[System]:
    """The session's system with the reader running (it runs without: see conftest)."""
    system.stack.start_service("reader", system.env)
    yield system
    system.stack.stop_process("reader")


def events_of(system: System, user: str, count: int, stall_s: float = 240) -> list:
    """The user's first `count` events, waiting as long as the reader makes progress (its log
    grows as it reads: a loaded machine reads slowly, a stuck reader fails after `stall_s`)."""
    records: list[object] = []
    log = system.stack.log_file("reader")

    def enough() -> bool:
        topic = f"faxes.user.{user}"
        records[:] = read_topic(system.stack.bootstrap_servers, topic, at_least=count, timeout=5)
        return len(records) >= count

    def progress() -> tuple[int, int]:
        return len(records), log.stat().st_size if log.exists() else 0

    wait_for_progress(enough, progress=progress, stall_s=stall_s, message=f"{count} events")
    return decode_events(records)


def page_texts(system: System, fax_id: str) -> list[str]:
    truth = system.sandbox.truth(fax_id)
    assert truth is not None
    return [page["text"] for page in truth["pages"]]


@BOTH_BROKERS
def test_documents_are_read_into_a_second_event_and_a_text_object(reading: System) -> None:
    system = reading
    (user,) = system.take_users(1)
    faxes = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=2, pages=2, content="documents"
    )
    events = events_of(system, user, 4)
    by_type: dict[str, dict[str, object]] = {}
    for event in events:
        by_type.setdefault(event.get_type(), {})[event.get_id()] = event
    assert set(by_type[FAX_RECEIVED_EVENT_TYPE]) == {f.fax_id for f in faxes}
    assert set(by_type[FAX_READ_EVENT_TYPE]) == {f"{f.fax_id}.read" for f in faxes}
    for fax in faxes:
        event = by_type[FAX_READ_EVENT_TYPE][f"{fax.fax_id}.read"]
        data = event.get_data()  # type: ignore[attr-defined]
        assert event.get_subject() == fax.fax_id  # type: ignore[attr-defined]
        assert (data["page_count"], data["reported_pages"]) == (2, 2)
        truth = page_texts(system, fax.fax_id)
        read = [page["text"] for page in data["pages"]]
        found = words_found("\n".join(truth), "\n".join(read))
        error = cer("\n".join(truth), "\n".join(read))
        print(f"fax {fax.fax_id}: words found {found:.3f}, CER {error:.4f}")  # shown with -s
        assert found >= WORDS_FOUND_BOUND, f"fax {fax.fax_id}: words found {found:.3f}"
        assert all(0 < page["confidence"] <= 100 for page in data["pages"])
        assert {page["orientation"] for page in data["pages"]} == {0}
        # The full text, stored next to the image, and served by the event's link.
        assert data["text_object"]["key"] == data["document"]["key"].replace(".pdf", ".text.json")
        stored = httpx.get(data["text_url"], timeout=30)
        assert stored.status_code == 200
        document = stored.json()
        assert [p["text"] for p in document["pages"]] == read
        assert document["pages"][0]["words"], "word boxes"
    # The text is PHI: the logs carry counts and ids, never a line of a fax.
    logs = system.stack.log_file("reader").read_text() + system.stack.log_file("router").read_text()
    lines = [line for f in faxes for t in page_texts(system, f.fax_id) for line in t.split("\n")]
    sentences = [line for line in lines if len(line) >= 20]
    assert sentences
    assert not [line for line in sentences if line in logs]


@BOTH_BROKERS
def test_a_fax_of_several_documents_is_read_split_and_typed(reading: System) -> None:
    system = reading
    (user,) = system.take_users(1)
    faxes = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=3, pages=5, content="documents"
    )
    events = [e for e in events_of(system, user, 6) if e.get_type() == FAX_READ_EVENT_TYPE]
    split = 0
    for event in events:
        data = event.get_data()  # type: ignore[attr-defined]
        truth = system.sandbox.truth(data["fax_id"])
        assert truth is not None
        expected = [(d["first_page"], d["last_page"], d["type"]) for d in truth["documents"]]
        found = [(d["first_page"], d["last_page"], d["type"]) for d in data["documents"]]
        assert found == expected, data["fax_id"]
        main = next((t for _, _, t in expected if t != "cover_sheet"), expected[0][2])
        assert data["document_type"] == main
        assert all(0 <= d["confidence"] <= 1 for d in data["documents"])
        split += len(expected) > 1
    assert len(events) == len(faxes)
    # the record the router announced it from says what typed it
    records = read_topic(system.stack.bootstrap_servers, FAX_READ, at_least=1, timeout=5)
    reads = [json.loads(r.value) for r in records]  # type: ignore[attr-defined]
    mine = [r for r in reads if r["fax"]["fax_id"] in {f.fax_id for f in faxes}]
    assert mine
    assert {r["understood_by"] for r in mine} == {"rules"}
    assert split >= 1, "a fax of several documents (each fax is, but for a 5-page junk mailing)"


@BOTH_BROKERS
def test_the_received_event_does_not_wait_for_a_stopped_reader(reading: System) -> None:
    system = reading
    (user,) = system.take_users(1)
    system.stack.stop_process("reader")
    try:
        (fax,) = system.sandbox.create_faxes(
            app_id=system.account.app_id, user_id=user, count=1, content="documents"
        )
        (received,) = events_of(system, user, 1, stall_s=120)
        assert received.get_type() == FAX_RECEIVED_EVENT_TYPE
        assert received.get_id() == fax.fax_id
    finally:
        system.stack.start_service("reader", system.env)
    # Nothing was lost: started again, the reader reads what it missed.
    types = [e.get_type() for e in events_of(system, user, 2)]
    assert sorted(types) == sorted([FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE])


def pdf_without_pages() -> bytes:
    out = io.BytesIO()
    pdfium.PdfDocument.new().save(out)
    return out.getvalue()


def pdf_with_a_huge_page() -> bytes:
    """One page of 30,000 x 30,000 pixels at the reader's 204 dpi (a decompression bomb)."""
    document = pdfium.PdfDocument.new()
    document.new_page(30_000 * 72 / 204, 30_000 * 72 / 204)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


BAD_IMAGES = {
    "corrupt": b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrunc",
    "no_pages": pdf_without_pages(),
    "page_too_large": pdf_with_a_huge_page(),
    "unsupported_format": b"GIF89a" + bytes(200),
    "encrypted": encrypted_pdf(),
    "active_content": pdf_bytes(catalog=SCRIPT),
    "too_many_pages": pdf_bytes(pages=500),
}


def store_and_announce(system: System, user: str, data: bytes) -> FaxStored:
    """What the downloader does for a fax eFax served as `data`: the object, with the metadata
    the downloader writes, and its fax.stored record."""
    fax = FaxNotified(
        fax_id=uuid.uuid4(),
        app_id=uuid.UUID(system.account.app_id),
        user_id=uuid.UUID(user),
        source=Source.WEBHOOK,
        completed_at=datetime.now(UTC),
        pages=1,
    )
    key = object_key(fax, "PDF")
    metadata: DictType = {"fax-id": str(fax.fax_id), "user-id": str(fax.user_id)}
    store = system.stack.minio()
    if not store.bucket_exists(system.bucket):  # run alone, before any fax made the bucket
        store.make_bucket(system.bucket)
    store.put_object(
        system.bucket, key, io.BytesIO(data), len(data), "application/pdf", metadata=metadata
    )
    stored = FaxStored(
        fax=fax,
        stored=StoredObject(
            bucket=system.bucket, key=key, size=len(data), sha256="", content_type="application/pdf"
        ),
    )
    producer = KafkaProducer(bootstrap_servers=system.stack.bootstrap_servers)
    try:
        producer.send(FAX_STORED, stored.model_dump_json().encode(), key=str(fax.fax_id).encode())
        producer.flush(30)
    finally:
        producer.close()
    return stored


@BOTH_BROKERS
def test_each_bad_image_gets_its_reason_and_its_fax_is_still_delivered(reading: System) -> None:
    system = reading
    users = system.take_users(len(BAD_IMAGES))
    sent = {
        reason: store_and_announce(system, user, data)
        for (reason, data), user in zip(BAD_IMAGES.items(), users, strict=True)
    }
    failed: dict[str, str] = {}

    def all_failed() -> bool:
        records = read_topic(system.stack.bootstrap_servers, READ_FAILED, at_least=1, timeout=5)
        for record in records:
            value = json.loads(record.value)  # type: ignore[attr-defined]
            failed[value["fax"]["fax_id"]] = value["reason"]
        return all(str(s.fax.fax_id) in failed for s in sent.values())

    wait_until(all_failed, 180, "every bad image on fax.read.failed", progress=lambda: len(failed))
    for reason, stored in sent.items():
        assert failed[str(stored.fax.fax_id)] == reason
        (event,) = events_of(system, str(stored.fax.user_id), 1, stall_s=60)
        assert event.get_type() == FAX_RECEIVED_EVENT_TYPE  # delivered, and no read event
        assert text_key(stored.fax) not in {
            o.object_name for o in system.stack.minio().list_objects(system.bucket, recursive=True)
        }


@BOTH_BROKERS
def test_a_reader_killed_mid_fax_loses_nothing(reading: System) -> None:
    system = reading
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, pages=6, content="documents"
    )
    events_of(system, user, 1, stall_s=120)  # stored and delivered: the reader has it now
    time.sleep(1.0)  # into its pages (6 pages take several seconds)
    system.stack.stop_process("reader", sig=signal.SIGKILL)
    system.stack.start_service("reader", system.env)
    events = events_of(system, user, 2)
    reads = [e for e in events if e.get_type() == FAX_READ_EVENT_TYPE]
    assert reads, "the fax was read after the restart"
    assert {e.get_id() for e in reads} == {f"{fax.fax_id}.read"}
    links = ("text_url", "text_url_expires_at")  # signed at each sending
    same = {json.dumps({k: v for k, v in e.get_data().items() if k not in links}) for e in reads}
    assert len(same) == 1  # one read, however often it was announced
    records = read_topic(system.stack.bootstrap_servers, FAX_READ, at_least=1, timeout=5)
    mine = [r for r in records if json.loads(r.value)["fax"]["fax_id"] == fax.fax_id]  # type: ignore[attr-defined]
    assert mine
