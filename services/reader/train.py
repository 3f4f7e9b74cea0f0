"""`faxrelay train FOLDER --out model.json`: a document-type model from labelled examples.

FOLDER holds one subfolder per type, named as the types are (referral, lab_result, ...); each
file in it is one example: a ``.txt`` file of text, or a fax (``.pdf``, ``.tif``, ``.tiff``)
read by the reader's own OCR. The model is TF-IDF over words (no numbers) and logistic
regression, from scikit-learn (the ``train`` extra), written as JSON the reader applies without
scikit-learn. The vocabulary comes from the examples: keep the file as you keep the faxes."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from services.reader.classify import MAX_DOCUMENT_CHARS, MODEL_FORMAT, WORD_PATTERN
from shared.contracts import DocumentType

TEXT_SUFFIXES = {".txt"}
FAX_SUFFIXES = {".pdf", ".tif", ".tiff"}
ReadFax = Callable[[bytes], str]


class TrainError(ValueError):
    """The examples cannot make a model; the message says which and why."""


def examples(folder: Path, read_fax: ReadFax | None = None) -> tuple[list[str], list[str]]:
    """(texts, labels) of a folder of one subfolder per type."""
    if not folder.is_dir():
        raise TrainError(f"{folder} is not a folder")
    known = {t.value for t in DocumentType}
    texts: list[str] = []
    labels: list[str] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name not in known:
            raise TrainError(f"{sub}: not a document type (one of: {', '.join(sorted(known))})")
        for path in sorted(p for p in sub.rglob("*") if p.is_file()):
            suffix = path.suffix.lower()
            if suffix in TEXT_SUFFIXES:
                text = path.read_text(errors="replace")
            elif suffix in FAX_SUFFIXES and read_fax is not None:
                text = read_fax(path.read_bytes())
            else:
                continue
            texts.append(text[:MAX_DOCUMENT_CHARS])
            labels.append(sub.name)
    return texts, labels


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    ngrams: int = 2,
    min_df: int = 2,
    max_features: int = 20_000,
) -> dict[str, Any]:
    """The model as the JSON the reader loads (``classify.load_model``)."""
    counts = Counter(labels)
    if len(counts) < 2:
        raise TrainError(f"examples of at least two types are needed, found {dict(counts)}")
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise TrainError("scikit-learn is not installed: pip install 'faxrelay[train]'") from None
    vectorizer = TfidfVectorizer(
        lowercase=True,
        token_pattern=WORD_PATTERN,
        ngram_range=(1, ngrams),
        sublinear_tf=True,
        min_df=min(min_df, len(texts)),
        max_features=max_features,
    )
    try:
        x = vectorizer.fit_transform([t[:MAX_DOCUMENT_CHARS] for t in texts])
    except ValueError as error:  # no word in any example
        raise TrainError(f"the examples have no usable words: {error}") from None
    model = LogisticRegression(C=10.0, max_iter=2000)
    model.fit(x, list(labels))
    classes = [str(c) for c in model.classes_]
    coef = [[round(float(v), 6) for v in row] for row in model.coef_]
    intercept = [round(float(v), 6) for v in model.intercept_]
    if len(classes) == 2:  # one row for two classes: as softmax, the first scores 0
        coef = [[0.0] * len(coef[0]), coef[0]]
        intercept = [0.0, intercept[0]]
    return {
        "format": MODEL_FORMAT,
        "version": 1,
        "classes": classes,
        "ngrams": ngrams,
        "vocabulary": {str(k): int(v) for k, v in sorted(vectorizer.vocabulary_.items())},
        "idf": [round(float(v), 6) for v in vectorizer.idf_],
        "coef": coef,
        "intercept": intercept,
        "examples": dict(sorted(counts.items())),
    }


def write_model(model: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(model, separators=(",", ":")))


def read_fax_text(data: bytes) -> str:
    """A fax's text by the reader's own OCR, pages joined."""
    from services.reader.logic import read_fax  # Tesseract: only for faxes among the examples
    from services.reader.ocr import OcrOptions, PageReader
    from services.reader.pages import Limits

    reader = PageReader(OcrOptions())
    try:
        return "\n".join(page.text for page in read_fax(data, Limits(), reader).pages)
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    """`faxrelay train FOLDER --out model.json [--min-df N]`."""
    parser = argparse.ArgumentParser(prog="faxrelay train", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=Path("model.json"))
    parser.add_argument("--min-df", type=int, default=2)
    a = parser.parse_args(argv)
    try:
        texts, labels = examples(a.folder, read_fax_text)
        model = fit(texts, labels, min_df=max(1, a.min_df))
        write_model(model, a.out)
    except (TrainError, OSError) as error:
        print(f"faxrelay train: {error}", file=sys.stderr)
        return 2
    per_type = ", ".join(f"{k} {v}" for k, v in model["examples"].items())
    print(f"trained on {len(texts)} examples ({per_type}); {len(model['idf'])} terms")
    print(f"wrote {a.out}; set FAXRELAY_READER_MODEL_PATH={a.out} for the reader to use it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
