"""Where each document of a fax begins. A page starts one when it prints 'Page 1' (of N), or
its heading has a letterhead (phone and fax numbers) or a document's title, or it names another
patient in a labelled field than the document so far. A page that prints 'Page 2' or more or
'continued', a page with none of these, and a blank page go on with the page before."""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from services.reader.classify import MAX_DOCUMENT_CHARS, Rules, title_score, top_lines, words

PAGE_OF = re.compile(r"\bpage\s{0,3}(\d{1,3}?)\s{0,3}[o0]?[o0]f\s{0,3}\d", re.IGNORECASE)
"""'Page 2 of 3', and as OCR reads it: 'Page 20f 3', 'Page 2o0f3'."""
PAGE_ALONE = re.compile(r"\bpage\s{0,3}(\d{1,3})\b", re.IGNORECASE)
PATIENT_LINE = re.compile(
    r"^\W{0,3}(?:patient(?: name)?|pt\.? name|member name|name)\s{0,3}\W{0,3}\s{0,3}(.{3,60})$",
    re.IGNORECASE | re.MULTILINE,
)
CONTINUED = re.compile(r"\bcontinued\b|\(cont(?:'d|\.)?\)", re.IGNORECASE)
LETTERHEAD = re.compile(r"\b(?:phone|tel|ph)\b[^\n]{0,30}\d[^\n]{0,40}\bfax\b", re.IGNORECASE)
"""A sender's phone and fax numbers at the top of a page: a letterhead, so a first page."""
START_TITLE = 4.0
"""A title of at least this weight in a page's heading starts a document."""


def page_number(text: str) -> int | None:
    """The document's own page number printed on a page ('Page 2 of 3', 'Page 2'), if any."""
    text = text[:MAX_DOCUMENT_CHARS]
    found = PAGE_OF.search(text) or PAGE_ALONE.search(text)
    return int(found.group(1)) if found else None


def patient(text: str, rules: Rules) -> str:
    """The patient a page's heading names in a labelled field ('Patient: ...'), letters only."""
    found = PATIENT_LINE.search(top_lines(text, rules.title_lines + 4))
    return "".join(c for c in found.group(1).lower() if c.isalpha()) if found else ""


def same_person(a: str, b: str) -> bool:
    return SequenceMatcher(None, a, b).ratio() >= 0.75


def starts_document(text: str, rules: Rules, current_patient: str) -> bool:
    """Whether a page (not the fax's first) begins a new document; ``current_patient`` is the
    patient the document so far names in a labelled field ('' if none)."""
    if not words(text[:MAX_DOCUMENT_CHARS]):
        return False
    number = page_number(text)
    if number is not None:
        return number <= 1
    heading = top_lines(text, rules.title_lines)
    if CONTINUED.search(heading):
        return False
    if LETTERHEAD.search(heading):
        return True
    if max(title_score(rules, heading).values(), default=0.0) >= START_TITLE:
        return True
    named = patient(text, rules)
    return bool(named and current_patient) and not same_person(named, current_patient)


def split(pages: Sequence[str], rules: Rules) -> list[tuple[int, int]]:
    """The documents of a fax as (first_page, last_page), 1-based and inclusive, in order."""
    if not pages:
        return []
    starts = [1]
    current = patient(pages[0], rules)
    for number, text in enumerate(pages[1:], start=2):
        if starts_document(text, rules, current):
            starts.append(number)
            current = patient(text, rules)
        else:
            current = current or patient(text, rules)
    ends = [s - 1 for s in starts[1:]] + [len(pages)]
    return list(zip(starts, ends, strict=True))
