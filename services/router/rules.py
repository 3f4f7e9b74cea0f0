"""The routing rules file: who gets a fax besides its owner, checked line by line at start."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.contracts import FaxStored

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
SAMPLE_USER = uuid.UUID(int=0)


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


class Match(BaseModel):
    """Every given field must match (AND); lists match any of their values (OR)."""

    model_config = ConfigDict(extra="forbid")

    user_ids: list[uuid.UUID] = Field(default_factory=list)
    app_ids: list[uuid.UUID] = Field(default_factory=list)
    receiving_numbers: list[str] = Field(default_factory=list)
    sending_number_prefixes: list[str] = Field(default_factory=list)
    sending_number_pattern: re.Pattern[str] | None = None
    tsid_pattern: re.Pattern[str] | None = None
    min_pages: int | None = Field(default=None, ge=0)
    max_pages: int | None = Field(default=None, ge=0)

    def matches(self, fax: FaxStored) -> bool:
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


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    match: Match = Field(default_factory=Match)
    topics: list[str] = Field(min_length=1)
    instead_of_user_topic: bool = False

    @field_validator("topics")
    @classmethod
    def _valid_topics(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            if not TOPIC_NAME.match(topic):
                raise ValueError(f"{topic!r} is not a valid topic name")
        return topics


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    default_topics: list[str] = Field(
        default_factory=list, description="Extra topics for faxes no rule matched."
    )


def _line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if part < len(node.value) else None
        else:
            found = None
        if found is None:
            break
        node = found
    line: int = node.start_mark.line
    return line + 1


def load_rules(path: Path) -> Rules:
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise RulesError(f"{path}: not valid YAML: {error}") from None
    try:
        return Rules.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        line = _line_of(node, first["loc"]) if node is not None else 1
        where = ".".join(str(p) for p in first["loc"])
        raise RulesError(f"{path}, line {line}: {where}: {first['msg']}") from None


def destinations(fax: FaxStored, rules: Rules, template: str) -> list[str]:
    """Every topic this fax goes to: the user's unless a matching rule says instead, plus the
    topics of every matching rule, or the default topics when none matched."""
    matched = [rule for rule in rules.rules if rule.match.matches(fax)]
    topics: list[str] = []
    if not any(rule.instead_of_user_topic for rule in matched):
        topics.append(user_topic(template, fax.fax.user_id))
    for rule in matched:
        topics.extend(rule.topics)
    if not matched:
        topics.extend(rules.default_topics)
    return list(dict.fromkeys(topics))
