"""Key fields of one document of a fax: each a hint with its page and confidence.

A field is read where a label says what follows it ("DOB:", "Chart #:", "Ordering provider:"),
on the same line or, when OCR read a form's label column before its value column, paired with
the value lines that follow in the same order. A few fields are read less surely: a date of
service from the first row of a table whose first column it heads ("DOS  CPT  Billed"), a
request's own "Date:" as its request date; or guessed without such a label: a date of service
from "I saw ... on <date>", a provider from the signature above an NPI. When a field is read
more than once the surest reading wins, and among equally sure ones the value read most often;
readings that disagree lower the confidence.

Which fields are looked for depends on the document's type: the cover sheet's (to, from, re,
pages, phone, fax, date) on a cover sheet, the patient's, provider's and dates on the clinical
types, none on junk, all on "other". Only the first characters of each page and line are read,
and no pattern can backtrack badly, so any text gives an answer quickly. Values are PHI: this
module logs nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.reader.fields_labels import (
    BLOCKS,
    FIELD_OF,
    FORM_LABEL,
    KIND_OF,
    LABEL,
    LOOSE,
    WEAK,
    key,
    unaccented,
)
from services.reader.fields_values import (
    NOISE,
    clean_text,
    date_and_end,
    date_value,
    identifier_value,
    leading_date,
    name_value,
    npi_value,
    pages_value,
    phone_value,
    text_value,
    tidy,
    trimmed,
)
from shared.contracts import DocumentType, FieldName, FoundField

MAX_PAGES = 60
MAX_PAGE_CHARS = 20_000
MAX_LINES = 400
MAX_LINE_CHARS = 400

COVER = frozenset(
    {
        FieldName.TO,
        FieldName.FROM,
        FieldName.RE,
        FieldName.PAGES_STATED,
        FieldName.PHONE,
        FieldName.FAX,
        FieldName.DATE,
    }
)
CLINICAL = frozenset(FieldName) - COVER
LOOKED_FOR = {
    DocumentType.COVER_SHEET: COVER,
    DocumentType.JUNK: frozenset(),
    DocumentType.OTHER: frozenset(FieldName),
}
# On a request the date it is dated by ("Date:", "Date sent:") is the date of the request.
REQUESTS = frozenset(
    {
        DocumentType.PRESCRIPTION_REFILL,
        DocumentType.PRIOR_AUTHORIZATION,
        DocumentType.MEDICAL_RECORDS_REQUEST,
    }
)

# "NPI 1234567893", also as OCR reads it: "NP! ...", "NP: ...", "(NPI1234567893)".
NPI_ANYWHERE = re.compile(
    r"\bNP[IlL1|!]?(?![A-Za-z])\s{0,3}(?:#|no\.?|number)?\s{0,3}[:;]?\s{0,3}"
    r"([0-9][0-9 ]{8,10}[0-9])\b",
    re.I,
)
DOB_ANYWHERE = re.compile(r"\b(?:DOB|D\.O\.B\.?)\b\s{0,3}[:;]?\s{0,3}", re.IGNORECASE)
SEEN_ON = re.compile(
    r"\b(?:saw|seen|examined|evaluated|visited)(?:on|\b[^.\n]{0,60}?\bon)[\s,;:]+", re.I
)
CREDENTIAL = re.compile(r",?\s+(?:MD|M\.D\.|DO|D\.O\.|NP|FNP|PA-C|PA|DNP|DPM|MBBS)\.?$")
RANGE = re.compile(r"\b(?:to|through|thru|until)\b|[0-9]\s+[-\u2013]\s+[0-9A-Za-z]", re.I)

NUMBERS = frozenset(["phone", "fax"])
# How a reading was made, surest first: a value after its label; a value placed by a column
# of labels or an abbreviation; a guess from a sentence or a layout.
LABELLED, INDIRECT, GUESSED = 0, 1, 2
MAX_SKIPPED = 6
# Kinds whose values have a form to check (dates, numbers): they show a column lines up.
TYPED = frozenset(
    [
        "pages",
        "phone",
        "fax",
        "date",
        "dob",
        "mrn",
        "npi",
        "dos",
        "dos_short",
        "request",
        "service_range",
    ]
)


@dataclass(frozen=True)
class Reading:
    field: FieldName
    value: str
    page: int
    confidence: float
    tier: int
    order: int


def find_fields(pages: Sequence[str], first_page: int, doc_type: DocumentType) -> list[FoundField]:
    """The key fields of a document whose pages' texts are ``pages``, the first being page
    ``first_page`` of the fax. Never raises on any text; fields not found are left out."""
    wanted = LOOKED_FOR.get(doc_type, CLINICAL)
    if not wanted:
        return []
    readings: list[Reading] = []
    for index, text in enumerate(pages[:MAX_PAGES]):
        page = max(1, first_page + index)
        lines = [line[:MAX_LINE_CHARS] for line in clean_text(text[:MAX_PAGE_CHARS]).split("\n")]
        lines = lines[:MAX_LINES]
        found = [*_labelled(lines), *_dated_rows(lines), *_guessed(lines)]
        if doc_type in REQUESTS:
            found = [_dated_request(item) for item in found]
        readings += [
            Reading(field, value, page, confidence, tier, len(readings) + n)
            for n, (field, value, confidence, tier) in enumerate(found)
            if field in wanted
        ]
    return [_chosen(field, readings) for field in FieldName if _has(field, readings)]


def _dated_request(found: Found) -> Found:
    """The request's own date read as its request date, below one labelled as such."""
    field, value, confidence, tier = found
    if field != FieldName.DATE:
        return found
    return FieldName.REQUEST_DATE, value, confidence * 0.9, max(tier, INDIRECT)


def _has(field: FieldName, readings: list[Reading]) -> bool:
    return any(r.field == field for r in readings)


def _chosen(field: FieldName, readings: list[Reading]) -> FoundField:
    """The surest tier's most frequent value (the earliest among equals)."""
    mine = [r for r in readings if r.field == field]
    best_tier = min(r.tier for r in mine)
    tier = [r for r in mine if r.tier == best_tier]
    votes: dict[str, list[Reading]] = {}
    for reading in tier:
        votes.setdefault(" ".join(reading.value.casefold().split()), []).append(reading)
    group = max(votes.values(), key=lambda same: (len(same), -same[0].order))
    confidence = max(r.confidence for r in group)
    if len(votes) > 1:
        confidence *= 0.7
    return FoundField(
        name=field, value=group[0].value, page=group[0].page, confidence=round(confidence, 3)
    )


Found = tuple[FieldName, str, float, int]


def _segments(line: str) -> list[tuple[str, bool, str]]:
    """(kind, loose, value) for each label on a line that starts with one (or with a label of
    something else, "Accession:"), else nothing; loose when a patient label had no colon. Past
    the first, only labels followed by a colon start a new value, or a number's label after a
    number's ("Phone 555 0100  Fax 555 0101", as letterheads print)."""
    starts: list[tuple[str, bool, int, int]] = []
    other = FORM_LABEL.match(unaccented(line))
    for match in LABEL.finditer(unaccented(line)):
        label, sep = key(match["label"]), match["sep"]
        kind = KIND_OF.get(label, "")
        if not kind:
            continue
        at_start = not line[: match.start()].strip(NOISE)
        if not starts and at_start:
            if sep is None and label in WEAK and label not in LOOSE:
                return []
        elif sep not in (":", ";") and not (starts and {kind, starts[-1][0]} <= NUMBERS):
            continue
        elif not starts and not (other and match.start() >= other.end()):
            return []
        starts.append((kind, sep is None and label in WEAK, match.start(), match.end()))
        if len(starts) == 8:
            break
    return [
        (kind, loose, line[end : starts[n + 1][2] if n + 1 < len(starts) else len(line)])
        for n, (kind, loose, _, end) in enumerate(starts)
    ]


def _labelled(lines: list[str]) -> Iterator[Found]:
    """Values on their label's line, or in a column of values after a column of labels."""
    waiting: list[str] = []
    block = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if ":" not in line and tidy(line).casefold() in BLOCKS:
            block = BLOCKS[tidy(line).casefold()]
            continue
        segments = _segments(line)
        if segments and all(not tidy(value) for _, _, value in segments):
            waiting += [kind for kind, _, _ in segments]
            continue
        if not segments and not tidy(line):
            continue
        if waiting and not segments and _speck(line):
            continue  # a label OCR could not read ("NP,"): its value is still in the column
        if waiting and not segments:
            column = [line]
            while index < len(lines) and len(column) < len(waiting) + MAX_SKIPPED:
                if _segments(lines[index]):
                    break
                if tidy(lines[index]):
                    column.append(lines[index])
                index += 1
            yield from _aligned(waiting, column)
            waiting = []
            continue
        waiting = []
        kinds = {kind for kind, _, _ in segments}
        if kinds & {"to", "from", "date", "pages", "re"}:
            block = ""
        recipients = "to" in kinds or block == "to"
        for kind, loose, value in segments:
            if kind == "form" or (kind in ("phone", "fax") and recipients):
                continue  # not a key field; the recipient's number, not the sender's
            if kind == "patient" and block:
                kind = block  # "Name:" in the sender's or the recipient's block
            found = _value(kind, value)
            if found is not None:
                yield (*found[:2], found[2] * (0.85 if loose else 1), found[3])


def _aligned(kinds: list[str], lines: list[str]) -> Iterator[Found]:
    """A column of labels with the column of values OCR read after it, maybe below a heading
    or two: the first offset at which the values fit their labels. Past the first line, or
    with one value unreadable, at least two dates or numbers must fit to show it lines up."""
    for skip in range(len(lines) - len(kinds) + 1):
        pairs = list(zip(kinds, lines[skip : skip + len(kinds)], strict=True))
        found = [(kind, _value(kind, value)) for kind, value in pairs if kind != "form"]
        misses = sum(item is None for _, item in found)
        anchors = sum(item is not None and kind in TYPED for kind, item in found)
        lined_up = anchors >= 2 and misses <= (1 if len(kinds) >= 3 else 0)
        alone = len(kinds) == 1 and kinds[0] in ("patient", "provider") and skip <= 2
        if (skip == 0 and misses == 0) or lined_up or (alone and misses == 0):
            sure = 0.8 if skip == 0 and misses == 0 else 0.7
            for _, item in found:
                if item is not None:
                    yield item[0], item[1], item[2] * sure, INDIRECT
            return


def _value(kind: str, raw: str) -> Found | None:
    field = FIELD_OF[kind]
    if kind in ("to", "from", "re"):
        text = text_value(raw)
        return (field, text[0], 0.7 if text[1] else 0.85, LABELLED) if text else None
    if kind == "pages":
        pages = pages_value(raw)
        return (field, pages, 0.95, LABELLED) if pages else None
    if kind in ("phone", "fax"):
        phone = phone_value(raw)
        return (field, phone, 0.95 if len(phone) in (10, 11) else 0.8, LABELLED) if phone else None
    if kind in ("patient", "provider"):
        name = name_value(raw)
        return (field, name[0], 0.7 if name[1] else 0.95, LABELLED) if name else None
    if kind == "mrn":
        number = identifier_value(raw)
        return (field, number, 0.85 if number == tidy(raw) else 0.7, LABELLED) if number else None
    if kind == "npi":
        npi = npi_value(raw)
        return (field, npi, 0.95, LABELLED) if npi else None
    dated = date_and_end(raw)
    if dated is None:
        return None
    if kind.startswith("dos") and RANGE.search(raw, dated[2] - 1):  # a range from that date
        field = FieldName.SERVICE_FROM
    if kind == "dos_short":
        return field, dated[0], 0.8 * dated[1], INDIRECT
    return field, dated[0], 0.95 * dated[1], LABELLED


def _dated_rows(lines: list[str]) -> Iterator[Found]:
    """The date of service in the first row of a table whose first column is headed by it
    ("DOS  CPT  Billed  Paid", then "03/11/2026  99213 ..."), as claims print their lines."""
    for index, line in enumerate(lines):
        head = LABEL.match(unaccented(line.lstrip(NOISE)))
        if head is None or KIND_OF.get(key(head["label"])) not in ("dos", "dos_short"):
            continue
        rest = line.lstrip(NOISE)[head.end() :]
        if not _worded(rest) or any(char.isdigit() for char in rest):
            continue
        row = next((below for below in lines[index + 1 : index + 3] if tidy(below)), "")
        dated = leading_date(row)
        if dated:
            yield FieldName.DATE_OF_SERVICE, dated[0], 0.8 * dated[1], INDIRECT
            return


def _worded(text: str) -> bool:
    """Three letters or more: a heading, not a speck."""
    return sum(char.isalpha() for char in text) >= 3


def _speck(line: str) -> bool:
    """A line of at most three letters and signs: a label or mark OCR could not read."""
    return sum(char.isalpha() for char in line) <= 3 and not any(c.isdigit() for c in line)


def _guessed(lines: list[str]) -> Iterator[Found]:
    """Fields read without a label of their own, less surely."""
    previous = ""
    for line in lines:
        for match in NPI_ANYWHERE.finditer(line):
            npi = npi_value(match.group(1).replace(" ", ""))
            if npi:
                yield FieldName.NPI, npi, 0.95, LABELLED
            before = trimmed(line[: match.start()])[0] or previous
            if CREDENTIAL.search(before):
                name = name_value(before)
                if name:
                    yield FieldName.PROVIDER, name[0], 0.75, GUESSED
        dob = DOB_ANYWHERE.search(line)
        if dob:
            dated = date_value(line[dob.end() : dob.end() + 24])
            if dated:
                yield FieldName.DOB, dated[0], 0.85 * dated[1], INDIRECT
            name = name_value(line[: dob.start()])
            if name:
                yield FieldName.PATIENT_NAME, name[0], 0.6, GUESSED
        if tidy(line):
            previous = trimmed(line)[0]
    prose = " ".join(lines)
    for match in SEEN_ON.finditer(prose):
        dated = date_value(prose[match.end() : match.end() + 24])
        if dated:
            yield FieldName.DATE_OF_SERVICE, dated[0], 0.75 * dated[1], GUESSED
            break
