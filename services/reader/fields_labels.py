"""The labels that introduce key fields on a fax, by kind, and the one pattern that finds them.

A label is matched at the start of a line (after any specks OCR left there), in any case, with
the spaces between its words optional or read as a dot, quote or dash, as OCR often does. A few
OCR misreadings of common labels are listed as labels themselves ("Tek" for "Tel")."""

from __future__ import annotations

import re

from shared.contracts import FieldName

# Each kind of label, as written (a few with regular-expression escapes).
LABELS: dict[str, list[str]] = {
    "to": ["to", "tor", "attn", "attention", "recipient name", "send to", "deliver to"],
    "from": ["from", "sender", "sent by"],
    "re": ["re", "subject", "regarding", "reference"],
    "pages": [
        "pages",
        "no of pages",
        "number of pages",
        "# of pages",
        "total pages",
        "page count",
        "pages including cover",
        "pages incl cover",
        "pages including cover sheet",
        "pages including this cover",
        "pages \\(including cover\\)",
        "# pages",
        "total # of pages",
    ],
    "phone": [
        "phone",
        "phones",
        "rhone",
        "tel",
        "tels",
        "te",
        "tee",
        "tek",
        "tez",
        "telephone",
        "ph",
        "phone number",
        "phone #",
        "sender phone",
    ],
    "fax": ["fax", "fax number", "fax #", "fax no", "sender fax", "return fax", "reply fax"],
    "date": ["date", "date sent", "sent", "sent on"],
    "patient": [
        "patient",
        "patient name",
        "patient's name",
        "name of patient",
        "pt name",
        "pt",
        "name",
        "member",
        "member name",
        "client name",
    ],
    "dob": ["dob", "d\\.o\\.b\\.?", "date of birth", "birth date", "birthdate", "born"],
    "mrn": [
        "mrn",
        "mr #",
        "mr no",
        "medical record",
        "medical record number",
        "medical record #",
        "medical record no",
        "chart",
        "chart #",
        "chart number",
        "chart no",
        "patient id",
        "patient #",
        "member id",
        "member #",
        "member number",
        "subscriber id",
        "subscriber #",
        "subscriber number",
        "policy number",
        "policy #",
        "policy no",
        "account",
        "account #",
        "account number",
        "acct #",
        "rx profile",
    ],
    "npi": ["npi", "npi #", "npi number", "npi no", "npl", "np1", "npe"],
    "provider": [
        "ordering provider",
        "ordering physician",
        "ordered by",
        "referring provider",
        "referring physician",
        "referring doctor",
        "referred by",
        "prescriber",
        "preseriber",
        "prescribing provider",
        "prescribing physician",
        "requesting provider",
        "requesting physician",
        "attending physician",
        "rendering provider",
        "rendering physician",
        "billing provider",
        "treating physician",
        "physician",
        "provider",
        "doctor",
    ],
    "dos": [
        "date of service",
        "service date",
        "date of visit",
        "visit date",
        "collected",
        "collection date",
        "date collected",
        "date of collection",
        "date of exam",
        "exam date",
        "date of study",
        "study date",
        "date of procedure",
        "procedure date",
        "encounter date",
        "date seen",
        "last seen",
        "last visit",
        "date of last visit",
    ],
    "service_range": [
        "dates of service",
        "service dates",
        "dates requested",
        "date range",
        "records from",
        "treatment dates",
        "period requested",
        "records requested from",
    ],
    "request": [
        "request date",
        "date of request",
        "date requested",
        "requested on",
        "date submitted",
        "submitted on",
    ],
    # An abbreviation OCR also makes of "DOB": read, but a spelled-out label wins over it.
    "dos_short": ["dos"],
    # Labels of other things on a form: not read, but they keep a column of values in line.
    "form": [
        "drug",
        "medication",
        "medications",
        "medication requested",
        "diagnosis",
        "dx",
        "exam",
        "procedure",
        "prescriber phone",
        "provider phone",
        "physician phone",
        "office phone",
        "address",
        "insurance",
        "plan",
        "group number",
        "accession",
        "accession #",
        "specimen id",
        "claim",
        "claim number",
        "claim #",
        "claim id",
        "study",
        "referred to",
        "specialty requested",
        "reason for referral",
        "icd-10",
        "icd-10 code",
        "urgency",
        "priority",
        "requested",
        "service requested",
        "purpose",
        "reason",
        "sig",
        "qty",
    ],
}
# "Prescriber name: ..." is the prescriber's, not a patient's "Name:".
LABELS["provider"] += [f"{label} name" for label in LABELS["provider"]]

FIELD_OF = {
    "to": FieldName.TO,
    "from": FieldName.FROM,
    "re": FieldName.RE,
    "pages": FieldName.PAGES_STATED,
    "phone": FieldName.PHONE,
    "fax": FieldName.FAX,
    "date": FieldName.DATE,
    "patient": FieldName.PATIENT_NAME,
    "dob": FieldName.DOB,
    "mrn": FieldName.MRN,
    "npi": FieldName.NPI,
    "provider": FieldName.PROVIDER,
    "dos": FieldName.DATE_OF_SERVICE,
    "dos_short": FieldName.DATE_OF_SERVICE,
    "service_range": FieldName.SERVICE_FROM,
    "request": FieldName.REQUEST_DATE,
}


# Labels that are common words need a separator after them ("To:", "Re;"); the others may be
# followed by their value alone ("DOB 03/04/1960", "Pages including cover 4").
WEAK = frozenset(
    [
        "to",
        "tor",
        "attn",
        "attention",
        "from",
        "sender",
        "re",
        "subject",
        "reference",
        "regarding",
        "patient",
        "pt",
        "name",
        "member",
        "chart",
        "account",
        "physician",
        "provider",
        "doctor",
        "sent",
    ]
)


# OCR drops the colon after "Patient" often enough, and a name must follow: read, less surely.
LOOSE = frozenset(["patient"])


# OCR loses spaces between a label's words, or reads them as a dot or a quote.
JOIN = r"[\s.'\u2019-]{0,3}"


# OCR puts accents on letters of labels ("Daté", "Réferring"): labels are matched without
# them, letter for letter, so a match's place in the line is the same.
ACCENTS = str.maketrans(
    "\u00e0\u00e1\u00e2\u00e4\u00e8\u00e9\u00ea\u00eb\u00ec\u00ed\u00ee\u00ef"
    "\u00f2\u00f3\u00f4\u00f6\u00f9\u00fa\u00fb\u00fc\u00e7\u00f1"
    "\u00c0\u00c1\u00c2\u00c4\u00c8\u00c9\u00ca\u00cb\u00cc\u00cd\u00ce\u00cf"
    "\u00d2\u00d3\u00d4\u00d6\u00d9\u00da\u00db\u00dc\u00c7\u00d1",
    "aaaaeeeeiiiioooouuuucnAAAAEEEEIIIIOOOOUUUUCN",
)


def unaccented(text: str) -> str:
    return text.translate(ACCENTS)


def key(label: str) -> str:
    return re.sub(r"[\s.'\u2019\\-]", "", label.casefold())


def label_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    kinds = {key(label): kind for kind, labels in LABELS.items() for label in labels}
    spelled = sorted((label for labels in LABELS.values() for label in labels), key=len)
    words = "|".join(JOIN.join(label.split(" ")) for label in reversed(spelled))
    qualifier = r"(?:\([^()\n]{0,30}\)\s{0,3})?"  # "Date of Birth (MM/DD/YYYY):"
    separator = rf"(?:\s{{0,3}}{qualifier}(?P<sep>[:;!,.]))?"
    pattern = rf"(?<![^\W_]|#)(?P<label>{words}){separator}(?!\w)"
    return re.compile(pattern, re.IGNORECASE), kinds


LABEL, KIND_OF = label_pattern()
# Any label a form may print ("Accession:"): known labels may follow it on the same line.
FORM_LABEL = re.compile(r"[^\w]{0,4}[A-Za-z][A-Za-z0-9 #/'.-]{0,30}?:")
# A line that only says whose block follows ("To", "From"): "Name:" and numbers in it are theirs.
BLOCKS = {"to": "to", "recipient": "to", "from": "from", "sender": "from"}
