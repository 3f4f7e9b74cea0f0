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
    CLAIM_NOTES,
    CLAIM_TITLES,
    CONFIDENTIAL,
    CPT_CODES,
    DIAGNOSES,
    DRUGS,
    FINDINGS,
    FONTS,
    HISTORY,
    IMAGING_EXAMS,
    IMAGING_TITLES,
    IMPRESSIONS,
    JUNK_OFFERS,
    JUNK_PITCHES,
    JUNK_REMOVE,
    JUSTIFICATION,
    LAB_TITLES,
    LABS,
    OTHER_TEXT,
    OTHER_TITLES,
    PLACES,
    PLANS,
    PRIOR_AUTH_TITLES,
    RECORDS_ASK,
    RECORDS_TITLES,
    REFERRAL_CLOSE,
    REFERRAL_OPENING,
    REFERRAL_REASON,
    REFERRAL_TITLES,
    REFILL_ASK,
    REFILL_TITLES,
    SPECIALTIES,
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
    "insurance_claim",
    "other",
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
        Text(f"{w.pick('Phone|Tel|Ph')} {phone}   Fax {fax}", "small", "left"),
        Rule(),
    ]


def _patient_block(w: Writer, f: dict[str, str], names: tuple[str, str, str]) -> list[Block]:
    dob = w.printed(date.fromisoformat(f["dob"]))
    return [Field(names[0], f["patient_name"]), Field(names[1], dob), Field(names[2], f["mrn"])]


def _patient_labels(w: Writer, ids: str) -> tuple[str, str, str]:
    """Varied labels of the patient's name, date of birth and identifier."""
    return (
        w.pick("Patient|Patient name|Name|Pt name"),
        w.pick("DOB|Date of birth|Birth date"),
        w.pick(ids),
    )


def _continued(w: Writer, f: dict[str, str], title: str, n: int, pages: int) -> list[Block]:
    """The head of page ``n`` of a document: a page number or 'continued', as offices print."""
    who = f.get("patient_name", "")
    marker = w.pick(
        [f"Page {n} of {pages}", f"Page {n}", f"{title} (continued)", f"Continued - page {n}"]
    )
    head: list[Block] = [Text(marker, "small", w.rng.choice(["left", "right"]))]
    if who:
        head.insert(0, Text(f"{who}  DOB {w.printed(date.fromisoformat(f['dob']))}", "small"))
    return [*head, Rule()]


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
    title = w.pick("FAX|Fax Cover Sheet|FACSIMILE TRANSMITTAL|Confidential Fax|Fax Transmission")
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
    items = list(labels.items())
    if w.rng.random() < 0.5:
        w.rng.shuffle(items)
    for key, label in items:
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
    title = w.pick(REFERRAL_TITLES)
    if w.rng.random() < 0.4:  # a referral form
        first: list[Block] = [
            Text(sender, "heading", "center"),
            Text(title, "title", "center"),
            Rule(),
            *_patient_block(w, f, _patient_labels(w, "MRN|Chart #|Patient ID")),
            Field(w.pick("Referring provider|Referred by|Ordering provider"), doctor),
            Field("NPI", npi),
            Field(w.pick("Referred to|Specialty requested"), w.pick(SPECIALTIES)),
            Field(w.pick("Diagnosis|Reason for referral|ICD-10"), f"{code} {diagnosis}"),
            Field(w.pick("Date seen|Last visit|Visit date"), seen_text),
            Field(w.pick("Urgency|Priority"), w.pick("Routine|Urgent|Within 2 weeks")),
            Gap(),
            Text(w.pick("Clinical summary|Notes|History"), "heading"),
            Para(w.pick(REFERRAL_REASON)),
        ]
        close: list[Block] = [Gap(), Text(f"Signature: {doctor}", "small")]
        return Document("referral", "form", "", 0, f, _spread(w, f, title, first, close, pages))
    first = [
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
    close = [Para(w.pick(REFERRAL_CLOSE)), Gap(), Text(doctor, "bold"), Text(f"NPI {npi}", "small")]
    return Document("referral", "letter", "", 0, f, _spread(w, f, "Referral", first, close, pages))


def _spread(
    w: Writer, f: dict[str, str], title: str, first: list[Block], close: list[Block], pages: int
) -> list[list[Block]]:
    """A document over ``pages`` pages: history paragraphs fill the pages after the first."""
    if pages == 1:
        return [first + close]
    out = [first]
    for n in range(2, pages + 1):
        body = [Para(_history(w)) for _ in range(w.rng.randint(2, 4))]
        out.append(_continued(w, f, title, n, pages) + body + (close if n == pages else []))
    return out


def _history(w: Writer) -> str:
    return " ".join(w.rng.sample(HISTORY, k=4))


def lab_result(w: Writer, pages: int) -> Document:
    f = w.patient()
    collected = w.day(date(2025, 1, 1), 700)
    doctor, npi = w.doctor(), w.npi()
    f |= {"provider": doctor, "npi": npi, "date_of_service": collected.isoformat()}
    lab = f"{w.pick(PLACES)} {w.pick(['Laboratories', 'Clinical Lab', 'Diagnostics', 'Pathology'])}"
    title = w.pick(LAB_TITLES)
    columns = w.rng.choice(
        [
            ["Test", "Result", "Units", "Reference", "Flag"],
            ["Analyte", "Value", "Unit", "Ref range", "Abn"],
            ["Component", "Result", "Units", "Normal range", "Flag"],
        ]
    )
    labels = _patient_labels(w, "MRN|Accession #|Patient ID|Specimen ID")
    out: list[list[Block]] = []
    tests = w.rng.sample(LABS, k=len(LABS))
    for n in range(1, pages + 1):
        blocks: list[Block] = [Text(lab, "title", "center"), Text(title, "heading", "center")]
        blocks += _patient_block(w, f, labels)
        blocks += [
            Field(w.pick(["Collected", "Collection date", "Date collected"]), w.printed(collected)),
            Field(w.pick(["Ordering provider", "Ordered by"]), f"{doctor} (NPI {npi})"),
            Gap(),
        ]
        rows = []
        for name, unit, low, high in tests[(n - 1) * 6 : n * 6] or tests[:6]:
            value = round(w.rng.uniform(low * 0.7, high * 1.3 + 1), 1)
            flag = "H" if value > high else "L" if value < low else ""
            rows.append([name, f"{value}", unit, f"{low}-{high}", flag])
        blocks.append(Table(columns, rows))
        blocks += [Gap(), Text(f"Page {n} of {pages}", "small", "right")]
        out.append(blocks)
    return Document("lab_result", "table", "", 0, f, out)


def imaging_report(w: Writer, pages: int) -> Document:
    f = w.patient()
    exam = w.pick(IMAGING_EXAMS)
    when = w.day(date(2025, 1, 1), 700)
    doctor, npi = w.doctor(), w.npi()
    f |= {"provider": doctor, "npi": npi, "date_of_service": when.isoformat()}
    title = w.pick(IMAGING_TITLES)
    layout: Literal["letter", "form"] = w.rng.choice(["letter", "form"])
    head: list[Block] = [Text(title, "title", "left" if layout == "letter" else "center"), Rule()]
    if layout == "form":
        head.insert(0, Text(f"{w.pick(PLACES)} Imaging Center", "heading", "center"))
    first: list[Block] = [
        *head,
        *_patient_block(w, f, _patient_labels(w, "Patient ID|MRN|Accession")),
        Field(w.pick("Exam|Procedure|Study"), exam),
        Field(w.pick("Date of exam|Exam date|Study date"), w.printed(when)),
        Field(w.pick("Referring physician|Ordering physician|Referring provider"), doctor),
        Gap(),
        Text(w.pick("FINDINGS|Findings"), "heading"),
        Para(_findings(w)),
        Text(w.pick("IMPRESSION|Impression|CONCLUSION"), "heading"),
        Para(w.pick(IMPRESSIONS)),
    ]
    close: list[Block] = [Gap(), Text(f"Electronically signed by {w.doctor()}", "small")]
    return Document("imaging_report", layout, "", 0, f, _spread(w, f, title, first, close, pages))


def _findings(w: Writer) -> str:
    return " ".join(w.rng.sample(FINDINGS, k=3))


def prior_authorization(w: Writer, pages: int) -> Document:
    f = w.patient()
    doctor, npi, plan = w.doctor(), w.npi(), w.pick(PLANS)
    code, diagnosis = w.rng.choice(DIAGNOSES)
    drug = w.rng.choice(DRUGS)
    when = w.day(date(2025, 1, 1), 700)
    f |= {"provider": doctor, "npi": npi, "request_date": when.isoformat()}
    title = w.pick(PRIOR_AUTH_TITLES)
    item = w.pick([f"{drug[0]} {drug[1]}", w.pick(IMAGING_EXAMS), "Physical therapy, 12 visits"])
    if w.rng.random() < 0.3:  # a letter of medical necessity
        first: list[Block] = [
            *_letterhead(w, w.practice(), w.phone(), w.phone()),
            Text(f"To: {plan}, Utilization Management"),
            Text(title, "heading"),
            *_patient_block(w, f, _patient_labels(w, "Member ID|Subscriber ID|MRN")),
            Field("Requested", item),
            Field(w.pick("Date of request|Request date|Date submitted"), w.printed(when)),
            Gap(),
            Para(
                f"I am requesting prior authorization of {item} for my patient with "
                f"{diagnosis} ({code}). {w.pick(JUSTIFICATION)}"
            ),
        ]
        close: list[Block] = [Gap(), Text(doctor, "bold"), Text(f"NPI {npi}", "small")]
        doc = _spread(w, f, title, first, close, pages)
        return Document("prior_authorization", "letter", "", 0, f, doc)
    blocks: list[Block] = [
        Text(plan, "heading", "center"),
        Text(title, "title"),
        Rule(),
        *_patient_block(w, f, _patient_labels(w, "Member ID|MRN|Subscriber ID")),
        Field(w.pick("Prescriber|Requesting provider|Ordering provider"), doctor),
        Field("NPI", npi),
        Field(w.pick("Prescriber phone|Office phone"), w.phone()),
        Field(w.pick(["Medication requested", "Drug", "Service requested"]), item),
        Field(w.pick("Diagnosis|ICD-10 code"), f"{code} {diagnosis}"),
        Field(w.pick("Date of request|Request date|Date submitted"), w.printed(when)),
        Gap(),
        Text(w.pick("Clinical justification|Medical necessity|Clinical information"), "heading"),
        Para(w.pick(JUSTIFICATION)),
    ]
    rest = [
        [
            *_continued(w, f, title, n, pages),
            Text("Supporting notes", "heading"),
            Para(_history(w)),
        ]
        for n in range(2, pages + 1)
    ]
    return Document("prior_authorization", "form", "", 0, f, [blocks, *rest])


def prescription_refill(w: Writer, pages: int) -> Document:
    f = w.patient()
    doctor, npi = w.doctor(), w.npi()
    when = w.day(date(2025, 1, 1), 700)
    f |= {"provider": doctor, "npi": npi, "request_date": when.isoformat()}
    pharmacy = f"{w.pick(PLACES)} {w.pick(['Pharmacy', 'Drug', 'Apothecary', 'Rx'])}"
    rows = [
        [name, strength, sig, str(w.rng.choice([30, 60, 90])), str(w.rng.randint(0, 5))]
        for name, strength, sig in w.rng.sample(DRUGS, k=w.rng.randint(1, 4))
    ]
    title = w.pick(REFILL_TITLES)
    blocks: list[Block] = [
        Text(pharmacy, "title"),
        Text(title, "heading"),
        Rule(),
        *_patient_block(w, f, _patient_labels(w, "Rx profile|Patient ID|MRN")),
        Field(w.pick("Prescriber|Doctor|Prescribing provider"), doctor),
        Field("NPI", npi),
        Field(w.pick("Request date|Date|Date sent"), w.printed(when)),
        Gap(),
    ]
    layout: Literal["table", "form"] = w.rng.choice(["table", "form"])
    if layout == "table":
        columns = w.rng.choice(
            [
                ["Drug", "Strength", "Directions", "Qty", "Refills"],
                ["Medication", "Dose", "Sig", "Quantity", "Refills"],
            ]
        )
        blocks.append(Table(columns, rows))
    else:
        for name, strength, sig, qty, refills in rows:
            blocks += [
                Field(w.pick("Medication|Drug"), f"{name} {strength}"),
                Field("Sig", sig),
                Field("Qty", f"{qty}, refills {refills}"),
            ]
    blocks += [Gap(), Para(w.pick(REFILL_ASK))]
    rest = [
        [*_continued(w, f, title, n, pages), Text("Notes", "heading"), Para(_history(w))]
        for n in range(2, pages + 1)
    ]
    return Document("prescription_refill", layout, "", 0, f, [blocks, *rest])


def medical_records_request(w: Writer, pages: int) -> Document:
    f = w.patient()
    start = w.day(date(2020, 1, 1), 1500)
    requester, phone = w.practice(), w.phone()
    f |= {"service_from": start.isoformat()}
    title = w.pick(RECORDS_TITLES)
    layout: Literal["letter", "form"] = w.rng.choice(["letter", "form"])
    if layout == "letter":
        head = [*_letterhead(w, requester, phone, w.phone()), Text(title)]
    else:
        head = [Text(title, "title", "center"), Text(requester, "heading", "center"), Rule()]
    first: list[Block] = [
        *head,
        *_patient_block(w, f, _patient_labels(w, "Account|MRN|Chart #")),
        Field(
            w.pick("Dates of service|Records from|Period requested"),
            f"{w.printed(start)} to present",
        ),
        Field(
            w.pick("Purpose|Reason"), w.pick("Continuity of care|Legal|Insurance|Patient request")
        ),
        Gap(),
        Para(w.pick(RECORDS_ASK)),
    ]
    close: list[Block] = [
        Para(f"Records may be faxed to {w.phone()}. Questions: call {phone}."),
        Text(w.person(), "bold"),
        Text(
            w.pick("Health Information Management|Release of Information Dept|Records Office"),
            "small",
        ),
    ]
    doc = _spread(w, f, title, first, close, pages)
    return Document("medical_records_request", layout, "", 0, f, doc)


def insurance_claim(w: Writer, pages: int) -> Document:
    f = w.patient()
    doctor, npi, plan = w.doctor(), w.npi(), w.pick(PLANS)
    when = w.day(date(2025, 1, 1), 700)
    f |= {"provider": doctor, "npi": npi, "date_of_service": when.isoformat()}
    title = w.pick(CLAIM_TITLES)
    claim = f"{w.rng.choice('CEHPX')}{w.rng.randrange(10**8, 10**9)}"
    rows = []
    for _ in range(w.rng.randint(1, 4)):
        billed = w.rng.randint(80, 900)
        allowed = round(billed * w.rng.uniform(0.4, 0.9))
        paid = w.rng.choice([0, round(allowed * 0.8), allowed])
        rows.append(
            [w.printed(when), w.pick(CPT_CODES), f"{billed}.00", f"{allowed}.00", f"{paid}.00"]
        )
    columns = w.rng.choice(
        [
            ["Date of service", "Code", "Billed", "Allowed", "Paid"],
            ["DOS", "CPT", "Charge", "Allowed amt", "Plan paid"],
        ]
    )
    blocks: list[Block] = [
        Text(plan, "title", w.rng.choice(["left", "center"])),
        Text(title, "heading"),
        Rule(),
        Field(w.pick("Claim number|Claim #|Claim ID"), claim),
        *_patient_block(w, f, _patient_labels(w, "Member ID|Subscriber ID|Policy number")),
        Field(w.pick("Rendering provider|Billing provider|Provider"), doctor),
        Field("NPI", npi),
        Gap(),
        Table(columns, rows),
        Gap(),
        Para(w.pick(CLAIM_NOTES)),
    ]
    rest = [
        [
            *_continued(w, f, title, n, pages),
            Text(w.pick("Remarks|Notes"), "heading"),
            Para(w.pick(CLAIM_NOTES)),
            Para(_history(w)),
        ]
        for n in range(2, pages + 1)
    ]
    return Document("insurance_claim", "table", "", 0, f, [blocks, *rest])


def other(w: Writer, pages: int) -> Document:
    """A fax that is none of the above: a notice, a memo, an appointment or visit summary."""
    f: dict[str, str] = {}
    title = w.pick(OTHER_TITLES)
    sender = w.practice()
    layout: Literal["letter", "form"] = w.rng.choice(["letter", "form"])
    blocks: list[Block] = (
        [*_letterhead(w, sender, w.phone(), w.phone()), Text(title, "heading")]
        if layout == "letter"
        else [Text(title, "title", "center"), Text(sender, "heading", "center"), Rule()]
    )
    if w.rng.random() < 0.5:
        f = w.patient()
        blocks += _patient_block(w, f, _patient_labels(w, "MRN|Account|Chart #"))
    blocks += [Field("Date", w.printed(w.day(date(2025, 1, 1), 700))), Gap()]
    blocks += [Para(p) for p in w.rng.sample(OTHER_TEXT, k=2)]
    close: list[Block] = [Gap(), Text(w.person(), "bold"), Text("Office Manager", "small")]
    return Document("other", layout, "", 0, f, _spread(w, f, title, blocks, close, pages))


def junk(w: Writer, pages: int) -> Document:
    offer = w.pick(JUNK_OFFERS)
    blocks: list[Block] = [
        Text(offer, "title", "center"),
        Gap(),
        Para(w.pick(JUNK_PITCHES)),
        Text(f"Call {w.phone()} now", "heading", "center"),
        Gap(2),
        Text(w.pick(JUNK_REMOVE).format(phone=w.phone()), "small"),
    ]
    return Document("junk", "form", "", 0, {}, [blocks] * pages)


WRITERS = {
    "referral": referral,
    "lab_result": lab_result,
    "imaging_report": imaging_report,
    "prior_authorization": prior_authorization,
    "prescription_refill": prescription_refill,
    "medical_records_request": medical_records_request,
    "insurance_claim": insurance_claim,
    "other": other,
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
