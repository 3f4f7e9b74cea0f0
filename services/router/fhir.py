"""FHIR R4 DocumentReference: one per document found in a read fax, written as JSON against the
spec (http://hl7.org/fhir/R4/documentreference.html) and checked in the tests by HAPI FHIR's
validator. Values read from the fax are JSON-encoded, never templated, and are hints: the
patient is a `subject.display` and an MRN identifier, never a resolved reference."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import uuid
from datetime import date, datetime
from typing import Any

from shared.contracts import DocumentFound, DocumentType, FaxRead, FieldName, FoundField

FHIR_CONTENT_TYPE = "application/fhir+json"
LOINC = "http://loinc.org"
# LOINC document codes where one names the type; the other types have none that fits (a prior
# authorisation, a records request, a claim, a cover sheet, junk): `type.text` alone.
LOINC_CODES: dict[DocumentType, tuple[str, str]] = {
    DocumentType.REFERRAL: ("57133-1", "Referral note"),
    DocumentType.LAB_RESULT: ("11502-2", "Laboratory report"),
    DocumentType.IMAGING_REPORT: ("18748-4", "Diagnostic imaging study"),
    DocumentType.PRESCRIPTION_REFILL: ("57833-6", "Prescription for medication"),
}
TYPE_TEXT: dict[DocumentType, str] = {
    DocumentType.REFERRAL: "Referral",
    DocumentType.LAB_RESULT: "Lab result",
    DocumentType.IMAGING_REPORT: "Imaging report",
    DocumentType.PRIOR_AUTHORIZATION: "Prior authorisation",
    DocumentType.PRESCRIPTION_REFILL: "Prescription or refill request",
    DocumentType.MEDICAL_RECORDS_REQUEST: "Medical records request",
    DocumentType.INSURANCE_CLAIM: "Insurance or claim",
    DocumentType.COVER_SHEET: "Fax cover sheet",
    DocumentType.JUNK: "Junk or marketing",
    DocumentType.OTHER: "Other document",
}
MRN_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
    "text": "Medical record number, as printed on the fax (a hint)",
}
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
UNAVAILABLE = {"", "unavailable"}
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def sha1_base64(data: bytes) -> str:
    """Attachment.hash as FHIR R4 wants it: the base64 of the SHA-1 of the bytes."""
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def fhir_string(value: str) -> str | None:
    """A FHIR string: no control characters but tab and line ends (FHIR's rule), no bidi
    controls (a fax could reorder what a person sees: CVE-2021-42574), not blank."""
    kept = "".join(
        c for c in value if (c >= " " or c in "\t\r\n") and c not in BIDI_CONTROLS
    ).strip()
    return kept or None


def first(document: DocumentFound | None, name: FieldName) -> FoundField | None:
    fields = document.fields if document else []
    return next((f for f in fields if f.name == name), None)


def iso_date(value: str) -> str | None:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def document_type(kind: DocumentType | None) -> dict[str, Any]:
    if kind is None:
        return {"text": "Fax"}
    concept: dict[str, Any] = {"text": TYPE_TEXT[kind]}
    if kind in LOINC_CODES:
        code, display = LOINC_CODES[kind]
        concept["coding"] = [{"system": LOINC, "code": code, "display": display}]
    return concept


def subject(document: DocumentFound) -> dict[str, Any] | None:
    """The patient as the fax names them: a display and an MRN, hints for matching."""
    name, dob, mrn = (
        first(document, FieldName.PATIENT_NAME),
        first(document, FieldName.DOB),
        first(document, FieldName.MRN),
    )
    parts = [fhir_string(name.value) if name else None]
    born = iso_date(dob.value) if dob else None
    if born:
        parts.append(f"born {born}")
    display = ", ".join(p for p in parts if p)
    reference: dict[str, Any] = {}
    mrn_value = fhir_string(mrn.value) if mrn else None
    if mrn_value:
        reference["identifier"] = {"type": MRN_TYPE, "value": mrn_value}
    if display:
        reference["display"] = display
    return {"type": "Patient", **reference} if reference else None


def authors(read: FaxRead, document: DocumentFound | None) -> list[dict[str, Any]]:
    """The sender (the cover sheet's From, else the TSID, else the number), and the ordering or
    referring provider with the NPI when the fax names them."""
    found = first(document, FieldName.FROM)
    candidates = [
        found.value if found else "",
        read.fax.originating_fax_tsid,
        read.fax.sending_fax_number,
    ]
    sender = next(
        (fhir_string(c) for c in candidates if c.strip().lower() not in UNAVAILABLE), None
    )
    listed: list[dict[str, Any]] = [{"display": sender}] if sender else []
    provider, npi = first(document, FieldName.PROVIDER), first(document, FieldName.NPI)
    who: dict[str, Any] = {}
    if npi and npi.value.isdigit() and len(npi.value) == 10:
        who["identifier"] = {"system": NPI_SYSTEM, "value": npi.value}
    named = fhir_string(provider.value) if provider else None
    if named:
        who["display"] = named
    if who:
        listed.append({"type": "Practitioner", **who})
    return listed


def document_reference(
    read: FaxRead, document: DocumentFound | None, *, url: str | None, sha1: str | None
) -> dict[str, Any]:
    """One document of a fax (or, with None, the whole fax) as a DocumentReference."""
    fax_id = read.fax.fax_id
    pages = (document.first_page, document.last_page) if document else (1, read.page_count or 1)
    kind = document.type if document else None
    label = TYPE_TEXT[kind] if kind else "Fax"
    title = f"Fax {fax_id}, pages {pages[0]}-{pages[1]}: {label}"
    narrative = f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(title)}</div>'
    attachment: dict[str, Any] = {
        "contentType": read.stored.content_type,
        "size": read.stored.size,
        "title": title,
        "creation": instant(read.fax.completed_at),
    }
    if url:
        attachment["url"] = url
    if sha1:
        attachment["hash"] = sha1
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "text": {"status": "generated", "div": narrative},
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{fax_id}"},
        "identifier": [
            {
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:uuid:{uuid.uuid5(fax_id, f'pages {pages[0]}-{pages[1]}')}",
            }
        ],
        "status": "current",
        "type": document_type(kind),
        "date": instant(read.fax.completed_at),
        "content": [{"attachment": attachment}],
    }
    written = authors(read, document)
    if written:
        resource["author"] = written
    if document is not None:
        patient = subject(document)
        if patient:
            resource["subject"] = patient
        re_line = first(document, FieldName.RE)
        description = fhir_string(re_line.value) if re_line else None
        if description:
            resource["description"] = description
        served = first(document, FieldName.DATE_OF_SERVICE)
        start = iso_date(served.value) if served else None
        if start:
            resource["context"] = {"period": {"start": start}}
    return resource


def document_references(
    read: FaxRead, *, url: str | None, sha1: str | None
) -> list[dict[str, Any]]:
    """One DocumentReference per document found, or one for the whole fax when none was."""
    documents: list[DocumentFound | None] = list(read.documents) or [None]
    return [document_reference(read, d, url=url, sha1=sha1) for d in documents]


def encoded(resource: dict[str, Any]) -> bytes:
    """JSON, never a template: whatever the fax said stays a JSON string."""
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
