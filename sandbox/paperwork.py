"""The sandbox's paperwork around the clinical documents: fax cover sheets, insurance claims
and explanations of benefits, office notices and memos (type ``other``), and junk mailings."""

from __future__ import annotations

from datetime import date
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
    history,
    letterhead,
    patient_block,
    patient_labels,
    spread,
)
from sandbox.wording import (
    CONFIDENTIAL,
    JUNK_OFFERS,
    JUNK_PITCHES,
    PLANS,
    Writer,
)

CLAIM_TITLES = [
    "EXPLANATION OF BENEFITS",
    "Claim Status Notice",
    "Remittance Advice",
    "Notice of Claim Denial",
    "Health Insurance Claim",
    "Claim Adjustment Notice",
]
CPT_CODES = ["99213", "99214", "80053", "71046", "93000", "97110", "36415"]
CLAIM_NOTES = [
    "This is not a bill. The amount you may owe the provider is shown above.",
    "The claim was processed under the member's plan. Deductible and coinsurance applied.",
    "The claim was denied: the service requires prior authorization. You may appeal within "
    "180 days.",
    "Please submit corrected claims with the claim number shown above.",
]
OTHER_TITLES = [
    "Office Notice",
    "MEMO",
    "Appointment Confirmation",
    "Visit Summary",
    "Schedule Change",
    "Patient Letter",
    "Meeting Agenda",
]
OTHER_TEXT = [
    "Our office will be closed on the holiday. Calls will be answered by the on-call service.",
    "Your appointment has been scheduled. Please arrive fifteen minutes early and bring a photo "
    "identification.",
    "Thank you for your visit today. Please continue your current plan and call with any "
    "questions.",
    "The staff meeting moves to Thursday at noon in the conference room.",
    "Please update your contact details with the front desk at your next visit.",
    "Parking is available in the garage behind the building during construction.",
]
JUNK_REMOVE = [
    "To be removed from our list, fax REMOVE to {phone}.",
    "Unsubscribe: call {phone} toll free.",
    "This is an advertisement. To opt out call {phone}.",
]


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
        *patient_block(w, f, patient_labels(w, "Member ID|Subscriber ID|Policy number")),
        Field(w.pick("Rendering provider|Billing provider|Provider"), doctor),
        Field("NPI", npi),
        Gap(),
        Table(columns, rows),
        Gap(),
        Para(w.pick(CLAIM_NOTES)),
    ]
    rest = [
        [
            *continued(w, f, title, n, pages),
            Text(w.pick("Remarks|Notes"), "heading"),
            Para(w.pick(CLAIM_NOTES)),
            Para(history(w)),
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
    numbers: dict[str, str] = {}
    blocks: list[Block]
    if layout == "letter":
        numbers = {"phone": w.phone(), "fax": w.phone()}  # the sender's, on the letterhead
        blocks = [*letterhead(w, sender, numbers["phone"], numbers["fax"]), Text(title, "heading")]
    else:
        blocks = [Text(title, "title", "center"), Text(sender, "heading", "center"), Rule()]
    if w.rng.random() < 0.5:
        f = w.patient()
        blocks += patient_block(w, f, patient_labels(w, "MRN|Account|Chart #"))
    when = w.day(date(2025, 1, 1), 700)
    f |= numbers | {"date": when.isoformat()}
    blocks += [Field("Date", w.printed(when)), Gap()]
    blocks += [Para(p) for p in w.rng.sample(OTHER_TEXT, k=2)]
    close: list[Block] = [Gap(), Text(w.person(), "bold"), Text("Office Manager", "small")]
    return Document("other", layout, "", 0, f, spread(w, f, title, blocks, close, pages))


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
