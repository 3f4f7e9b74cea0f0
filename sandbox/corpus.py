"""Healthcare fax documents with known content: what each page says, not how it looks.

``compose(seed, pages)`` fills a fax of ``pages`` pages with documents (a cover sheet, a
referral, lab results, ...), each written from varied wording and laid out as a letter, a form
or a table, with synthetic people and numbers: names drawn from common given names and
surnames, phone and fax numbers in the fictional 555-01xx range, NPIs with a valid Luhn check
digit. The same seed gives the same fax. ``sandbox.render`` draws the blocks.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Literal

from sandbox.blocks import (
    Block,
    Document,
    Field,
    Gap,
    Para,
    Rule,
    Table,
    Text,
    continued,
    findings,
    history,
    letterhead,
    patient_block,
    patient_labels,
    record_fields,
    spread,
)
from sandbox.paperwork import cover_sheet, insurance_claim, junk, other
from sandbox.wording import (
    DIAGNOSES,
    DRUGS,
    FONTS,
    IMAGING_EXAMS,
    IMAGING_TITLES,
    IMPRESSIONS,
    JUSTIFICATION,
    LAB_TITLES,
    LABS,
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
)
from shared.npi import luhn_digit, npi_valid

__all__ = ["Document", "compose", "luhn_digit", "npi_valid"]


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
            *patient_block(w, f, patient_labels(w, "MRN|Chart #|Patient ID")),
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
        return Document("referral", "form", "", 0, f, spread(w, f, title, first, close, pages))
    first = [
        *letterhead(w, sender, w.phone(), w.phone()),
        Text(w.printed(seen + timedelta(days=w.rng.randint(0, 5)))),
        Gap(),
        Text(w.pick(["Re: Referral for ", "Referral: ", "RE: New patient referral - "]) + name),
        *patient_block(w, f, ("Patient", "DOB", w.pick(["MRN", "Chart #"]))),
        Gap(),
        Text(w.pick(["Dear Colleague,", "Dear Doctor,", "To the specialist on call,"])),
        Para(w.pick(REFERRAL_OPENING).format(name=name, seen=seen_text, dx=diagnosis, code=code)),
        Para(w.pick(REFERRAL_REASON)),
        Para(history(w)),
    ]
    close = [Para(w.pick(REFERRAL_CLOSE)), Gap(), Text(doctor, "bold"), Text(f"NPI {npi}", "small")]
    return Document("referral", "letter", "", 0, f, spread(w, f, "Referral", first, close, pages))


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
    labels = patient_labels(w, "MRN|Accession #|Patient ID|Specimen ID")
    out: list[list[Block]] = []
    tests = w.rng.sample(LABS, k=len(LABS))
    for n in range(1, pages + 1):
        blocks: list[Block] = [Text(lab, "title", "center"), Text(title, "heading", "center")]
        blocks += patient_block(w, f, labels)
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
    return Document("lab_result", "table", "", 0, record_fields(f, labels), out)


def imaging_report(w: Writer, pages: int) -> Document:
    f = w.patient()
    exam = w.pick(IMAGING_EXAMS)
    when = w.day(date(2025, 1, 1), 700)
    doctor, _ = w.doctor(), w.npi()  # an NPI drawn but never printed: not in the truth
    f |= {"provider": doctor, "date_of_service": when.isoformat()}
    title = w.pick(IMAGING_TITLES)
    layout: Literal["letter", "form"] = w.rng.choice(["letter", "form"])
    head: list[Block] = [Text(title, "title", "left" if layout == "letter" else "center"), Rule()]
    if layout == "form":
        head.insert(0, Text(f"{w.pick(PLACES)} Imaging Center", "heading", "center"))
    labels = patient_labels(w, "Patient ID|MRN|Accession")
    first: list[Block] = [
        *head,
        *patient_block(w, f, labels),
        Field(w.pick("Exam|Procedure|Study"), exam),
        Field(w.pick("Date of exam|Exam date|Study date"), w.printed(when)),
        Field(w.pick("Referring physician|Ordering physician|Referring provider"), doctor),
        Gap(),
        Text(w.pick("FINDINGS|Findings"), "heading"),
        Para(findings(w)),
        Text(w.pick("IMPRESSION|Impression|CONCLUSION"), "heading"),
        Para(w.pick(IMPRESSIONS)),
    ]
    close: list[Block] = [Gap(), Text(f"Electronically signed by {w.doctor()}", "small")]
    doc = spread(w, f, title, first, close, pages)
    return Document("imaging_report", layout, "", 0, record_fields(f, labels), doc)


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
            *letterhead(w, w.practice(), w.phone(), w.phone()),
            Text(f"To: {plan}, Utilization Management"),
            Text(title, "heading"),
            *patient_block(w, f, patient_labels(w, "Member ID|Subscriber ID|MRN")),
            Field("Requested", item),
            Field(w.pick("Date of request|Request date|Date submitted"), w.printed(when)),
            Gap(),
            Para(
                f"I am requesting prior authorization of {item} for my patient with "
                f"{diagnosis} ({code}). {w.pick(JUSTIFICATION)}"
            ),
        ]
        close: list[Block] = [Gap(), Text(doctor, "bold"), Text(f"NPI {npi}", "small")]
        doc = spread(w, f, title, first, close, pages)
        return Document("prior_authorization", "letter", "", 0, f, doc)
    blocks: list[Block] = [
        Text(plan, "heading", "center"),
        Text(title, "title"),
        Rule(),
        *patient_block(w, f, patient_labels(w, "Member ID|MRN|Subscriber ID")),
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
            *continued(w, f, title, n, pages),
            Text("Supporting notes", "heading"),
            Para(history(w)),
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
        *patient_block(w, f, patient_labels(w, "Rx profile|Patient ID|MRN")),
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
        [*continued(w, f, title, n, pages), Text("Notes", "heading"), Para(history(w))]
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
        head = [*letterhead(w, requester, phone, w.phone()), Text(title)]
    else:
        head = [Text(title, "title", "center"), Text(requester, "heading", "center"), Rule()]
    first: list[Block] = [
        *head,
        *patient_block(w, f, patient_labels(w, "Account|MRN|Chart #")),
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
    doc = spread(w, f, title, first, close, pages)
    return Document("medical_records_request", layout, "", 0, f, doc)


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
