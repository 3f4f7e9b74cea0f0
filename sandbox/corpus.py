"""Healthcare fax documents with known content: what each page says, not how it looks.

``compose(seed, pages)`` fills a fax of ``pages`` pages with documents (a cover sheet, a
referral, lab results, ...), each written from varied wording and laid out as a letter, a form
or a table, with synthetic people and numbers: names drawn from common given names and
surnames, phone and fax numbers in the fictional 555-01xx range, NPIs with a valid Luhn check
digit. The same seed gives the same fax. ``sandbox.render`` draws the blocks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from sandbox.wording import (
    CONFIDENTIAL,
    DIAGNOSES,
    DRUGS,
    FINDINGS,
    FONTS,
    HISTORY,
    JUNK_OFFERS,
    JUNK_PITCHES,
    JUSTIFICATION,
    LABS,
    PLACES,
    PLANS,
    RECORDS_ASK,
    REFERRAL_CLOSE,
    REFERRAL_OPENING,
    REFERRAL_REASON,
    Writer,
    luhn_digit,
    npi_valid,
)

__all__ = ["Document", "compose", "luhn_digit", "npi_valid"]

DocType = Literal[
    "cover_sheet",
    "referral",
    "lab_result",
    "imaging_report",
    "prior_authorization",
    "prescription_refill",
    "medical_records_request",
    "junk",
]
Style = Literal["title", "heading", "body", "bold", "small"]
Align = Literal["left", "center", "right"]


@dataclass(frozen=True)
class Text:
    text: str
    style: Style = "body"
    align: Align = "left"


@dataclass(frozen=True)
class Para:
    """Body text wrapped to the page width."""

    text: str


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Gap:
    lines: float = 1.0


@dataclass(frozen=True)
class Rule:
    pass


Block = Text | Para | Field | Table | Gap | Rule


@dataclass
class Document:
    type: DocType
    layout: Literal["letter", "form", "table"]
    font: str
    body_px: int
    fields: dict[str, str]
    pages: list[list[Block]] = field(default_factory=list)


def _letterhead(w: Writer, sender: str, phone: str, fax: str) -> list[Block]:
    return [
        Text(sender, "title", w.rng.choice(["left", "center"])),
        Text(w.address(), "small", "left"),
        Text(f"Phone {phone}   Fax {fax}", "small", "left"),
        Rule(),
    ]


def _patient_block(w: Writer, f: dict[str, str], names: tuple[str, str, str]) -> list[Block]:
    dob = w.printed(date.fromisoformat(f["dob"]))
    return [Field(names[0], f["patient_name"]), Field(names[1], dob), Field(names[2], f["mrn"])]


def cover_sheet(w: Writer, fax_pages: int) -> Document:
    sender, recipient = w.practice(), w.pick(["Intake", "Medical Records", "Referrals", "Billing"])
    f = {
        "to": f"{recipient}, {w.practice()}",
        "from": sender,
        "re": w.pick("Referral|Lab results|Records request|Prior authorization|Refill request"),
        "pages_stated": str(fax_pages),
        "phone": w.phone(),
        "fax": w.phone(),
        "date": w.day(date(2025, 1, 1), 700).isoformat(),
    }
    title = w.pick("FAX|Fax Cover Sheet|FACSIMILE TRANSMITTAL|Confidential Fax")
    blocks: list[Block] = [Text(title, "title", "center"), Gap(), Rule()]
    labels = {
        "to": w.pick("To|Attn"),
        "from": "From",
        "date": "Date",
        "phone": w.pick("Phone|Tel"),
        "fax": w.pick("Fax|Fax number"),
        "re": w.pick("Re|Subject|Regarding"),
        "pages_stated": w.pick("Pages|Number of pages|Pages including cover"),
    }
    for key, label in labels.items():
        value = w.printed(date.fromisoformat(f[key])) if key == "date" else f[key]
        blocks.append(Field(label, value))
    blocks += [Gap(), Para(w.pick(CONFIDENTIAL))]
    return Document("cover_sheet", "form", "", 0, f, [blocks])


def referral(w: Writer, pages: int) -> Document:
    f = w.patient()
    doctor, npi, sender = w.doctor(), w.npi(), w.practice()
    code, diagnosis = w.rng.choice(DIAGNOSES)
    seen = w.day(date(2025, 1, 1), 700)
    f |= {"provider": doctor, "npi": npi, "date_of_service": seen.isoformat()}
    name, seen_text = f["patient_name"], w.printed(seen)
    first: list[Block] = [
        *_letterhead(w, sender, w.phone(), w.phone()),
        Text(w.printed(seen + timedelta(days=w.rng.randint(0, 5)))),
        Gap(),
        Text(w.pick(["Re: Referral for ", "Referral: ", "RE: New patient referral - "]) + name),
        *_patient_block(w, f, ("Patient", "DOB", w.pick(["MRN", "Chart #"]))),
        Gap(),
        Text(w.pick(["Dear Colleague,", "Dear Doctor,", "To the specialist on call,"])),
        Para(w.pick(REFERRAL_OPENING).format(name=name, seen=seen_text, dx=diagnosis, code=code)),
        Para(w.pick(REFERRAL_REASON)),
        Para(_history(w)),
    ]
    close: list[Block] = [
        Para(w.pick(REFERRAL_CLOSE)),
        Gap(),
        Text(doctor, "bold"),
        Text(f"NPI {npi}", "small"),
    ]
    return Document("referral", "letter", "", 0, f, _spread(w, f, first, close, pages))


def _spread(
    w: Writer, f: dict[str, str], first: list[Block], close: list[Block], pages: int
) -> list[list[Block]]:
    """A letter over ``pages`` pages: history paragraphs fill the pages between."""
    if pages == 1:
        return [first + close]
    out = [first]
    for n in range(2, pages + 1):
        head: list[Block] = [
            Text(f"{f['patient_name']}  DOB {w.printed(date.fromisoformat(f['dob']))}", "small"),
            Text(f"Page {n} of {pages}", "small", "right"),
            Rule(),
        ]
        body = [Para(_history(w)) for _ in range(w.rng.randint(2, 4))]
        out.append(head + body + (close if n == pages else []))
    return out


def _history(w: Writer) -> str:
    return " ".join(w.rng.sample(HISTORY, k=4))


def lab_result(w: Writer, pages: int) -> Document:
    f = w.patient()
    collected = w.day(date(2025, 1, 1), 700)
    doctor, npi = w.doctor(), w.npi()
    f |= {"provider": doctor, "npi": npi, "date_of_service": collected.isoformat()}
    lab = f"{w.pick(PLACES)} {w.pick(['Laboratories', 'Clinical Lab', 'Diagnostics'])}"
    title = w.pick(["LABORATORY REPORT", "Lab Results", "Final Report", "CLINICAL LAB RESULTS"])
    out: list[list[Block]] = []
    tests = w.rng.sample(LABS, k=len(LABS))
    for n in range(1, pages + 1):
        blocks: list[Block] = [Text(lab, "title", "center"), Text(title, "heading", "center")]
        blocks += _patient_block(w, f, ("Patient", "Date of birth", "MRN"))
        blocks += [
            Field(w.pick(["Collected", "Collection date"]), w.printed(collected)),
            Field(w.pick(["Ordering provider", "Ordered by"]), f"{doctor} (NPI {npi})"),
            Gap(),
        ]
        rows = []
        for name, unit, low, high in tests[(n - 1) * 6 : n * 6] or tests[:6]:
            value = round(w.rng.uniform(low * 0.7, high * 1.3 + 1), 1)
            flag = "H" if value > high else "L" if value < low else ""
            rows.append([name, f"{value}", unit, f"{low}-{high}", flag])
        blocks.append(Table(["Test", "Result", "Units", "Reference", "Flag"], rows))
        blocks += [Gap(), Text(f"Page {n} of {pages}", "small", "right")]
        out.append(blocks)
    return Document("lab_result", "table", "", 0, f, out)


def imaging_report(w: Writer, pages: int) -> Document:
    f = w.patient()
    exam = w.pick(["Chest X-ray, 2 views", "MRI lumbar spine", "CT abdomen", "Ultrasound, right"])
    when = w.day(date(2025, 1, 1), 700)
    doctor, npi = w.doctor(), w.npi()
    f |= {"provider": doctor, "npi": npi, "date_of_service": when.isoformat()}
    first: list[Block] = [
        Text(w.pick(["RADIOLOGY REPORT", "Imaging Report", "DIAGNOSTIC IMAGING"]), "title"),
        Rule(),
        *_patient_block(w, f, ("Name", "DOB", "Patient ID")),
        Field("Exam", exam),
        Field("Date of exam", w.printed(when)),
        Field("Referring physician", doctor),
        Gap(),
        Text("FINDINGS", "heading"),
        Para(_findings(w)),
        Text("IMPRESSION", "heading"),
        Para(
            w.pick(["No acute abnormality.", "Mild degenerative change.", "Findings are stable."])
        ),
    ]
    close: list[Block] = [Gap(), Text(f"Electronically signed by {w.doctor()}", "small")]
    return Document("imaging_report", "letter", "", 0, f, _spread(w, f, first, close, pages))


def _findings(w: Writer) -> str:
    return " ".join(w.rng.sample(FINDINGS, k=3))


def prior_authorization(w: Writer, pages: int) -> Document:
    f = w.patient()
    doctor, npi, plan = w.doctor(), w.npi(), w.pick(PLANS)
    code, diagnosis = w.rng.choice(DIAGNOSES)
    drug = w.rng.choice(DRUGS)
    when = w.day(date(2025, 1, 1), 700)
    f |= {"provider": doctor, "npi": npi, "request_date": when.isoformat()}
    blocks: list[Block] = [
        Text(plan, "heading", "center"),
        Text(w.pick(["PRIOR AUTHORIZATION REQUEST", "Prior Authorization Form"]), "title"),
        Rule(),
        Field(w.pick(["Member name", "Patient name"]), f["patient_name"]),
        Field("Date of birth", w.printed(date.fromisoformat(f["dob"]))),
        Field(w.pick(["Member ID", "MRN"]), f["mrn"]),
        Field("Prescriber", doctor),
        Field("NPI", npi),
        Field("Prescriber phone", w.phone()),
        Field(w.pick(["Medication requested", "Drug"]), f"{drug[0]} {drug[1]}"),
        Field("Diagnosis", f"{code} {diagnosis}"),
        Field("Date of request", w.printed(when)),
        Gap(),
        Text("Clinical justification", "heading"),
        Para(w.pick(JUSTIFICATION)),
    ]
    rest: list[list[Block]] = [
        [Text("Supporting notes", "heading"), Para(_history(w))] for _ in range(pages - 1)
    ]
    return Document("prior_authorization", "form", "", 0, f, [blocks, *rest])


def prescription_refill(w: Writer, pages: int) -> Document:
    f = w.patient()
    doctor, npi = w.doctor(), w.npi()
    when = w.day(date(2025, 1, 1), 700)
    f |= {"provider": doctor, "npi": npi, "request_date": when.isoformat()}
    pharmacy = f"{w.pick(PLACES)} {w.pick(['Pharmacy', 'Drug', 'Apothecary'])}"
    rows = [
        [name, strength, sig, str(w.rng.choice([30, 60, 90])), str(w.rng.randint(0, 5))]
        for name, strength, sig in w.rng.sample(DRUGS, k=w.rng.randint(1, 4))
    ]
    blocks: list[Block] = [
        Text(pharmacy, "title"),
        Text(
            w.pick(["REFILL REQUEST", "Prescription Refill Authorization", "Rx Renewal"]), "heading"
        ),
        Rule(),
        *_patient_block(w, f, ("Patient", "DOB", "Rx profile")),
        Field("Prescriber", doctor),
        Field("NPI", npi),
        Field("Request date", w.printed(when)),
        Gap(),
        Table(["Drug", "Strength", "Directions", "Qty", "Refills"], rows),
        Gap(),
        Para(w.pick(["Please approve or deny and fax back.", "Fax your reply to the pharmacy."])),
    ]
    rest: list[list[Block]] = [
        [Text("Notes", "heading"), Para(_history(w))] for _ in range(pages - 1)
    ]
    return Document("prescription_refill", "table", "", 0, f, [blocks, *rest])


def medical_records_request(w: Writer, pages: int) -> Document:
    f = w.patient()
    start = w.day(date(2020, 1, 1), 1500)
    requester, phone = w.practice(), w.phone()
    f |= {"service_from": start.isoformat()}
    first: list[Block] = [
        *_letterhead(w, requester, phone, w.phone()),
        Text(w.pick("Request for Medical Records|RECORDS REQUEST|Release of Information")),
        *_patient_block(w, f, ("Patient", "Date of birth", "Account")),
        Field("Dates of service", f"{w.printed(start)} to present"),
        Gap(),
        Para(w.pick(RECORDS_ASK)),
    ]
    close: list[Block] = [
        Para(f"Records may be faxed to {w.phone()}. Questions: call {phone}."),
        Text(w.person(), "bold"),
        Text("Health Information Management", "small"),
    ]
    doc = _spread(w, f, first, close, pages)
    return Document("medical_records_request", "letter", "", 0, f, doc)


def junk(w: Writer, pages: int) -> Document:
    offer = w.pick(JUNK_OFFERS)
    blocks: list[Block] = [
        Text(offer, "title", "center"),
        Gap(),
        Para(w.pick(JUNK_PITCHES)),
        Text(f"Call {w.phone()} now", "heading", "center"),
        Gap(2),
        Text(f"To be removed from our list, fax REMOVE to {w.phone()}.", "small"),
    ]
    return Document("junk", "form", "", 0, {}, [blocks] * pages)


WRITERS = {
    "referral": referral,
    "lab_result": lab_result,
    "imaging_report": imaging_report,
    "prior_authorization": prior_authorization,
    "prescription_refill": prescription_refill,
    "medical_records_request": medical_records_request,
}


def compose(seed: int, pages: int) -> list[Document]:
    """The documents of a fax of ``pages`` pages, the same for the same seed."""
    rng = random.Random(seed)
    w = Writer(rng)
    docs: list[Document] = []
    left = pages
    if rng.random() < 0.08:
        docs.append(junk(w, pages))
        left = 0
    elif pages >= 2 and rng.random() < 0.6:
        docs.append(cover_sheet(w, pages))
        left -= 1
    while left > 0:
        size = min(left, rng.choice([1, 1, 1, 2, 2, 3]))
        kind = rng.choice(sorted(WRITERS))
        docs.append(WRITERS[kind](w, size))
        left -= size
    for doc in docs:
        doc.font = rng.choice(FONTS)
        doc.body_px = rng.randint(27, 33)
    return docs
