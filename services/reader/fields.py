"""Key fields of one document of a fax: each a hint with its page and confidence.

Stub of the interface the reader calls; the finder itself is being written."""

from __future__ import annotations

from collections.abc import Sequence

from shared.contracts import DocumentType, FoundField


def find_fields(pages: Sequence[str], first_page: int, doc_type: DocumentType) -> list[FoundField]:
    """The key fields of a document whose pages' texts are ``pages``, the first being page
    ``first_page`` of the fax. Never raises on any text; fields not found are left out."""
    del pages, first_page, doc_type
    return []
