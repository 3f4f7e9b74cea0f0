"""Why a delivery, a download or a read failed: the reason codes records carry."""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    WEBHOOK = "webhook"
    POLLING = "polling"


class RejectReason(StrEnum):
    BAD_SIGNATURE = "bad_signature"
    MISSING_SIGNATURE = "missing_signature"
    UNKNOWN_APP = "unknown_app"
    MALFORMED_JSON = "malformed_json"
    INVALID_PAYLOAD = "invalid_payload"
    FOREIGN_RESOURCE_URL = "foreign_resource_url"
    DUPLICATE = "duplicate"
    STALE = "stale"


class DownloadFailure(StrEnum):
    GONE = "gone"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_APP = "unknown_app"
    UNDECODABLE_IMAGE = "undecodable_image"
    WRONG_IMAGE_TYPE = "wrong_image_type"
    TOO_LARGE = "too_large"
    RETRIES_EXHAUSTED = "retries_exhausted"
    UNSTORABLE = "unstorable"


class ReadFailureReason(StrEnum):
    """Why a stored fax could not be read (the reader's reasons, plus the stage's own)."""

    CORRUPT = "corrupt"
    UNSUPPORTED_FORMAT = "unsupported_format"
    ENCRYPTED = "encrypted"
    ACTIVE_CONTENT = "active_content"
    PAGE_TOO_LARGE = "page_too_large"
    TOO_MANY_PAGES = "too_many_pages"
    NO_PAGES = "no_pages"
    PAGE_TIMEOUT = "page_timeout"
    FAX_TIMEOUT = "fax_timeout"  # the whole fax ran past its time; its reading process killed
    READER_CRASHED = "reader_crashed"  # the reading process died (memory, a fault) twice
    OBJECT_MISSING = "object_missing"  # no object under the stored key, or not this fax's
