"""What the reader understood of a fax: the documents in it, each with a type and key fields.

Every value here is a hint read by a machine from a fax, with a confidence: the type may be
wrong, and the patient fields are for matching a fax to a chart, never the chart itself."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.contracts.base import _TopicModel

FIELD_VALUE_MAX_CHARS = 200


class DocumentType(StrEnum):
    REFERRAL = "referral"
    LAB_RESULT = "lab_result"
    IMAGING_REPORT = "imaging_report"
    PRIOR_AUTHORIZATION = "prior_authorization"
    PRESCRIPTION_REFILL = "prescription_refill"
    MEDICAL_RECORDS_REQUEST = "medical_records_request"
    INSURANCE_CLAIM = "insurance_claim"
    COVER_SHEET = "cover_sheet"
    JUNK = "junk"
    OTHER = "other"


class FieldName(StrEnum):
    """The key fields looked for. Cover sheet: to, from, re, pages_stated, phone, fax, date.
    Patient: patient_name, dob, mrn. Provider: npi (Luhn-checked), provider (the ordering or
    referring one). Dates: date_of_service, request_date, service_from (ISO 8601)."""

    TO = "to"
    FROM = "from"
    RE = "re"
    PAGES_STATED = "pages_stated"
    PHONE = "phone"
    FAX = "fax"
    DATE = "date"
    PATIENT_NAME = "patient_name"
    DOB = "dob"
    MRN = "mrn"
    NPI = "npi"
    PROVIDER = "provider"
    DATE_OF_SERVICE = "date_of_service"
    REQUEST_DATE = "request_date"
    SERVICE_FROM = "service_from"


class FoundField(_TopicModel):
    """One key field as read: a hint, with the page it was read on."""

    name: FieldName = Field(description="Which field.", examples=["patient_name"])
    value: str = Field(
        max_length=FIELD_VALUE_MAX_CHARS,
        description="As normalised: dates ISO 8601, phone and fax numbers digits only, NPI "
        "10 digits with a valid Luhn check digit, names and text as printed.",
        examples=["Jane Example"],
    )
    page: int = Field(ge=1, description="Page of the fax it was read on, from 1.", examples=[2])
    confidence: float = Field(ge=0, le=1, description="0..1.", examples=[0.9])


class DocumentFound(_TopicModel):
    """One document within a fax: its pages, its type and its key fields."""

    first_page: int = Field(ge=1, description="First page of the fax it covers.", examples=[2])
    last_page: int = Field(ge=1, description="Last page (inclusive).", examples=[3])
    type: DocumentType = Field(description="What kind of document.", examples=["referral"])
    confidence: float = Field(ge=0, le=1, description="Of the type, 0..1.", examples=[0.93])
    needs_review: bool = Field(
        description="The type's confidence is below the reader's threshold: a person should "
        "look before trusting the type."
    )
    fields: list[FoundField] = Field(
        default_factory=list, description="Key fields found, each a hint with its page."
    )
