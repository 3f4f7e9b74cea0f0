"""What the router emits as FHIR passes HAPI FHIR's validator (the base R4 profiles, offline):
every document type, patient and provider hints, hostile text, a fax with no document found,
and links turned off. Runs Java: `tools` lane (make test), not the fast lane."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from services.router.app import create_app
from services.router.settings import RouterSettings
from shared.contracts import (
    FAX_DOCUMENT_FHIR_EVENT_TYPE,
    FAX_READ,
    DocumentType,
    FaxRead,
    FaxStored,
)
from tests.fakes import Collector, FakeAdmin, running
from tests.fhir.validator import validate
from tests.reads import document, holding, read_of, stored_image

pytestmark = pytest.mark.tools

HOSTILE = 'Jane "}]} </div><script>alert(1)</script>\x00\x1b\u202e ünïcødé 患者'


def reads() -> list[FaxRead]:
    every_type = [
        document(kind, 0.9, (n, n), patient_name="Jane Example", dob="1960-01-02", mrn="A-1")
        for n, kind in enumerate(DocumentType, start=1)
    ]
    full = document(
        DocumentType.REFERRAL,
        0.97,
        (1, 3),
        patient_name="Jane  Example",
        dob="1960-01-02",
        mrn="MRN-0042",
        npi="1234567893",
        provider="Dr. Ann Smith",
        date_of_service="2026-03-04",
        **{"from": "Valley Clinic", "re": "Referral for cardiology"},
    )
    hostile = document(
        DocumentType.LAB_RESULT,
        0.5,
        (1, 1),
        needs_review=True,
        patient_name=HOSTILE,
        mrn=HOSTILE,
        provider=HOSTILE,
        dob="not a date",
        date_of_service="31/12/2026",
        **{"from": HOSTILE, "re": HOSTILE},
    )
    blank = document(DocumentType.OTHER, 0.2, (1, 1), patient_name=" \x00 ", mrn="\x01")
    return [
        read_of(stored_image(), *every_type),
        read_of(stored_image(), full),
        read_of(stored_image(), hostile),
        read_of(stored_image(), blank),
        read_of(stored_image(originating_fax_tsid="unavailable", sending_fax_number="")),
    ]


async def emitted(rules: Path, **settings: Any) -> list[bytes]:
    """The FHIR records the router writes for `reads()`, run in memory end to end."""
    batch = reads()
    broker = KafkaBroker()
    store = holding(*(FaxStored(fax=r.fax, stored=r.stored) for r in batch))
    service = create_app(
        RouterSettings(router_rules_file=rules, **settings),
        broker=broker,
        store=store,  # type: ignore[arg-type]
        admin=FakeAdmin(),
    )
    out = Collector(broker, "faxes.fhir")
    async with running(service, broker) as br:
        for read in batch:
            await br.publish(read.model_dump_json().encode(), FAX_READ)
    return [s.value for s in out.sent if s.headers["ce_type"] == FAX_DOCUMENT_FHIR_EVENT_TYPE]


async def test_every_document_reference_the_router_emits_is_valid_fhir_r4(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: all, topics: [faxes.fhir], format: fhir}\n")
    values = await emitted(rules) + await emitted(rules, router_presign_expiry_s=0)
    assert len(values) == 2 * (len(DocumentType) + 4)
    files = []
    for n, value in enumerate(values):
        resource = json.loads(value)  # hostile text never broke the JSON
        assert resource["resourceType"] == "DocumentReference"
        files.append(tmp_path / f"document-{n}.json")
        files[-1].write_bytes(value)
    messages = validate(files)
    problems = [m for m in messages if m.severity in ("ERROR", "FATAL", "WARNING")]
    assert problems == [], "\n".join(f"{m.file}: {m.location}: {m.text}" for m in problems)
