"""Where each document of a fax begins: a page numbered 1 (or bearing no number) whose heading
is a document's title starts one; a page numbered 2 or more, or 'continued', or with no title
goes on with the one before. Blank pages go with the page before them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.reader.classify import MAX_DOCUMENT_CHARS, Rules, title_score, top_lines, words

PAGE_MARK = re.compile(r"\bpage\s{0,3}(\d{1,3})(?:\s{0,3}(?:of|/)\s{0,3}\d{1,3})?\b", re.IGNORECASE)
CONTINUED = re.compile(r"\bcontinued\b|\(cont(?:'d|\.)?\)", re.IGNORECASE)
LETTERHEAD = re.compile(r"\b(?:phone|tel|ph)\b[^\n]{0,30}\d[^\n]{0,40}\bfax\b", re.IGNORECASE)
"""A sender's phone and fax numbers at the top of a page: a letterhead, so a first page."""
START_TITLE = 4.0
"""A title of at least this weight in a page's heading starts a document."""


def page_number(text: str) -> int | None:
    """The document's own page number printed on a page ('Page 2 of 3', 'Page 2'), if any."""
    found = PAGE_MARK.search(text[:MAX_DOCUMENT_CHARS])
    return int(found.group(1)) if found else None


def starts_document(text: str, rules: Rules) -> bool:
    """Whether a page (not the fax's first) begins a new document."""
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
    titles = title_score(rules, heading)
    return bool(titles) and max(titles.values()) >= START_TITLE


def split(pages: Sequence[str], rules: Rules) -> list[tuple[int, int]]:
    """The documents of a fax as (first_page, last_page), 1-based and inclusive, in order."""
    if not pages:
        return []
    starts = [1] + [
        n for n, text in enumerate(pages, start=1) if n > 1 and starts_document(text, rules)
    ]
    ends = [s - 1 for s in starts[1:]] + [len(pages)]
    return list(zip(starts, ends, strict=True))
