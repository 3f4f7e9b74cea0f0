"""A document's type with a confidence: from the rules file, or from a trained model.

The rules file (``document_rules.yaml`` beside this module, or the reader's
``reader_rules_path``) gives per type weighted titles, keywords and patterns; it is checked at
start and a fault is refused with its line. A trained model (``faxrelay train``) is a JSON file
of a TF-IDF vocabulary and a linear model's coefficients, applied here without scikit-learn:
loading it runs no code. Text is bounded before it is looked at (30,000 characters a document,
300 a line) and patterns that repeat a repeat are refused, so no fax text can make either slow
(the rules file itself is the platform team's: keep its patterns plain)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.contracts import DocumentType
from shared.yaml_checked import load_checked

DEFAULT_RULES = Path(__file__).with_name("document_rules.yaml")
MAX_DOCUMENT_CHARS = 30_000
"""Of a document's text, only so much is scored (the first pages say what it is)."""
MAX_LINE_CHARS = 300
MAX_PATTERN_CHARS = 200
TEMPERATURE = 2.0
"""Scores divided by this before the softmax: over nine types tied behind it, a lead of 6
points gives a confidence of 0.69, of 10 points 0.94."""
NESTED_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)\s*[+*{]")


class RulesError(ValueError):
    """The rules file is not valid; the message names the line at fault."""


class ModelError(ValueError):
    """The model file is not a model this reader can apply."""


def _pattern(text: str) -> re.Pattern[str]:
    if len(text) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    if NESTED_REPEAT.search(text):
        raise ValueError(f"pattern {text!r} repeats a repeat, which can be slow: simplify it")
    try:
        return re.compile(text, re.IGNORECASE | re.MULTILINE)
    except re.error as error:
        raise ValueError(f"pattern {text!r} is not a valid regular expression: {error}") from None


def _checked_pattern(text: str) -> str:
    _pattern(text)
    return text


def _checked_keyword(phrase: str) -> str:
    if not words(phrase):
        raise ValueError(f"keyword {phrase!r} has no letters or digits")
    return phrase


PatternText = Annotated[str, AfterValidator(_checked_pattern)]
Keyword = Annotated[str, AfterValidator(_checked_keyword)]
Weight = Annotated[float, Field(ge=-20, le=20)]


class TypeRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: Weight = 0.0
    titles: dict[PatternText, Weight] = Field(default_factory=dict)
    keywords: dict[Keyword, Weight] = Field(default_factory=dict)
    patterns: dict[PatternText, Weight] = Field(default_factory=dict)


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_lines: int = Field(default=12, ge=1, le=50)
    types: dict[DocumentType, TypeRules] = Field(min_length=1)


@dataclass(frozen=True)
class CompiledType:
    base: float
    titles: list[tuple[re.Pattern[str], float]]
    keywords: list[tuple[str, float]]
    patterns: list[tuple[re.Pattern[str], float]]


@dataclass(frozen=True)
class Rules:
    title_lines: int
    types: dict[DocumentType, CompiledType]

    @classmethod
    def of(cls, checked: RulesFile) -> Rules:
        return cls(
            checked.title_lines,
            {
                t: CompiledType(
                    r.base,
                    [(_pattern(p), w) for p, w in r.titles.items()],
                    [(f" {' '.join(words(k))} ", w) for k, w in r.keywords.items()],
                    [(_pattern(p), w) for p, w in r.patterns.items()],
                )
                for t, r in checked.types.items()
            },
        )


def load_rules(path: Path | None = None) -> Rules:
    """The rules of ``path`` (default: the shipped file), checked; RulesError names the line."""
    return Rules.of(load_checked(path or DEFAULT_RULES, RulesFile, RulesError))


WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lowercase runs of letters and digits (any script)."""
    return [w for w in WORD.findall(text.lower()) if w != "_"]


def bounded(text: str) -> str:
    """The part of a text that is looked at, each line cut to a sane length."""
    return "\n".join(line[:MAX_LINE_CHARS] for line in text[:MAX_DOCUMENT_CHARS].splitlines())


HEADING_LINE_CHARS = 80
"""A longer line is a sentence, not a heading."""
SUBJECT_LINE = re.compile(r"^[\W_]{0,4}(?:re|subject|regarding)\b", re.IGNORECASE)


def top_lines(text: str, count: int) -> str:
    """A page's heading: its first ``count`` lines with words, without sentences (long lines)
    and subject lines ('Re: Referral' on a cover sheet names what follows, not itself)."""
    lines = [line for line in text[:MAX_DOCUMENT_CHARS].splitlines() if words(line)]
    return "\n".join(
        line.strip()
        for line in lines[:count]
        if len(line.strip()) <= HEADING_LINE_CHARS and not SUBJECT_LINE.match(line)
    )


def title_score(rules: Rules, heading: str) -> dict[DocumentType, float]:
    """Per type, the weight of the titles found in a page's heading (best title only)."""
    found: dict[DocumentType, float] = {}
    for doc_type, r in rules.types.items():
        weights = [w for p, w in r.titles if p.search(heading)]
        if weights:
            found[doc_type] = max(weights)
    return found


def rule_scores(rules: Rules, text: str) -> dict[DocumentType, float]:
    body = bounded(text)
    padded = f" {' '.join(words(body))} "
    heading = top_lines(body, rules.title_lines)
    titles = title_score(rules, heading)
    scores: dict[DocumentType, float] = {}
    for doc_type, r in rules.types.items():
        score = r.base + titles.get(doc_type, 0.0)
        score += sum(w for phrase, w in r.keywords if phrase in padded)
        score += sum(w for p, w in r.patterns if p.search(body))
        scores[doc_type] = score
    return scores


def confident(scores: dict[DocumentType, float], temperature: float) -> tuple[DocumentType, float]:
    """The best type and its softmax share."""
    best = max(scores, key=lambda t: scores[t])
    top = scores[best]
    total = sum(math.exp((s - top) / temperature) for s in scores.values())
    return best, 1.0 / total


@dataclass(frozen=True)
class Typed:
    type: DocumentType
    confidence: float


class Classifier(Protocol):
    @property
    def name(self) -> str: ...

    def classify(self, text: str) -> Typed: ...


@dataclass(frozen=True)
class RulesClassifier:
    rules: Rules
    name: str = "rules"

    def classify(self, text: str) -> Typed:
        if not words(text[:MAX_DOCUMENT_CHARS]):
            return Typed(DocumentType.OTHER, 0.0)
        doc_type, confidence = confident(rule_scores(self.rules, text), TEMPERATURE)
        return Typed(doc_type, round(confidence, 3))


# --- the trained model: TF-IDF then a linear model, as JSON -----------------------------------

MODEL_FORMAT = "faxrelay-document-type-model"
WORD_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
"""Words of two letters or more: no numbers (dates, ids, phone numbers) in the vocabulary."""


def tokens(text: str) -> list[str]:
    return re.findall(WORD_PATTERN, text.lower())


def terms(text: str, ngrams: int) -> list[str]:
    """Unigrams up to ``ngrams``-grams, joined by a space (as scikit-learn's analyzer)."""
    found = tokens(text)
    out = list(found)
    for n in range(2, ngrams + 1):
        out += [" ".join(found[i : i + n]) for i in range(len(found) - n + 1)]
    return out


@dataclass(frozen=True)
class ModelClassifier:
    classes: list[DocumentType]
    vocabulary: dict[str, int]
    idf: list[float]
    coef: list[list[float]]
    intercept: list[float]
    ngrams: int
    name: str

    def classify(self, text: str) -> Typed:
        counts = Counter(
            self.vocabulary[t]
            for t in terms(text[:MAX_DOCUMENT_CHARS], self.ngrams)
            if t in self.vocabulary
        )
        if not counts:
            return Typed(DocumentType.OTHER, 0.0)
        x = {i: (1 + math.log(c)) * self.idf[i] for i, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in x.values())) or 1.0
        scores = {
            cls: self.intercept[k] + sum(self.coef[k][i] * v / norm for i, v in x.items())
            for k, cls in enumerate(self.classes)
        }
        doc_type, confidence = confident(scores, 1.0)
        return Typed(doc_type, round(confidence, 3))


def load_model(path: Path) -> ModelClassifier:
    """A model file written by ``faxrelay train``; ModelError says what is wrong with it."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: not a readable JSON model: {error}") from None
    try:
        if data.get("format") != MODEL_FORMAT:
            raise ModelError(f"{path}: not a {MODEL_FORMAT} file")
        classes = [DocumentType(c) for c in data["classes"]]
        vocabulary = {str(k): int(v) for k, v in data["vocabulary"].items()}
        idf = [float(v) for v in data["idf"]]
        coef = [[float(v) for v in row] for row in data["coef"]]
        intercept = [float(v) for v in data["intercept"]]
        ngrams = int(data["ngrams"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelError(f"{path}: not a valid model: {error}") from None
    size = len(idf)
    if (
        len(classes) < 2
        or len(coef) != len(classes)
        or len(intercept) != len(classes)
        or any(len(row) != size for row in coef)
        or any(not 0 <= i < size for i in vocabulary.values())
        or not 1 <= ngrams <= 3
    ):
        raise ModelError(f"{path}: the model's parts do not fit together")
    name = f"model:{hashlib.sha256(raw).hexdigest()[:12]}"
    return ModelClassifier(classes, vocabulary, idf, coef, intercept, ngrams, name)
