"""The routing rules file: who gets a fax besides its owner, checked line by line at start.

A rule matches on what eFax said of a fax (numbers, TSID, pages, owner) and, once the fax is
read, on what the reader understood (document types, confidence, needs_review, fields, text).
Content conditions are judged on the read record only: a rule that has any never matches a
`fax.stored`. Patterns on fax text and fields are RE2 (google-re2): linear in the text, with no
backtracking, so no pattern can hang the router whatever the fax says; RE2 refuses at load what
it cannot run that way (backreferences, lookaround). Topic names are the file's own, literally:
nothing of a fax ever becomes part of one."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Annotated, Literal

import re2
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from shared.contracts import (
    PIPELINE_TOPICS,
    READ_TEXT_LIMIT_CHARS,
    DocumentFound,
    DocumentType,
    FaxRead,
    FaxStored,
    FieldName,
)
from shared.yaml_checked import load_checked

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
SAMPLE_USER = uuid.UUID(int=0)
PATTERN_MAX_CHARS = 1000
TEXT_MAX_CHARS = READ_TEXT_LIMIT_CHARS  # what a read record carries at most (its pages' text)
Format = Literal["cloudevent", "fhir", "both"]


class RulesError(ValueError):
    """The rules file is not valid; the message names the line at fault."""


def user_topic(template: str, user_id: uuid.UUID) -> str:
    return template.format(user_id=user_id)


def check_topic_template(template: str) -> str:
    """Refuse at start a template that could ever make an invalid topic name."""
    try:
        name = user_topic(template, SAMPLE_USER)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"topic template {template!r} is not valid: {error}") from None
    if "{user_id}" not in template or not TOPIC_NAME.match(name):
        raise ValueError(f"topic template {template!r} does not make a valid topic per user")
    return template


def normalise_number(number: str) -> str:
    """Digits only, North American numbers with their country code (+1 555... == 555...)."""
    digits = re.sub(r"\D", "", number)
    return "1" + digits if len(digits) == 10 else digits


class SafePattern:
    """An RE2 pattern: matching takes time linear in the text, never more."""

    def __init__(self, pattern: str) -> None:
        if len(pattern) > PATTERN_MAX_CHARS:
            raise ValueError(f"a pattern is at most {PATTERN_MAX_CHARS} characters")
        options = re2.Options()
        options.log_errors = False
        try:
            self.compiled = re2.compile(pattern, options)
        except re2.error as error:
            detail = error.args[0] if error.args else error
            if isinstance(detail, bytes):
                detail = detail.decode(errors="replace")
            raise ValueError(f"not a pattern RE2 can run in linear time: {detail}") from None
        self.pattern = pattern

    def search(self, text: str) -> bool:
        return self.compiled.search(text[:TEXT_MAX_CHARS]) is not None

    def __repr__(self) -> str:
        return f"SafePattern({self.pattern!r})"


def _safe(value: object) -> SafePattern:
    if isinstance(value, SafePattern):
        return value
    if not isinstance(value, str):
        raise ValueError("a pattern is a string")
    return SafePattern(value)


Pattern = Annotated[SafePattern, BeforeValidator(_safe)]


class Match(BaseModel):
    """Every given field must match (AND); lists match any of their values (OR). The content
    conditions (from `document_types` on) need the read fax."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    user_ids: list[uuid.UUID] = Field(default_factory=list)
    app_ids: list[uuid.UUID] = Field(default_factory=list)
    receiving_numbers: list[str] = Field(default_factory=list)
    sending_number_prefixes: list[str] = Field(default_factory=list)
    sending_number_pattern: re.Pattern[str] | None = None
    tsid_pattern: re.Pattern[str] | None = None
    min_pages: int | None = Field(default=None, ge=0)
    max_pages: int | None = Field(default=None, ge=0)
    # --- content: judged on the read fax (`fax.read`) only ---
    document_types: list[DocumentType] = Field(
        default_factory=list, description="Some document has one of these types."
    )
    only_document_types: list[DocumentType] = Field(
        default_factory=list, description="Every document has one of these types."
    )
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    max_confidence: float | None = Field(default=None, ge=0, le=1)
    needs_review: bool | None = None
    fields_present: list[FieldName] = Field(default_factory=list)
    field_patterns: dict[FieldName, Pattern] = Field(default_factory=dict)
    text_pattern: Pattern | None = None

    @property
    def judges_content(self) -> bool:
        return bool(
            self.document_types
            or self.only_document_types
            or self.min_confidence is not None
            or self.max_confidence is not None
            or self.needs_review is not None
            or self.fields_present
            or self.field_patterns
            or self.text_pattern is not None
        )

    def matches(self, fax: FaxStored, read: FaxRead | None = None) -> bool:
        """Whether the fax matches; a rule with content conditions needs `read`."""
        if not self.matches_notice(fax):
            return False
        if not self.judges_content:
            return True
        return read is not None and self.matches_content(read)

    def matches_content(self, read: FaxRead) -> bool:
        documents = read.documents
        checks = [
            self.needs_review is None or read.needs_review == self.needs_review,
            not self.only_document_types
            or (bool(documents) and all(d.type in self.only_document_types for d in documents)),
            self.text_pattern is None or self.text_pattern.search(fax_text(read)),
            not self.judges_documents or any(self.matches_document(d) for d in documents),
        ]
        return all(checks)

    @property
    def judges_documents(self) -> bool:
        return bool(
            self.document_types
            or self.min_confidence is not None
            or self.max_confidence is not None
            or self.fields_present
            or self.field_patterns
        )

    def matches_document(self, document: DocumentFound) -> bool:
        """One document meets every document condition (type, confidence, fields) at once."""
        found = {f.name for f in document.fields}
        checks = [
            not self.document_types or document.type in self.document_types,
            self.min_confidence is None or document.confidence >= self.min_confidence,
            self.max_confidence is None or document.confidence <= self.max_confidence,
            all(name in found for name in self.fields_present),
            all(
                any(f.name == name and pattern.search(f.value) for f in document.fields)
                for name, pattern in self.field_patterns.items()
            ),
        ]
        return all(checks)

    def matches_notice(self, fax: FaxStored) -> bool:
        f = fax.fax
        sending = normalise_number(f.sending_fax_number)
        checks = [
            not self.user_ids or f.user_id in self.user_ids,
            not self.app_ids or f.app_id in self.app_ids,
            not self.receiving_numbers
            or normalise_number(f.receiving_fax_number)
            in {normalise_number(n) for n in self.receiving_numbers},
            not self.sending_number_prefixes
            or any(sending.startswith(normalise_number(p)) for p in self.sending_number_prefixes),
            self.sending_number_pattern is None
            or bool(self.sending_number_pattern.search(f.sending_fax_number)),
            self.tsid_pattern is None or bool(self.tsid_pattern.search(f.originating_fax_tsid)),
            self.min_pages is None or (f.pages is not None and f.pages >= self.min_pages),
            self.max_pages is None or (f.pages is not None and f.pages <= self.max_pages),
        ]
        return all(checks)


def fax_text(read: FaxRead) -> str:
    """The text a read record carries (each page's, or its prefix), at most TEXT_MAX_CHARS."""
    return "\n".join(page.text for page in read.pages)[:TEXT_MAX_CHARS]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    match: Match = Field(default_factory=Match)
    topics: list[str] = Field(min_length=1)
    instead_of_user_topic: bool = False
    format: Format = Field(
        default="cloudevent",
        description="What the topics get: the CloudEvents, one FHIR R4 DocumentReference per "
        "document once the fax is read, or both.",
    )

    @field_validator("topics")
    @classmethod
    def _valid_topics(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            if not TOPIC_NAME.match(topic):
                raise ValueError(f"{topic!r} is not a valid topic name")
            if topic in PIPELINE_TOPICS:
                raise ValueError(f"{topic!r} is a pipeline topic, not a destination")
        return topics


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    default_topics: list[str] = Field(
        default_factory=list, description="Extra topics for faxes no rule matched."
    )


def load_rules(path: Path) -> Rules:
    """The rules of ``path``, checked; RulesError names the line at fault."""
    return load_checked(path, Rules, RulesError)


def deliveries(
    fax: FaxStored, rules: Rules, template: str, read: FaxRead | None = None
) -> dict[str, set[str]]:
    """Every topic this fax goes to, with what it gets there ("cloudevent", "fhir"): the user's
    topic (CloudEvents) unless a matching rule says instead, plus the topics of every matching
    rule, or the default topics when none matched. Without `read` (a `fax.stored`), rules with
    content conditions do not match."""
    matched = [rule for rule in rules.rules if rule.match.matches(fax, read)]
    topics: dict[str, set[str]] = {}
    if not any(rule.instead_of_user_topic for rule in matched):
        topics[user_topic(template, fax.fax.user_id)] = {"cloudevent"}
    for rule in matched:
        kinds = {"cloudevent", "fhir"} if rule.format == "both" else {rule.format}
        for topic in rule.topics:
            topics.setdefault(topic, set()).update(kinds)
    if not matched:
        for topic in rules.default_topics:
            topics.setdefault(topic, set()).add("cloudevent")
    return topics


def destinations(
    fax: FaxStored, rules: Rules, template: str, read: FaxRead | None = None
) -> list[str]:
    """The topics of `deliveries`, in order."""
    return list(deliveries(fax, rules, template, read))
