"""What a fax is, from its pages' text: the documents in it (split), each one's type with a
confidence (classify) and its key fields (find_fields), and the fax's main type.

Plain functions of text: no I/O. Any text gives a result (none, for a fax without words);
fax text and fields are PHI and are never logged here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.reader import fields
from services.reader.classify import (
    MAX_DOCUMENT_CHARS,
    Classifier,
    Rules,
    RulesClassifier,
    load_model,
    load_rules,
    words,
)
from services.reader.split import split
from shared.contracts import DocumentFound, DocumentType, FoundField

log = logging.getLogger("faxrelay.reader")

FieldFinder = Callable[[Sequence[str], int, DocumentType], list[FoundField]]


@dataclass(frozen=True)
class Understanding:
    documents: list[DocumentFound]
    document_type: DocumentType | None
    needs_review: bool
    understood_by: str


@dataclass(frozen=True)
class Understander:
    """What typing a fax needs: the rules (they split, and type unless a model does), the
    classifier and the confidence below which a document needs review."""

    rules: Rules
    classifier: Classifier
    threshold: float


def understander(
    rules_file: Path | None, model_file: Path | None, threshold: float
) -> Understander:
    """Built at start: a rules or model file that does not check raises (RulesError, ModelError)."""
    rules = load_rules(rules_file)
    classifier: Classifier = load_model(model_file) if model_file else RulesClassifier(rules)
    return Understander(rules, classifier, threshold)


def main_type(documents: Sequence[DocumentFound]) -> DocumentType | None:
    """The first document that is not a cover sheet; a cover sheet alone is cover_sheet."""
    for document in documents:
        if document.type != DocumentType.COVER_SHEET:
            return document.type
    return documents[0].type if documents else None


def understand(
    pages: Sequence[str], u: Understander, find_fields: FieldFinder = fields.find_fields
) -> Understanding:
    """The documents of a fax whose pages' texts are ``pages`` (a blank page's is empty)."""
    documents: list[DocumentFound] = []
    if any(words(page[:MAX_DOCUMENT_CHARS]) for page in pages):
        for first, last in split(pages, u.rules):
            texts = pages[first - 1 : last]
            typed = u.classifier.classify("\n".join(t[:MAX_DOCUMENT_CHARS] for t in texts))
            previous = documents[-1] if documents else None
            if previous and previous.type == typed.type == DocumentType.JUNK:
                documents[-1] = previous.model_copy(update={"last_page": last})
                continue  # one mailing, however many pages
            documents.append(
                DocumentFound(
                    first_page=first,
                    last_page=last,
                    type=typed.type,
                    confidence=typed.confidence,
                    needs_review=typed.confidence < u.threshold,
                    fields=found_fields(find_fields, texts, first, typed.type),
                )
            )
    return Understanding(
        documents=documents,
        document_type=main_type(documents),
        needs_review=any(d.needs_review for d in documents),
        understood_by=u.classifier.name,
    )


def found_fields(
    find_fields: FieldFinder, texts: Sequence[str], first: int, doc_type: DocumentType
) -> list[FoundField]:
    """The finder's fields, or none if it fails (said without any of the text)."""
    try:
        return find_fields(texts, first, doc_type)
    except Exception as error:  # a bug in the finder must not lose the fax's type
        log.error("field finder failed on a %s document: %s", doc_type.value, type(error).__name__)
        return []
