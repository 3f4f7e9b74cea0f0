"""`python -m bench understand`: document types, fields and splits on the sandbox corpus.

Faxes of 1 to 6 pages of sandbox documents (seeds from --seed, both resolutions), read two
ways: the exact text of the ground truth, and what the reader really gets, the OCR of the
rendered pages (the reader's own `read_fax` with its default OCR options; cached per
fax's content under .faxrelay-cache/understand-ocr). On each:
- type: each true document's text typed by the rules (accuracy per type, confusion matrix),
  and by a model trained (`services.reader.train.fit`) on the documents of the first half of
  the faxes and tested on the second half;
- fields: `find_fields` per true document against the ground truth's fields (names compared
  in any case, whitespace collapsed), precision and recall per field;
- split: each page after a fax's first either starts a document or goes on with the one before
  (`understand`'s documents against the truth's), and the faxes split exactly right.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.documents import Documents, ground_truth
from sandbox.settings import Content, Resolution, SandboxSettings
from services.reader.classify import RulesClassifier, load_model, load_rules
from services.reader.fields import find_fields
from services.reader.train import fit, write_model
from services.reader.understand import Understander, understand
from shared.contracts import DocumentType

CACHE = Path(".faxrelay-cache") / "understand-ocr"
TYPES = list(DocumentType)
SHORT = {t: "".join(part[0] for part in t.value.split("_")).upper()[:3] for t in TYPES}


@dataclass(frozen=True)
class SandboxFax:
    fax_id: str
    pages: int
    content_seed: int
    resolution: Resolution
    size_mb: float | None = None
    content: Content = "documents"
    completed_at: datetime = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    sending_fax_number: str = "+12125550147"
    receiving_fax_number: str = "+13125550199"


@dataclass(frozen=True)
class Sample:
    fax: SandboxFax
    truth: dict[str, Any]
    pages: list[str]


def cache_key(fax: SandboxFax, truth: dict[str, Any]) -> str:
    """What the fax's pages say and how they are set: a changed corpus is read again (after a
    change to `sandbox.render` alone, delete the cache folder)."""
    content = {
        "documents": truth["documents"],
        "pages": [p["text"] for p in truth["pages"]],
        "resolution": fax.resolution,
        "seed": fax.content_seed,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:24]


def faxes(seed: int, count: int) -> list[SandboxFax]:
    return [
        SandboxFax(
            fax_id=f"bench-understand-{seed + i}",
            pages=1 + i % 6,
            content_seed=seed + i,
            resolution="standard" if i % 3 == 2 else "fine",
        )
        for i in range(count)
    ]


def ocr_pages(fax: SandboxFax, truth: dict[str, Any]) -> list[str]:
    """The reader's text of the rendered fax, cached."""
    path = CACHE / f"{cache_key(fax, truth)}.json"
    if path.exists():
        cached: list[str] = json.loads(path.read_text())
        return cached
    from services.reader.logic import read_fax  # Tesseract only when not cached
    from services.reader.ocr import OcrOptions, PageReader
    from services.reader.pages import Limits

    data = Documents(SandboxSettings()).document(fax, "TIFF")
    reader = PageReader(OcrOptions())
    try:
        pages = [page.text for page in read_fax(data, Limits(), reader).pages]
    finally:
        reader.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(pages))
    return pages


def samples(all_faxes: Sequence[SandboxFax], source: str) -> list[Sample]:
    out = []
    for fax in all_faxes:
        truth = ground_truth(fax)
        assert truth is not None
        pages = [p["text"] for p in truth["pages"]] if source == "truth" else ocr_pages(fax, truth)
        out.append(Sample(fax, truth, pages))
    return out


def documents(s: Sample) -> list[tuple[str, DocumentType, dict[str, Any]]]:
    """(text, type, truth) of each true document of a fax."""
    return [
        (
            "\n".join(s.pages[d["first_page"] - 1 : d["last_page"]]),
            DocumentType(d["type"]),
            d,
        )
        for d in s.truth["documents"]
    ]


def without_heading(text: str) -> str:
    """A document's text without its first three lines after the fax header (title, sender):
    how much of the type rests on wording the rules were not written for."""
    lines = text.split("\n")
    return "\n".join(lines[:1] + lines[4:])


def confusion_table(pairs: Sequence[tuple[DocumentType, DocumentType]]) -> str:
    counts = Counter(pairs)
    head = "truth \\ typed " + "".join(f"{SHORT[t]:>5}" for t in TYPES) + "   right"
    lines = [head]
    for truth in TYPES:
        row = [counts[(truth, typed)] for typed in TYPES]
        total = sum(row)
        share = f"{100 * counts[(truth, truth)] / total:6.1f}%" if total else "     -"
        lines.append(f"{truth.value[:13]:<14}" + "".join(f"{n:>5}" for n in row) + f" {share}")
    lines.append("columns: " + ", ".join(f"{SHORT[t]}={t.value}" for t in TYPES))
    return "\n".join(lines)


def accuracy(pairs: Sequence[tuple[DocumentType, DocumentType]]) -> float:
    return sum(a == b for a, b in pairs) / max(1, len(pairs))


def comparable(name: str, value: str) -> str:
    """A field's value as compared with the truth: phone and fax numbers as digits, the rest
    in any case with whitespace collapsed (the contract's normal forms)."""
    if name in ("phone", "fax"):
        return "".join(char for char in value if char.isdigit())
    return " ".join(value.casefold().split())


def same_value(name: str, found: str, truth: str) -> bool:
    return comparable(name, found) == comparable(name, str(truth))


def field_scores(all_samples: Sequence[Sample]) -> dict[str, tuple[int, int, int]]:
    """Per field: (found, found right, in the truth)."""
    scores: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for s in all_samples:
        for _, doc_type, d in documents(s):
            texts = s.pages[d["first_page"] - 1 : d["last_page"]]
            truth = d["fields"]
            for name in truth:
                scores[name][2] += 1
            for f in find_fields(texts, d["first_page"], doc_type):
                scores[f.name.value][0] += 1
                scores[f.name.value][1] += f.name.value in truth and same_value(
                    f.name.value, f.value, truth[f.name.value]
                )
    return {k: (v[0], v[1], v[2]) for k, v in sorted(scores.items())}


def split_scores(all_samples: Sequence[Sample], u: Understander) -> tuple[float, float]:
    """(page boundaries right, faxes split exactly right)."""
    right = total = exact = 0
    for s in all_samples:
        truth = {d["first_page"] for d in s.truth["documents"]}
        found = {d.first_page for d in understand(s.pages, u, lambda *_: []).documents}
        pages = range(2, len(s.pages) + 1)
        right += sum((n in truth) == (n in found) for n in pages)
        total += len(pages)
        exact += truth == found
    return right / max(1, total), exact / max(1, len(all_samples))


def ratio(a: int, b: int) -> str:
    return f"{a / b:.4f}" if b else "n/a"


def measure(all_samples: list[Sample], label: str, model_path: Path) -> dict[str, str]:
    rules = load_rules()
    by_rules = RulesClassifier(rules)
    typed = [(t, by_rules.classify(text).type) for s in all_samples for text, t, _ in documents(s)]
    headless = [
        (t, by_rules.classify(without_heading(text)).type)
        for s in all_samples
        for text, t, _ in documents(s)
    ]
    half = len(all_samples) // 2
    train_docs = [(text, t) for s in all_samples[:half] for text, t, _ in documents(s)]
    test_docs = [(text, t) for s in all_samples[half:] for text, t, _ in documents(s)]
    model_pairs: list[tuple[DocumentType, DocumentType]] = []
    if len({t for _, t in train_docs}) >= 2 and test_docs:
        write_model(fit([x for x, _ in train_docs], [t.value for _, t in train_docs]), model_path)
        model = load_model(model_path)
        model_pairs = [(t, model.classify(text).type) for text, t in test_docs]
    fields = field_scores(all_samples)
    found = sum(v[0] for v in fields.values())
    found_right = sum(v[1] for v in fields.values())
    in_truth = sum(v[2] for v in fields.values())
    split, exact = split_scores(all_samples, Understander(rules, by_rules, 0.6))
    print(f"\n== {label}: {len(all_samples)} faxes, {len(typed)} documents ==")
    print(f"-- type by the rules: {100 * accuracy(typed):.1f}% of {len(typed)} documents")
    print(confusion_table(typed))
    print(
        f"-- type by the rules without each document's first three lines (title, sender): "
        f"{100 * accuracy(headless):.1f}%"
    )
    if model_pairs:
        print(
            f"-- type by a model trained on {len(train_docs)} documents of the first half, "
            f"tested on {len(test_docs)} of the second: {100 * accuracy(model_pairs):.1f}%"
        )
        print(confusion_table(model_pairs))
    print("-- fields (find_fields on each true document): found, right, in truth, P, R")
    for name, (f, r, t) in fields.items():
        print(f"{name:<16}{f:>6}{r:>6}{t:>6}  {ratio(r, f):>7} {ratio(r, t):>7}")
    print(f"-- split: page boundaries right {100 * split:.1f}%, faxes exactly {100 * exact:.1f}%")
    return {
        "type_accuracy": f"{accuracy(typed):.4f}",
        "model_type_accuracy": f"{accuracy(model_pairs):.4f}" if model_pairs else "n/a",
        "field_precision": ratio(found_right, found),
        "field_recall": ratio(found_right, in_truth),
        "split_accuracy": f"{split:.4f}",
        "headless_type_accuracy": f"{accuracy(headless):.4f}",
        "split_exact": f"{exact:.4f}",
    }


def main(count: int, seed: int, ocr: bool = True) -> dict[str, str]:
    all_faxes = faxes(seed, count)
    model_path = CACHE / "bench-model.json"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    exact = measure(samples(all_faxes, "truth"), "exact ground-truth text", model_path)
    result = exact
    if ocr:
        started = time.monotonic()
        read = samples(all_faxes, "ocr")
        print(f"\n(OCR of {sum(f.pages for f in all_faxes)} pages, cached: "
              f"{time.monotonic() - started:.0f} s)")  # fmt: skip
        result = measure(read, "OCR of the rendered pages (what the reader gets)", model_path)
    print(
        "understand (exact text): "
        + " ".join(
            f"{k}={v}"
            for k, v in exact.items()
            if k not in ("split_exact", "headless_type_accuracy")
        )
    )
    print(
        "understand summary: "
        + " ".join(
            f"{k}={v}"
            for k, v in result.items()
            if k not in ("split_exact", "headless_type_accuracy")
        )
        + ("" if ocr else " (exact text, no OCR)")
    )
    return result
