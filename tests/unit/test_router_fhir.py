"""The FHIR R4 DocumentReference of a document: type coding, hints as hints, the sender, the
attachment and the fax id; hostile text stays a JSON string."""

from __future__ import annotations

import json

import pytest

from services.router.fhir import (
    LOINC_CODES,
    document_reference,
    document_references,
    encoded,
    fhir_string,
    sha1_base64,
)
from shared.contracts import DocumentType
from tests.reads import document, read_of, stored_image

URL = "https://s3.example/faxes/key.pdf?sig=1"


@pytest.mark.parametrize("kind", list(DocumentType))
def test_the_type_is_coded_in_loinc_where_a_code_exists_and_named_always(
    kind: DocumentType,
) -> None:
    read = read_of(stored_image(), document(kind))
    concept = document_reference(read, read.documents[0], url=URL, sha1=None)["type"]
    assert concept["text"]
    if kind in LOINC_CODES:
        assert concept["coding"] == [
            {
                "system": "http://loinc.org",
                "code": LOINC_CODES[kind][0],
                "display": LOINC_CODES[kind][1],
            }
        ]
    else:
        assert "coding" not in concept


def test_a_referral_is_the_loinc_referral_note() -> None:
    assert LOINC_CODES[DocumentType.REFERRAL][0] == "57133-1"


def test_the_patient_is_a_hint_a_display_and_an_mrn_never_a_reference() -> None:
    fax = stored_image()
    read = read_of(fax, document(patient_name="Jane Example", dob="1960-01-02", mrn="MRN-0042"))
    resource = document_reference(read, read.documents[0], url=URL, sha1=None)
    subject = resource["subject"]
    assert "reference" not in subject
    assert subject["display"] == "Jane Example, born 1960-01-02"
    assert subject["identifier"]["value"] == "MRN-0042"
    assert subject["identifier"]["type"]["coding"][0]["code"] == "MR"


def test_without_patient_fields_there_is_no_subject() -> None:
    read = read_of(stored_image(), document())
    assert "subject" not in document_reference(read, read.documents[0], url=URL, sha1=None)


def test_the_fax_id_is_the_master_identifier_and_each_document_has_its_own_identifier() -> None:
    fax = stored_image()
    read = read_of(fax, document(pages=(1, 1)), document(pages=(2, 4)))
    first, second = document_references(read, url=URL, sha1=None)
    for resource in (first, second):
        assert resource["masterIdentifier"]["value"] == f"urn:uuid:{fax.fax.fax_id}"
        assert resource["status"] == "current"
        assert resource["date"] == fax.fax.completed_at.isoformat(timespec="seconds").replace(
            "+00:00", "Z"
        )
    assert first["identifier"] != second["identifier"]
    assert "pages 2-4" in second["content"][0]["attachment"]["title"]


def test_the_attachment_links_the_image_with_its_type_size_and_sha1() -> None:
    fax = stored_image()
    read = read_of(fax, document())
    (resource,) = document_references(read, url=URL, sha1=sha1_base64(b"abc"))
    assert resource["content"][0]["attachment"] == {
        "contentType": "application/pdf",
        "url": URL,
        "size": fax.stored.size,
        "hash": "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",  # base64 SHA-1 of "abc" (FIPS 180 example)
        "title": f"Fax {fax.fax.fax_id}, pages 1-1: Referral",
        "creation": resource["date"],
    }


def test_without_links_or_hash_the_attachment_says_only_what_is_known() -> None:
    (resource,) = document_references(read_of(stored_image(), document()), url=None, sha1=None)
    attachment = resource["content"][0]["attachment"]
    assert "url" not in attachment
    assert "hash" not in attachment


@pytest.mark.parametrize(
    ("changes", "fields", "expected"),
    [
        ({}, {"from": "Valley Clinic"}, "Valley Clinic"),
        ({"originating_fax_tsid": "ACME FAX"}, {}, "ACME FAX"),
        (
            {"originating_fax_tsid": "unavailable", "sending_fax_number": "13235555555"},
            {},
            "13235555555",
        ),
    ],
)
def test_the_sender_is_the_author_by_display(
    changes: dict[str, str], fields: dict[str, str], expected: str
) -> None:
    read = read_of(stored_image(**changes), document(**fields))
    (resource,) = document_references(read, url=URL, sha1=None)
    assert resource["author"][0] == {"display": expected}


def test_the_provider_is_an_author_with_the_npi_when_the_fax_names_them() -> None:
    read = read_of(stored_image(), document(provider="Dr. Ann Smith", npi="1234567893"))
    (resource,) = document_references(read, url=URL, sha1=None)
    assert resource["author"][1] == {
        "type": "Practitioner",
        "identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"},
        "display": "Dr. Ann Smith",
    }


def test_a_fax_with_no_document_found_is_one_reference_for_all_its_pages() -> None:
    read = read_of(stored_image())
    (resource,) = document_references(read, url=URL, sha1=None)
    assert resource["type"] == {"text": "Fax"}


def test_hostile_text_stays_a_json_string_and_never_reaches_the_narrative() -> None:
    hostile = 'x"}],"subject":{"reference":"Patient/1"},"a":["</div><script>\x00\u202e'
    read = read_of(stored_image(), document(patient_name=hostile, re=hostile))
    (resource,) = document_references(read, url=URL, sha1=None)
    decoded = json.loads(encoded(resource))
    assert decoded == resource
    assert "reference" not in decoded["subject"]
    assert decoded["description"] == hostile.replace("\x00", "").replace("\u202e", "")
    assert "script" not in decoded["text"]["div"]


@pytest.mark.parametrize("value", ["", "   ", "\x00\x01", "\u202e"])
def test_a_blank_or_control_only_value_is_left_out(value: str) -> None:
    assert fhir_string(value) is None
