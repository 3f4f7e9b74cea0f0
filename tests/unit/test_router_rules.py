"""The routing rules file: matching, fan-out, defaults, and refusal naming the line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from services.router.rules import (
    Rules,
    RulesError,
    check_topic_template,
    destinations,
    load_rules,
    normalise_number,
)
from tests.builders import APP_ID, stored

TEMPLATE = "faxes.user.{user_id}"


def rules(tmp_path: Path, text: str) -> Rules:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules(path)


def test_without_rules_a_fax_goes_to_its_users_topic_only() -> None:
    fax = stored()
    assert destinations(fax, Rules(), TEMPLATE) == [f"faxes.user.{fax.fax.user_id}"]


@pytest.mark.parametrize(
    ("match", "fax_changes", "matches"),
    [
        ("user_ids: ['{user}']", {}, True),
        ("user_ids: ['{other}']", {}, False),
        (f"app_ids: ['{APP_ID}']", {}, True),
        ("receiving_numbers: ['+1 888 555 5555']", {"receiving_fax_number": "18885555555"}, True),
        ("receiving_numbers: ['8885555555']", {"receiving_fax_number": "+18885555555"}, True),
        ("receiving_numbers: ['18885550000']", {}, False),
        ("sending_number_prefixes: ['+1323']", {"sending_fax_number": "13235555555"}, True),
        ("sending_number_prefixes: ['1212']", {"sending_fax_number": "13235555555"}, False),
        ("sending_number_pattern: '^1323'", {"sending_fax_number": "13235555555"}, True),
        ("tsid_pattern: 'ACME'", {"originating_fax_tsid": "ACME CORP"}, True),
        ("tsid_pattern: 'ACME'", {"originating_fax_tsid": "unavailable"}, False),
        ("min_pages: 10", {"pages": 12}, True),
        ("min_pages: 10", {"pages": 2}, False),
        ("max_pages: 1", {"pages": 2}, False),
    ],
)
def test_each_rule_field_matches_what_it_names(
    tmp_path: Path, match: str, fax_changes: dict, matches: bool
) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    fax = stored(user_id=user, **fax_changes)
    loaded = rules(
        tmp_path,
        f"rules:\n  - name: r\n    match:\n      {match.format(user=user, other=other)}\n"
        "    topics: [faxes.team.x]\n",
    )
    assert ("faxes.team.x" in destinations(fax, loaded, TEMPLATE)) is matches


def test_several_matching_rules_fan_out_and_instead_drops_the_user_topic(tmp_path: Path) -> None:
    fax = stored(pages=30)
    loaded = rules(
        tmp_path,
        """
rules:
  - name: archive everything
    topics: [faxes.archive]
  - name: big faxes to the print room, not the user
    match: {min_pages: 20}
    topics: [faxes.team.print, faxes.priority]
    instead_of_user_topic: true
""",
    )
    assert destinations(fax, loaded, TEMPLATE) == [
        "faxes.archive",
        "faxes.team.print",
        "faxes.priority",
    ]


def test_the_default_topics_take_faxes_no_rule_matched(tmp_path: Path) -> None:
    loaded = rules(
        tmp_path,
        """
rules:
  - name: only big
    match: {min_pages: 100}
    topics: [faxes.big]
default_topics: [faxes.unmatched]
""",
    )
    fax = stored(pages=1)
    assert destinations(fax, loaded, TEMPLATE) == [
        f"faxes.user.{fax.fax.user_id}",
        "faxes.unmatched",
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("rules:\n  - name: a\n    topics: ['bad topic!']\n", 3, "valid topic"),
        ("rules:\n  - name: a\n    topics: [x]\n    colour: red\n", 4, "colour"),
        (
            "rules:\n  - name: a\n    match:\n      min_pages: many\n    topics: [x]\n",
            4,
            "min_pages",
        ),
        ("rules: [\n", 1, "YAML"),
    ],
)
def test_an_invalid_rules_file_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(RulesError) as caught:
        rules(tmp_path, text)
    message = str(caught.value)
    assert words in message
    if "YAML" not in words:
        assert f"line {line}" in message


@pytest.mark.parametrize("template", ["faxes.user", "faxes/{user_id}", "{nope}", "x" * 300])
def test_a_topic_template_that_cannot_make_valid_topics_is_refused(template: str) -> None:
    with pytest.raises(ValueError, match="template"):
        check_topic_template(template + ("{user_id}" if template == "x" * 300 else ""))


def test_numbers_compare_with_or_without_plus_and_country_code() -> None:
    assert normalise_number("+1 (888) 555-5555") == normalise_number("8885555555")
    assert normalise_number("+442079460000") == "442079460000"
