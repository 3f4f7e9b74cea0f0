"""Precision and recall of the reader's field finder on sandbox faxes of documents.

``python -m tests.fields_measure`` scores `find_fields` on the sandbox's ground-truth text of
many faxes; ``--ocr N`` renders N faxes as the sandbox serves them (group-4 TIFF) and reads them
with the reader's OCR first (about a second a page on a loaded machine; ``--cache FILE`` keeps
the text read per fax, to score again, against the truth as it is then, without reading).
Each document is given its true type and page range, so only the fields are measured. A field
is right when its value equals the truth's: names and text compared case-insensitively with
whitespace collapsed, phone and fax numbers as digits."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.understand import comparable
from sandbox.documents import ground_truth
from sandbox.settings import Content, Resolution
from services.reader.fields import find_fields
from shared.contracts import DocumentType

Document = tuple[dict[str, Any], list[str]]
"""A document of the truth with the texts of all its fax's pages."""


@dataclass(frozen=True)
class SandboxFax:
    fax_id: str
    pages: int
    content_seed: int
    resolution: Resolution = "fine"
    size_mb: float | None = None
    completed_at: datetime = datetime(2026, 1, 2, tzinfo=UTC)
    content: Content = "documents"
    sending_fax_number: str = "+15550100123"
    receiving_fax_number: str = "+15550100456"


def sandbox_fax(seed: int) -> SandboxFax:
    """Faxes of 1 to 5 pages, one in four at standard resolution."""
    return SandboxFax(f"F{seed}", 1 + seed % 5, seed, "standard" if seed % 4 == 0 else "fine")


def truth_documents(seeds: Iterable[int]) -> Iterator[Document]:
    for seed in seeds:
        truth = ground_truth(sandbox_fax(seed))
        assert truth is not None
        texts = [page["text"] for page in truth["pages"]]
        yield from ((document, texts) for document in truth["documents"])


def ocr_texts(seeds: Iterable[int]) -> Iterator[tuple[int, list[str]]]:
    """Each fax's seed and its pages' texts as the reader reads them from the rendered fax."""
    from sandbox.documents import Documents
    from sandbox.settings import SandboxSettings
    from services.reader.logic import read_fax
    from services.reader.ocr import OcrOptions, PageReader
    from services.reader.pages import Limits

    rendered = Documents(SandboxSettings(content="documents"))
    reader = PageReader(OcrOptions())
    try:
        for seed in seeds:
            text = read_fax(rendered.document(sandbox_fax(seed), "TIFF"), Limits(), reader)
            yield seed, [page.text for page in text.pages]
    finally:
        reader.close()


def read_documents(texts: dict[int, list[str]]) -> Iterator[Document]:
    """The truth's documents of each fax with the texts read from it."""
    for seed, pages in texts.items():
        truth = ground_truth(sandbox_fax(seed))
        assert truth is not None
        yield from ((document, pages) for document in truth["documents"])


@dataclass
class Score:
    truth: Counter[str] = field(default_factory=Counter)
    reported: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)

    def precision(self, name: str | None = None) -> float:
        right, said = self._totals(name, self.reported)
        return right / said if said else 1.0

    def recall(self, name: str | None = None) -> float:
        right, known = self._totals(name, self.truth)
        return right / known if known else 1.0

    def _totals(self, name: str | None, of: Counter[str]) -> tuple[int, int]:
        if name is None:
            return sum(self.correct.values()), sum(of.values())
        return self.correct[name], of[name]

    def table(self) -> str:
        lines = [f"{'field':<16}{'truth':>7}{'reported':>9}{'correct':>8}{'precision':>10}"]
        lines[0] += f"{'recall':>8}"
        for name in [*sorted(set(self.truth) | set(self.reported)), None]:
            counts = (self.truth, self.reported, self.correct)
            numbers = [sum(c.values()) if name is None else c[name] for c in counts]
            lines.append(
                f"{name or 'all':<16}{numbers[0]:>7}{numbers[1]:>9}{numbers[2]:>8}"
                f"{self.precision(name):>10.3f}{self.recall(name):>8.3f}"
            )
        return "\n".join(lines)


def score(documents: Iterable[Document], floor: float = 0.0) -> Score:
    """Fields found at a confidence of at least ``floor`` against the truth."""
    result = Score()
    for document, texts in documents:
        wanted = {name: comparable(name, value) for name, value in document["fields"].items()}
        pages = texts[document["first_page"] - 1 : document["last_page"]]
        found = find_fields(pages, document["first_page"], DocumentType(document["type"]))
        result.truth.update(wanted.keys())
        for item in found:
            if item.confidence >= floor:
                result.reported[item.name.value] += 1
                right = wanted.get(item.name.value) == comparable(item.name, item.value)
                result.correct[item.name.value] += right
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fields_measure", description=__doc__)
    parser.add_argument("--faxes", type=int, default=400, help="faxes of truth text")
    parser.add_argument("--ocr", type=int, default=0, help="faxes to render and OCR instead")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="JSON file of the OCR text: kept, reused")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + (args.ocr or args.faxes))
    if not args.ocr:
        documents = list(truth_documents(seeds))
    else:
        read: dict[int, list[str]] = {}
        if args.cache and args.cache.exists():
            read = {int(seed): pages for seed, pages in json.loads(args.cache.read_text()).items()}
        read |= dict(ocr_texts(seed for seed in seeds if seed not in read))
        if args.cache:
            args.cache.write_text(json.dumps(read))
        documents = list(read_documents({seed: read[seed] for seed in seeds}))
    print(f"{'OCR of' if args.ocr else 'truth text of'} {len(seeds)} faxes")
    print(score(documents).table())
    for floor in (0.8, 0.9):
        sure = score(documents, floor)
        print(f"confidence >= {floor}: precision {sure.precision():.3f} recall {sure.recall():.3f}")


if __name__ == "__main__":
    main()
