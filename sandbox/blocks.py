"""The parts a sandbox document is made of (titles, paragraphs, labelled fields, tables) and
the pieces every type shares: a letterhead, a patient block, the head of a page after the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sandbox.wording import FINDINGS, HISTORY, Writer

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


def letterhead(w: Writer, sender: str, phone: str, fax: str) -> list[Block]:
    return [
        Text(sender, "title", w.rng.choice(["left", "center"])),
        Text(w.address(), "small", "left"),
        Text(f"{w.pick('Phone|Tel|Ph')} {phone}   Fax {fax}", "small", "left"),
        Rule(),
    ]


def patient_block(w: Writer, f: dict[str, str], names: tuple[str, str, str]) -> list[Block]:
    dob = w.printed(date.fromisoformat(f["dob"]))
    return [Field(names[0], f["patient_name"]), Field(names[1], dob), Field(names[2], f["mrn"])]


def patient_labels(w: Writer, ids: str) -> tuple[str, str, str]:
    """Varied labels of the patient's name, date of birth and identifier."""
    return (
        w.pick("Patient|Patient name|Name|Pt name"),
        w.pick("DOB|Date of birth|Birth date"),
        w.pick(ids),
    )


# Labels under which a document prints its number as the specimen's or the study's (an
# accession number), not as the patient's record number: its truth has no MRN then.
SPECIMEN_IDS = frozenset({"Accession", "Accession #", "Specimen ID"})


def record_fields(f: dict[str, str], labels: tuple[str, str, str]) -> dict[str, str]:
    """The fields ``f`` of a document whose patient block has ``labels``, as the page prints
    them: without the MRN when its number is printed as a specimen's or a study's."""
    return {k: v for k, v in f.items() if not (k == "mrn" and labels[2] in SPECIMEN_IDS)}


def continued(w: Writer, f: dict[str, str], title: str, n: int, pages: int) -> list[Block]:
    """The head of page ``n`` of a document: a page number or 'continued', as offices print."""
    who = f.get("patient_name", "")
    marker = w.pick(
        [f"Page {n} of {pages}", f"Page {n}", f"{title} (continued)", f"Continued - page {n}"]
    )
    head: list[Block] = [Text(marker, "small", w.rng.choice(["left", "right"]))]
    if who:
        head.insert(0, Text(f"{who}  DOB {w.printed(date.fromisoformat(f['dob']))}", "small"))
    return [*head, Rule()]


def spread(
    w: Writer, f: dict[str, str], title: str, first: list[Block], close: list[Block], pages: int
) -> list[list[Block]]:
    """A document over ``pages`` pages: history paragraphs fill the pages after the first."""
    if pages == 1:
        return [first + close]
    out = [first]
    for n in range(2, pages + 1):
        body = [Para(history(w)) for _ in range(w.rng.randint(2, 4))]
        out.append(continued(w, f, title, n, pages) + body + (close if n == pages else []))
    return out


def history(w: Writer) -> str:
    return " ".join(w.rng.sample(HISTORY, k=4))


def findings(w: Writer) -> str:
    return " ".join(w.rng.sample(FINDINGS, k=3))
