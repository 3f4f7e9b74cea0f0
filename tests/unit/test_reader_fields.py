"""The reader's field finder: each key field from varied wordings and layouts, with its page
and a confidence; dates, phone numbers and NPIs normalised or refused; hostile text answered
quickly and never logged."""

from __future__ import annotations

import logging
import time

import pytest

from services.reader.fields import find_fields
from services.reader.fields_values import date_value, phone_value
from shared.contracts import FIELD_VALUE_MAX_CHARS, DocumentType, FieldName, FoundField
from shared.npi import npi_valid
from tests.fields_measure import score, truth_documents

REFERRAL = DocumentType.REFERRAL
COVER = DocumentType.COVER_SHEET


def values(found: list[FoundField]) -> dict[str, str]:
    return {item.name.value: item.value for item in found}


def one(text: str, doc_type: DocumentType = REFERRAL) -> dict[str, str]:
    return values(find_fields([text], 1, doc_type))


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "printed",
    [
        "03/04/1960",
        "3/4/1960",
        "1960-03-04",
        "1960/03/04",
        "March 4, 1960",
        "Mar 4, 1960",
        "Mar. 04,1960",
        "4 Mar 1960",
        "04-Mar-1960",
        "4th March 1960",
        "04.03.1960",
        "MARCH 4 1960",
        "3-4-1960",
    ],
)
def test_every_printed_form_of_a_date_becomes_iso(printed: str) -> None:
    found = date_value(printed)
    assert found is not None
    assert found[0] == "1960-03-04"


def test_a_day_above_twelve_first_is_read_day_first() -> None:
    assert date_value("25/12/2024") == ("2024-12-25", 1.0)


def test_a_date_whose_day_and_month_could_swap_is_read_month_first_less_surely() -> None:
    found = date_value("03/04/2024")
    assert found is not None
    assert found[0] == "2024-03-04"
    assert found[1] < 1.0


def test_a_two_digit_year_is_placed_in_its_likely_century_less_surely() -> None:
    assert date_value("3/4/60") == ("1960-03-04", pytest.approx(0.72))
    old = date_value("12/25/24")
    assert old is not None
    assert old[0] == "2024-12-25"


@pytest.mark.parametrize("text", ["02/30/2020", "13/13/2020", "2020-14-01", "May 2.6, 2025", "x"])
def test_an_impossible_or_garbled_date_is_refused(text: str) -> None:
    assert date_value(text) is None


def test_a_year_outside_1900_to_2100_is_refused() -> None:
    assert date_value("01/02/1850") is None


# --- NPI and its Luhn check digit -------------------------------------------------------------


def test_npi_check_digit_is_the_luhn_digit_of_80840_and_the_first_nine() -> None:
    assert npi_valid("1234567893"), "the example NPI of the CMS standard"
    assert not npi_valid("1234567890")
    assert not npi_valid("123456789")
    assert not npi_valid("12345678931")


def test_an_npi_that_fails_its_check_digit_is_not_reported() -> None:
    found = one("Prescriber: Ann Lee, MD\nNPI: 1234567890\n")
    assert "npi" not in found
    assert found["provider"] == "Ann Lee, MD"


@pytest.mark.parametrize(
    "line",
    ["NPI: 1234567893", "NPI # 1234567893", "NPI number: 1234567893", "(NPI 1234567893)"],
)
def test_an_npi_is_read_after_its_label(line: str) -> None:
    assert one(f"Ordering physician: Jo Park, DO {line}")["npi"] == "1234567893"


@pytest.mark.parametrize(
    "line", ["NP! 1234567893", "NP: 1234567893", "Brian Lee, DO (NPI1234567893)"]
)
def test_an_npi_whose_label_ocr_bent_or_joined_is_read(line: str) -> None:
    assert one(line)["npi"] == "1234567893"
    assert "npi" not in one(line.replace("1234567893", "1234567890"))


def test_an_npi_misread_as_npl_is_still_read_and_still_checked() -> None:
    assert one("NPL: _ 1234567893-")["npi"] == "1234567893"
    assert "npi" not in one("NPL: 1234567894")


# --- phone and fax ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "digits"),
    [
        ("(555) 010-0174", "5550100174"),
        ("555-010-0174", "5550100174"),
        ("555.010.0174", "5550100174"),
        ("+1 555 010 0174", "15550100174"),
        ("+44 20 7946 0958", "442079460958"),
    ],
)
def test_phone_numbers_become_digits(printed: str, digits: str) -> None:
    assert phone_value(printed) == digits


def test_a_speck_read_before_a_phone_number_is_not_part_of_it() -> None:
    assert phone_value("; \u201c2. (510) 555-0114") == "5105550114"


@pytest.mark.parametrize(
    "printed", ["(331)'555-0120", "(816):555-0169", "(376) 555+ 0186", "(920). 555-0145"]
)
def test_a_gap_in_a_phone_number_that_ocr_read_as_a_mark_is_skipped(printed: str) -> None:
    found = phone_value(printed)
    assert found is not None
    assert len(found) == 10


def test_a_number_too_short_to_dial_from_afar_is_refused() -> None:
    assert phone_value("555-0147") is None


# --- the cover sheet --------------------------------------------------------------------------

COVER_ONE_PER_LINE = """\
12/01/2025 09:14  FROM 5550100999  TO 5550100888  P. 001/003
FAX TRANSMISSION
Attention: Intake Coordinator, Lakeside Orthopaedics
From: Dr. Rosa Ng, Valley Clinic
Subject: Referral - knee pain
Number of pages (including cover): 3
Tel: 555-010-4411
Fax #: (555) 010-4412
Date sent: 1 December 2025
"""


def test_a_cover_sheet_gives_its_seven_fields() -> None:
    assert one(COVER_ONE_PER_LINE, COVER) == {
        "to": "Intake Coordinator, Lakeside Orthopaedics",
        "from": "Dr. Rosa Ng, Valley Clinic",
        "re": "Referral - knee pain",
        "pages_stated": "3",
        "phone": "5550104411",
        "fax": "5550104412",
        "date": "2025-12-01",
    }


def test_the_fax_machines_header_line_is_not_read_as_from_and_to() -> None:
    found = one("01/02/2026 00:00  FROM 15550100123  TO 15550100456  P. 001/004\n", COVER)
    assert found == {}


def test_a_cover_sheet_in_two_columns_keeps_each_label_with_its_value() -> None:
    text = (
        "To: Billing Office   From: Harbor Lab\n"
        "Date: 2025-02-03   Pages: 2\n"
        "Re: Lab results   Phone: 555 010 2000\n"
    )
    assert one(text, COVER) == {
        "to": "Billing Office",
        "from": "Harbor Lab",
        "date": "2025-02-03",
        "pages_stated": "2",
        "re": "Lab results",
        "phone": "5550102000",
    }


def test_the_recipients_fax_number_on_the_to_line_is_not_the_senders() -> None:
    found = one("To: Records Dept   Fax: 555-010-3000\nFrom: Dr. Kim   Fax: 555-010-4000\n", COVER)
    assert found["fax"] == "5550104000"


def test_a_cover_sheet_in_capitals_with_qualified_labels() -> None:
    text = (
        "FAX\nDATE: 11/03/2025          # OF PAGES (INCLUDING COVER): 5\n"
        "TO: Dr. Alan Smith        FAX #: 555-010-7777\n"
        "FROM: Sunrise Cardiology  PHONE #: (555) 010-8888\nRE: Patient referral\n"
    )
    assert one(text, COVER) == {
        "date": "2025-11-03",
        "pages_stated": "5",
        "to": "Dr. Alan Smith",
        "from": "Sunrise Cardiology",
        "phone": "5550108888",
        "re": "Patient referral",
    }


def test_a_cover_sheet_in_blocks_gives_the_names_and_numbers_of_the_senders_block() -> None:
    text = (
        "To\nName: Referral Coordinator\nFax: 555.010.1111\n"
        "From\nName: Jane Doe, RN\nPhone: 555.010.2222\nFax: 555.010.2223\n"
        "Date: Nov 3, 2025\nTotal Pages: 4\n"
    )
    assert one(text, COVER) == {
        "to": "Referral Coordinator",
        "from": "Jane Doe, RN",
        "phone": "5550102222",
        "fax": "5550102223",
        "date": "2025-11-03",
        "pages_stated": "4",
    }


def test_labels_read_in_a_column_before_their_values_are_paired_in_order() -> None:
    text = (
        "Fax Cover Sheet\n\nAttn:\nFrom: |\nDate:\nPhone:\nPages:\n\n"
        "Billing, Summit Pediatrics .\nWillow Creek Health\nNov 09, 2025 ;\n(778) 555-0124\n3\n"
    )
    found = find_fields([text], 1, COVER)
    assert values(found) == {
        "to": "Billing, Summit Pediatrics",
        "from": "Willow Creek Health",
        "date": "2025-11-09",
        "phone": "7785550124",
        "pages_stated": "3",
    }
    assert all(item.confidence < 0.9 for item in found), "paired by position: less sure"


def test_a_column_of_values_below_a_heading_lines_up_on_its_dates_and_numbers() -> None:
    text = (
        "Patient:\n\nDate of birth:\n_MRN: \u00a9\n\nCollection date:\n\n"
        "Harbor View Diagnostics\nLABORATORY REPORT\nRobert Young . :\n\nMay-15; 1936\n\n"
        "44095412\n\nAug 28, 2026\n\nOrdering provider:\n\nSandra Flores, PA-C\n"
    )
    assert one(text, DocumentType.LAB_RESULT) == {
        "patient_name": "Robert Young",
        "dob": "1936-05-15",
        "mrn": "44095412",
        "date_of_service": "2026-08-28",
        "provider": "Sandra Flores, PA-C",
    }


def test_labels_of_other_things_on_a_form_keep_its_column_of_values_in_line() -> None:
    text = (
        "PRIOR AUTHORIZATION REQUEST\n\nPatient name:\nDate of birth:\n- Member ID:\n"
        "Prescriber:\nNP,\nPrescriber phone:\nDrug:\nDiagnosis:\nDate of request:\n\n"
        "__ Clinical justification\n\nStep therapy was completed.\n\nJohn White\n\n"
        "Aug 19, 1970\n\n* ..70026004\n\nAshley Taylor, PA-C\n\n2904322148\n\n"
        "(447) 555-0179\n\nLevothyroxine 50 mcg\n\nR07.9 chest pain\n\nApr 13, 2026\n"
    )
    found = one(text, DocumentType.PRIOR_AUTHORIZATION)
    assert found == {
        "patient_name": "John White",
        "dob": "1970-08-19",
        "mrn": "70026004",
        "provider": "Ashley Taylor, PA-C",
    }, "the unreadable NPI label shifts the values after it: those are left out"


def test_a_lone_patient_label_takes_the_first_name_below_it_not_the_heading() -> None:
    text = "Patient:\n\nCedar Valley Laboratories\nCLINICAL LAB RESULTS\n\nIvan Adams\n"
    found = find_fields([text], 1, DocumentType.LAB_RESULT)
    assert values(found) == {"patient_name": "Ivan Adams"}
    assert found[0].confidence < 0.7


def test_a_column_of_values_that_does_not_fit_its_labels_gives_nothing() -> None:
    text = "Date:\nPhone:\nPages:\n\nWillow Creek Health\nNov 09, 2025\nthree\n"
    assert one(text, COVER) == {}


def test_ocr_specks_around_a_value_are_cut_and_lower_its_confidence() -> None:
    found = find_fields(["Attn: se ., Intake, Summit Dermatology iy\n"], 1, COVER)
    assert values(found) == {"to": "Intake, Summit Dermatology"}
    assert found[0].confidence < 0.9


# --- the patient ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Patient: Maria José Alvarez",
        "Patient Name: Maria José Alvarez",
        "Pt Name: Maria José Alvarez",
        "Member name: Maria José Alvarez",
        "Name of patient: Maria José Alvarez",
        "Membername: - Maria José Alvarez",
        "Name: Maria José Alvarez",
    ],
)
def test_the_patients_name_is_read_after_each_usual_label(line: str) -> None:
    assert one(line)["patient_name"] == "Maria José Alvarez"


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("Patient: Betty. Brown ;", "Betty Brown"),
        ("Patient: Wei. Brown", "Wei Brown"),
        ("Patient; \u00b0 Susan Baker \u2018 ret", "Susan Baker"),
        ("Patient: * David\u2019 White", "David White"),
        ("Patient: Sean O\u2019Brien", "Sean O'Brien"),
        ("Patient: John Q. Public", "John Q. Public"),
    ],
)
def test_specks_on_the_words_of_a_name_are_cut(line: str, name: str) -> None:
    assert one(line)["patient_name"] == name


def test_a_last_name_first_name_is_kept_as_printed() -> None:
    assert one("Patient: OKAFOR, Chidi")["patient_name"] == "OKAFOR, Chidi"
    found = one("Patient Name (Last, First): DOE, JANE\nDate of Birth (MM/DD/YYYY): 01/02/1990")
    assert found == {"patient_name": "DOE, JANE", "dob": "1990-01-02"}


def test_known_labels_after_a_label_of_something_else_on_the_line_are_read() -> None:
    text = "ACCESSION: 12345678   MRN: A1234567\nRecipient fax: 555-010-1111\n"
    assert one(text, DocumentType.OTHER) == {"mrn": "A1234567"}


@pytest.mark.parametrize(
    "text",
    [
        "Patient: see attached",
        "Patient: 12345",
        "Name: Riverside Laboratories",
        "Patient: the patient was seen twice",
    ],
)
def test_what_is_not_a_persons_name_is_not_a_patient(text: str) -> None:
    assert "patient_name" not in one(text)


@pytest.mark.parametrize(
    "line",
    [
        "DOB: 07/14/1952",
        "D.O.B. 07/14/1952",
        "Date of Birth 14 Jul 1952",
        "Birth date: July 14, 1952",
        "Date ofbirth: . | Jul 14,1952",
    ],
)
def test_the_date_of_birth_is_read_after_each_usual_label(line: str) -> None:
    assert one(line)["dob"] == "1952-07-14"


@pytest.mark.parametrize(
    ("line", "mrn"),
    [
        ("MRN: 00482913", "00482913"),
        ("MR#: H4656595", "H4656595"),
        ("Chart #: MR-470972", "MR-470972"),
        ("Medical Record Number: 7731-22", "7731-22"),
        ("Patient ID: C2969080__ |", "C2969080"),
        ("Member ID: ABC123456", "ABC123456"),
        ("Account: 55012345", "55012345"),
        ("Rx'profile: 83324200", "83324200"),
        ("Patient ID: A3516738-", "A3516738"),
        ("MRN: MR-7 15423", "MR-715423"),
        ("Chart #: \u20ac2969080", "C2969080"),
        ("Subscriber ID: H5202468", "H5202468"),
        ("Policy number: 44625653", "44625653"),
    ],
)
def test_the_record_number_is_read_after_each_usual_label(line: str, mrn: str) -> None:
    assert one(line)["mrn"] == mrn


def test_a_record_number_without_digits_is_refused() -> None:
    assert "mrn" not in one("MRN: pending")


@pytest.mark.parametrize("label", ["Accession", "Accession #", "Specimen ID"])
def test_a_specimens_or_studys_number_is_not_the_patients_record_number(label: str) -> None:
    text = f"Patient: Ann Lee\n{label}: C8995970\nCollected: 01/21/2026\n"
    assert one(text, DocumentType.LAB_RESULT) == {
        "patient_name": "Ann Lee",
        "date_of_service": "2026-01-21",
    }


# --- the provider and dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Referring Physician: Helen Park, MD",
        "Ordering provider: Helen Park, MD (NPI 1234567893)",
        "Ordered by: Helen Park, MD",
        "Prescriber: | ° Helen Park, MD",
        "Referred by: Helen Park, MD",
        "Rendering provider: Helen Park, MD",
        "Billing provider: Helen Park, MD",
        "Doctor: Helen Park, MD",
    ],
)
def test_the_ordering_or_referring_provider_is_read_after_each_usual_label(line: str) -> None:
    assert one(line)["provider"] == "Helen Park, MD"


@pytest.mark.parametrize(
    "line",
    ["Prescriber: Kevin Thompson, NR", "Ordered by: Ann Lee, PA-G", "Prescriber: Ann Lee, PArC"],
)
def test_a_name_with_a_misread_credential_is_left_out(line: str) -> None:
    assert "provider" not in one(line)


@pytest.mark.parametrize(
    "line",
    [
        "Requesting provider: James Chen; PA-C",
        "Ordering physician: James Chen\u00bbPA-C_-",
        "Prescriber: \u00ab James Chen,PA-C _, !",
        "Ordering provider: , . James Chen,.PA-C (NPI 1234567893)",
    ],
)
def test_the_comma_before_a_credential_as_ocr_reads_it_is_a_comma(line: str) -> None:
    assert one(line)["provider"] == "James Chen, PA-C"


def test_a_name_with_a_known_credential_or_none_is_read() -> None:
    assert one("Prescriber: Ann Lee, FNP-C")["provider"] == "Ann Lee, FNP-C"
    assert one("Prescriber: Ann Lee, PharmD")["provider"] == "Ann Lee, PharmD"
    assert one("Patient: OKAFOR, Chidi")["patient_name"] == "OKAFOR, Chidi"


def test_a_providers_name_label_is_not_read_as_the_patients() -> None:
    found = one("Prescriber Name: Helen Park, MD\nPatient: Ann Lee\n")
    assert (found["provider"], found["patient_name"]) == ("Helen Park, MD", "Ann Lee")


def test_a_signature_above_an_npi_is_taken_as_the_provider_less_surely() -> None:
    found = find_fields(["Sincerely,\nHelen Park, MD\nNPI 1234567893\n"], 1, REFERRAL)
    provider = next(item for item in found if item.name == FieldName.PROVIDER)
    assert provider.value == "Helen Park, MD"
    assert provider.confidence < 0.9


def test_specks_after_a_signature_do_not_hide_it() -> None:
    found = one("Kind regards,\nPatricia Thomas, MD : i : i\nNPI 1234567893\n")
    assert found["provider"] == "Patricia Thomas, MD"


def test_electronically_signed_by_is_not_the_referring_provider() -> None:
    text = "Referring physician: Helen Park, MD\nElectronically signed by Ravi Perez, PA-C\n"
    assert one(text, DocumentType.IMAGING_REPORT)["provider"] == "Helen Park, MD"


@pytest.mark.parametrize(
    "line",
    [
        "Date of service: 2025-06-05",
        "DOS: 06/05/2025",
        "Collected: Jun 5, 2025",
        "Date of exam: 5-Jun-2025",
        "Visit date: 06/05/2025",
        "Date seen: 06/05/2025",
        "Last visit: 2025-06-05",
    ],
)
def test_the_date_of_service_is_read_after_each_usual_label(line: str) -> None:
    assert one(line)["date_of_service"] == "2025-06-05"


def test_a_spelled_out_date_of_exam_wins_over_dos_which_ocr_also_makes_of_dob() -> None:
    text = "Name: Robert Wilson\nDos: Jun 15, 1968\nDate of exam: Jun 30, 2025\n"
    assert one(text, DocumentType.IMAGING_REPORT)["date_of_service"] == "2025-06-30"


@pytest.mark.parametrize(
    "sentence",
    [
        "I am referring Ann, whom I saw on 06/05/2025, for evaluation.",
        "I examined the patient on June 5, 2025.",
        "Ann was first seen in our office on 2025-06-05 for pain.",
        "Ann was first seen in our office on,06/05/2025.",
    ],
)
def test_the_date_of_service_is_guessed_from_the_letter_less_surely(sentence: str) -> None:
    found = find_fields([sentence], 1, REFERRAL)
    assert [(f.name, f.value) for f in found] == [(FieldName.DATE_OF_SERVICE, "2025-06-05")]
    assert found[0].confidence < 0.9


def test_a_speck_and_a_dash_before_a_date_of_service_do_not_make_it_a_range() -> None:
    assert one("Lastvisit 9 - 10/11/2025") == {"date_of_service": "2025-10-11"}


def test_a_range_of_dates_of_service_gives_where_it_starts() -> None:
    found = one("Dates of service: 01/15/2022 to present", DocumentType.MEDICAL_RECORDS_REQUEST)
    assert found == {"service_from": "2022-01-15"}
    assert one("Date of service: 01/15/2022 - 03/01/2022") == {"service_from": "2022-01-15"}
    found = one("Period requested: 12-Mar-2020 to present", DocumentType.MEDICAL_RECORDS_REQUEST)
    assert found == {"service_from": "2020-03-12"}


@pytest.mark.parametrize(
    "table",
    [
        "DOS CPT Charge Allowed amt Plan paid\n06/12/2026 80053 330.00 231.00\n",
        "Date of service  Code  Billed  Paid\n\n2026-06-12  97110  683.00  314.00\n",
        "DOS CPT Charge\nJun 12, 2026 97110 683.00\n07/01/2026 99213 90.00\n",
        "' DOS ; CPT Charge Plan paid :\n-Jun 12,2026 97110 683.00\n",
        "Dat\u00e9 of-service Code Billed\n12-Jun-2026 97110 286.00\n",
    ],
)
def test_the_date_of_service_is_read_from_the_first_row_of_its_column(table: str) -> None:
    found = find_fields([table], 1, DocumentType.INSURANCE_CLAIM)
    assert [(f.name, f.value) for f in found] == [(FieldName.DATE_OF_SERVICE, "2026-06-12")]
    assert found[0].confidence < 0.9


def test_a_date_in_a_later_column_is_not_the_date_of_service() -> None:
    assert one("DOS CPT Charge\n99213 06/12/26 90.00\n", DocumentType.INSURANCE_CLAIM) == {}


@pytest.mark.parametrize(
    "line",
    ["Date of request: 2026-01-05", "Request date: Jan 5, 2026", "Date submitted: 2026-01-05"],
)
def test_the_request_date_is_read(line: str) -> None:
    assert one(line, DocumentType.PRIOR_AUTHORIZATION) == {"request_date": "2026-01-05"}


@pytest.mark.parametrize("line", ["Date: 01/05/2026", "Date sent: Jan 5, 2026"])
def test_the_date_a_request_is_dated_by_is_its_request_date_less_surely(line: str) -> None:
    found = find_fields([line], 1, DocumentType.PRESCRIPTION_REFILL)
    assert [(f.name, f.value) for f in found] == [(FieldName.REQUEST_DATE, "2026-01-05")]
    assert found[0].confidence < 0.95
    labelled = "Date: 01/05/2026\nRequest date: 01/04/2026\n"
    assert one(labelled, DocumentType.PRESCRIPTION_REFILL) == {"request_date": "2026-01-04"}


def test_a_letterheads_phone_and_fax_on_one_line_are_both_read() -> None:
    text = "Lakeshore Family Practice\nPhone (635) 555-0112   Fax (790) 555-0187\n"
    assert one(text, DocumentType.OTHER) == {"phone": "6355550112", "fax": "7905550187"}
    assert one("Tel 635-555-0112 Fax: 790-555-0187", DocumentType.OTHER)["fax"] == "7905550187"


# --- pages, types and choosing among readings -------------------------------------------------


def test_each_field_carries_the_page_of_the_fax_it_was_read_on() -> None:
    pages = ["Re: Referral\nPatient: Ann Lee", "DOB: 01/02/1990", "Sincerely,\nNPI: 1234567893"]
    found = {f.name.value: f.page for f in find_fields(pages, 4, REFERRAL)}
    assert found == {"patient_name": 4, "dob": 5, "npi": 6}


def test_a_cover_sheet_gives_no_patient_and_a_clinical_document_no_cover_fields() -> None:
    text = "To: Intake\nFrom: Valley Clinic\nPatient: Ann Lee\nDOB: 01/02/1990\n"
    assert set(one(text, COVER)) == {"to", "from"}
    assert set(one(text, REFERRAL)) == {"patient_name", "dob"}


def test_junk_gives_no_fields_and_other_gives_every_kind() -> None:
    text = "To: Intake\nPatient: Ann Lee\nCall 555-010-9999 now\n"
    assert one(text, DocumentType.JUNK) == {}
    assert set(one(text, DocumentType.OTHER)) == {"to", "patient_name"}


def test_the_value_read_most_often_wins_and_disagreement_lowers_confidence() -> None:
    pages = ["Patient: Ann Lee", "Patient: Ann Loe", "Patient: Ann Lee"]
    (found,) = find_fields(pages, 1, DocumentType.LAB_RESULT)
    assert (found.value, found.page) == ("Ann Lee", 1)
    agreed = find_fields(["Patient: Ann Lee"] * 3, 1, DocumentType.LAB_RESULT)[0]
    assert found.confidence < agreed.confidence


def test_a_labelled_reading_beats_a_guess() -> None:
    text = "Sam Roe  DOB 01/02/1990\nPatient: Ann Lee\n"
    assert one(text)["patient_name"] == "Ann Lee"


# --- hostile and odd input --------------------------------------------------------------------


@pytest.mark.parametrize("pages", [[], [""], ["", "   \n\n"], ["\x00\x01\x02"]])
def test_no_text_gives_no_fields(pages: list[str]) -> None:
    assert find_fields(pages, 1, REFERRAL) == []


@pytest.mark.parametrize(
    "text",
    [
        "患者：王小明\n出生日期：1960年3月4日\n病历号：12345",  # noqa: RUF001
        "المريض: أحمد علي\nتاريخ الميلاد: ١٩٦٠/٠٣/٠٤",  # noqa: RUF001
        "Пациент: Иван Петров\nДата рождения: 04.03.1960",  # noqa: RUF001
        "Patiente : Élodie Durand\nNée le : 4 mars 1960",
    ],
)
def test_text_in_another_language_gives_an_answer_without_guessing(text: str) -> None:
    assert find_fields([text], 1, DocumentType.OTHER) == []


def test_full_width_digits_and_colons_are_read_as_ascii() -> None:
    found = one(
        "Patient\uff1a Ann Lee\nDOB\uff1a \uff10\uff11/\uff10\uff12/\uff11\uff19\uff19\uff10"
    )
    assert found == {"patient_name": "Ann Lee", "dob": "1990-01-02"}


def test_control_and_invisible_characters_are_stripped_from_values() -> None:
    found = one("Patient: Ann\x07 \u202eLee\u200b\x1b[31m\ud800\nMRN: \x00H12345")
    assert found["patient_name"] == "Ann Lee"
    assert found["mrn"] == "H12345"
    assert "".join(found.values()).encode("utf-8"), "no lone surrogate left to break a JSON event"


def test_a_value_is_cut_to_the_contracts_length() -> None:
    found = one("Re: " + "word " * 500, COVER)
    assert 0 < len(found["re"]) <= FIELD_VALUE_MAX_CHARS


def bounded(seconds: float, pages: list[str], doc_type: DocumentType = DocumentType.OTHER) -> None:
    started = time.process_time()
    find_fields(pages, 1, doc_type)
    assert time.process_time() - started < seconds


def test_a_hundred_thousand_words_are_answered_quickly() -> None:
    words = " ".join(["Patient: Ann Lee DOB 01/02/1990 NPI 1234567893 lorem"] * 12_500)
    bounded(2.0, [words])
    bounded(2.0, ["\n".join(words.split(" "))] * 50)


@pytest.mark.parametrize(
    "text",
    [
        "DOB: " * 50_000,
        "(" * 100_000,
        "1-" * 50_000,
        "Patient: " + "A" * 100_000,
        "saw " * 25_000 + "on 01/02/2020",
        "Date: " + "1/" * 50_000,
        ("To: " + "x " * 40 + "\n") * 5_000,
        "NPI " * 25_000,
        "Mar " * 25_000 + "4, 1960",
    ],
)
def test_text_crafted_to_look_like_labels_is_answered_quickly(text: str) -> None:
    bounded(2.0, [text] * 3)


def test_an_invalid_first_page_number_still_gives_pages_from_one() -> None:
    found = find_fields(["Patient: Ann Lee"], 0, REFERRAL)
    assert found[0].page == 1


def test_fields_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        found = one("Patient: Ann Lee\nDOB: 01/02/1990\nMRN: H12345\n")
    assert found
    assert caplog.records == []


# --- the sandbox corpus -----------------------------------------------------------------------


def test_on_the_sandbox_corpus_text_precision_is_at_least_98_and_recall_90_percent() -> None:
    result = score(truth_documents(range(120)))
    assert result.precision() >= 0.98, result.table()
    assert result.recall() >= 0.90, result.table()
    for name in result.truth:
        assert result.precision(name) >= 0.95, result.table()
        assert result.recall(name) >= 0.85, result.table()
