"""A stored fax's bytes to its text, page by page: what the reader's stage calls."""

from __future__ import annotations

from dataclasses import dataclass

from services.reader.ocr import PageReader, PageText
from services.reader.pages import Limits, open_fax


@dataclass(frozen=True)
class FaxText:
    pages: list[PageText]

    @property
    def page_count(self) -> int:
        return len(self.pages)


def read_fax(data: bytes, limits: Limits, reader: PageReader) -> FaxText:
    """Every page's text; raises UnreadableFax with a reason code. One page in memory at once."""
    fax = open_fax(data, limits)
    try:
        return FaxText(
            [
                reader.read(index, fax.page(index).image, limits.dpi)
                for index in range(fax.page_count)
            ]
        )
    finally:
        fax.close()
