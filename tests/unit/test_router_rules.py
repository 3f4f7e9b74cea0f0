"""The routing rules file: matching, fan-out, defaults, and refusal naming the line."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from services.router.rules import (
    TEXT_MAX_CHARS,
    Rules,
    RulesError,
    check_topic_template,
    deliveries,
    destinations,
    load_rules,
    normalise_number,
)
from shared.contracts import DocumentFound, DocumentType
from tests.builders import APP_ID, stored
from tests.reads import document, read_of

ROOT = Path(__file__).resolve().parents[2]

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


# --- conditions on content: judged on the read fax only -----------------------------------


def content_rule(tmp_path: Path, match: str, **rule: str) -> Rules:
    extra = "".join(f"    {k}: {v}\n" for k, v in rule.items())
    return rules(
        tmp_path,
        f"rules:\n  - name: r\n    match:\n      {match}\n    topics: [faxes.team.x]\n{extra}",
    )


@pytest.mark.parametrize(
    ("match", "documents", "matches"),
    [
        ("document_types: [referral]", [document(DocumentType.REFERRAL)], True),
        ("document_types: [referral]", [document(DocumentType.LAB_RESULT)], False),
        (
            "document_types: [lab_result]",
            [document(DocumentType.COVER_SHEET), document(DocumentType.LAB_RESULT)],
            True,
        ),
        ("document_types: [referral]", [], False),
        ("only_document_types: [junk, cover_sheet]", [document(DocumentType.JUNK)], True),
        (
            "only_document_types: [junk, cover_sheet]",
            [document(DocumentType.JUNK), document(DocumentType.REFERRAL)],
            False,
        ),
        ("min_confidence: 0.9", [document(confidence=0.95)], True),
        ("min_confidence: 0.9", [document(confidence=0.5)], False),
        ("max_confidence: 0.6", [document(confidence=0.5)], True),
        ("max_confidence: 0.6", [document(confidence=0.95)], False),
        ("needs_review: true", [document(needs_review=True, confidence=0.3)], True),
        ("needs_review: true", [document()], False),
        ("needs_review: false", [document()], True),
        ("fields_present: [npi, mrn]", [document(npi="1234567893", mrn="A1")], True),
        ("fields_present: [npi, mrn]", [document(npi="1234567893")], False),
        ("field_patterns: {npi: '^123'}", [document(npi="1234567893")], True),
        ("field_patterns: {npi: '^999'}", [document(npi="1234567893")], False),
        ("field_patterns: {mrn: '^A'}", [document()], False),
        ("text_pattern: '(?i)urgent referral'", [document()], True),
        ("text_pattern: 'nowhere to be found'", [document()], False),
    ],
)
def test_each_content_condition_matches_what_it_names(
    tmp_path: Path, match: str, documents: list[DocumentFound], matches: bool
) -> None:
    fax = stored()
    read = read_of(fax, *documents, text="Re: URGENT Referral for a patient")
    loaded = content_rule(tmp_path, match)
    assert ("faxes.team.x" in destinations(fax, loaded, TEMPLATE, read)) is matches


def test_document_conditions_hold_for_one_document_at_once(tmp_path: Path) -> None:
    """A confident lab result and an unsure referral are not a confident referral."""
    fax = stored()
    read = read_of(
        fax, document(DocumentType.LAB_RESULT, 0.99), document(DocumentType.REFERRAL, 0.4)
    )
    loaded = content_rule(tmp_path, "{document_types: [referral], min_confidence: 0.8}")
    assert "faxes.team.x" not in destinations(fax, loaded, TEMPLATE, read)


def test_a_rule_on_content_never_matches_a_stored_fax(tmp_path: Path) -> None:
    fax = stored()
    loaded = content_rule(tmp_path, "needs_review: false", instead_of_user_topic="true")
    assert destinations(fax, loaded, TEMPLATE) == [f"faxes.user.{fax.fax.user_id}"]
    read = read_of(fax, document())
    assert destinations(fax, loaded, TEMPLATE, read) == ["faxes.team.x"]


def test_conditions_on_the_notice_and_the_content_must_both_hold(tmp_path: Path) -> None:
    fax = stored(pages=2)
    loaded = content_rule(tmp_path, "{min_pages: 5, document_types: [referral]}")
    assert "faxes.team.x" not in destinations(fax, loaded, TEMPLATE, read_of(fax, document()))


def test_each_topic_gets_the_formats_its_rules_ask_for(tmp_path: Path) -> None:
    fax = stored()
    loaded = rules(
        tmp_path,
        """
rules:
  - {name: a, match: {document_types: [referral]}, topics: [faxes.fhir], format: fhir}
  - {name: b, topics: [faxes.both], format: both}
  - {name: c, topics: [faxes.fhir]}
""",
    )
    got = deliveries(fax, loaded, TEMPLATE, read_of(fax, document()))
    assert got == {
        f"faxes.user.{fax.fax.user_id}": {"cloudevent"},
        "faxes.fhir": {"fhir", "cloudevent"},
        "faxes.both": {"fhir", "cloudevent"},
    }


def test_a_catastrophic_pattern_runs_in_linear_time_on_a_hostile_fax(tmp_path: Path) -> None:
    """`(a+)+$` backtracks for ever in Python's re on 'aaa…b'; RE2 does not backtrack."""
    fax = stored()
    loaded = content_rule(tmp_path, "text_pattern: '(a+)+$'")
    hostile = read_of(fax, document(), text="a" * 30_000 + "!")
    started = time.monotonic()
    assert "faxes.team.x" not in destinations(fax, loaded, TEMPLATE, hostile)
    assert time.monotonic() - started < 1.0


def test_text_past_the_bound_is_not_searched(tmp_path: Path) -> None:
    fax = stored()
    loaded = content_rule(tmp_path, "text_pattern: 'NEEDLE'")
    far = read_of(fax, document(), text="x" * TEXT_MAX_CHARS + "NEEDLE")
    near = read_of(fax, document(), text="x" * 100 + "NEEDLE")
    assert "faxes.team.x" not in destinations(fax, loaded, TEMPLATE, far)
    assert "faxes.team.x" in destinations(fax, loaded, TEMPLATE, near)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "rules:\n  - name: a\n    match:\n      text_pattern: '(a)\\1'\n    topics: [x]\n",
            4,
            "RE2",
        ),
        (
            "rules:\n  - name: a\n    match:\n      text_pattern: '(?=a)b'\n    topics: [x]\n",
            4,
            "RE2",
        ),
        (
            "rules:\n  - name: a\n    match:\n      field_patterns: {npi: '(x'}\n    topics: [x]\n",
            4,
            "RE2",
        ),
        (
            "rules:\n  - name: a\n    match:\n      field_patterns: {shoe_size: x}\n"
            "    topics: [x]\n",
            4,
            "shoe_size",
        ),
        (
            "rules:\n  - name: a\n    match:\n      document_types: [memo]\n    topics: [x]\n",
            4,
            "document_types",
        ),
        (
            "rules:\n  - name: a\n    match:\n      min_confidence: 1.5\n    topics: [x]\n",
            4,
            "min_confidence",
        ),
        ("rules:\n  - name: a\n    topics: [x]\n    format: hl7v2\n", 4, "format"),
        ("rules:\n  - name: a\n    topics: [fax.stored]\n", 3, "pipeline topic"),
        (
            "rules:\n  - name: a\n    match:\n      text_pattern: '" + "a" * 1001 + "'\n"
            "    topics: [x]\n",
            4,
            "at most",
        ),
    ],
)
def test_an_invalid_content_rule_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(RulesError) as caught:
        rules(tmp_path, text)
    message = str(caught.value)
    assert words in message
    assert f"line {line}" in message


def test_the_shipped_example_rules_load_and_route_by_content() -> None:
    example = load_rules(ROOT / "deploy/router/rules.example.yaml")
    fax = stored()
    user = f"faxes.user.{fax.fax.user_id}"
    referral = read_of(fax, document(DocumentType.COVER_SHEET), document(DocumentType.REFERRAL))
    unsure = read_of(fax, document(DocumentType.LAB_RESULT, 0.4, needs_review=True))
    junk = read_of(fax, document(DocumentType.COVER_SHEET), document(DocumentType.JUNK, 0.97))
    mixed = read_of(fax, document(DocumentType.JUNK, 0.97), document(DocumentType.REFERRAL))
    assert destinations(fax, example, TEMPLATE) == [user]
    assert destinations(fax, example, TEMPLATE, referral) == [user, "faxes.type.referral"]
    assert destinations(fax, example, TEMPLATE, unsure) == [user, "faxes.review"]
    assert destinations(fax, example, TEMPLATE, junk) == ["faxes.junk"]
    assert destinations(fax, example, TEMPLATE, mixed) == [user, "faxes.type.referral"]


def test_the_rules_in_the_platform_docs_load(tmp_path: Path) -> None:
    docs = (ROOT / "docs/platform.md").read_text()
    section = docs.split("## Routing rules", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = rules(tmp_path, block)
    assert [r.format for r in loaded.rules] == ["both", "cloudevent"]
