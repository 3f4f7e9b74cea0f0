"""From a stored fax image (PDF or TIFF) to page images with square pixels, bounded.

`open_fax` checks everything that can be checked without decoding pixels (format, encryption,
scripts and forms, page count, each page's size) and raises `UnreadableFax` with a reason code;
`FaxDocument.page(i)` then decodes one page at a time, so memory holds one page, not the fax.
Messages carry counts and sizes only, never content.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
from PIL import Image

from shared.contracts import ReadFailureReason as ReadFailure  # fax.read.failed's reason codes

__all__ = ["Limits", "ReadFailure", "UnreadableFax", "ink_fraction", "open_fax"]

FAX_WIDTH_DPI = 204.0


class UnreadableFax(Exception):
    def __init__(self, reason: ReadFailure, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_pages: int = 50
    max_page_pixels: int = 20_000_000
    dpi: float = 204.0
    """Square resolution every page is brought to before OCR."""


@dataclass(frozen=True)
class PageImage:
    index: int
    image: Image.Image
    """Mode "L", square pixels at `Limits.dpi`."""
    source_dpi: tuple[float, float]


class FaxDocument(Protocol):
    @property
    def page_count(self) -> int: ...

    def page(self, index: int) -> PageImage: ...

    def close(self) -> None: ...


def open_fax(data: bytes, limits: Limits) -> FaxDocument:
    """The document, checked; raises UnreadableFax."""
    if data.startswith(b"%PDF") or data[:1024].find(b"%PDF-") >= 0:
        return PdfFax(data, limits)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TiffFax(data, limits)
    raise UnreadableFax(ReadFailure.UNSUPPORTED_FORMAT, f"{len(data)} bytes, neither PDF nor TIFF")


def check_page_count(count: int, limits: Limits) -> None:
    if count == 0:
        raise UnreadableFax(ReadFailure.NO_PAGES, "0 pages")
    if count > limits.max_pages:
        raise UnreadableFax(
            ReadFailure.TOO_MANY_PAGES, f"{count} pages, more than {limits.max_pages}"
        )


def check_page_size(index: int, width: float, height: float, limits: Limits) -> None:
    if width * height > limits.max_page_pixels:
        raise UnreadableFax(
            ReadFailure.PAGE_TOO_LARGE,
            f"page {index + 1}: {int(width)}x{int(height)} pixels, "
            f"more than {limits.max_page_pixels}",
        )


def to_square(image: Image.Image, dpi: tuple[float, float], target_dpi: float) -> Image.Image:
    """Grey image with square pixels at about target_dpi. Fax resolutions are near whole ratios
    (standard 204x98 is twice as tall): those rows are repeated or merged by a whole factor,
    which OCR reads better than a stretch of 2.08 (measured: docs/benchmarks.md)."""
    grey = image.convert("L")
    scale_x, scale_y = target_dpi / dpi[0], target_dpi / dpi[1]
    for whole in (0.5, 1.0, 2.0, 3.0):
        if abs(scale_y / scale_x / whole - 1) < 0.06:
            scale_y = scale_x * whole
    size = (round(grey.width * scale_x), round(grey.height * scale_y))
    if size == grey.size:
        return grey
    return grey.resize(size, Image.Resampling.LANCZOS)


def ink_fraction(image: Image.Image) -> float:
    """Share of dark pixels once speckle is gone: in 2x2 blocks, three dark pixels of four
    count as ink, a lone dot or a pair does not."""
    blocks = image.reduce(2)
    return blocks.point(lambda v: 255 if v < 100 else 0).histogram()[255] / max(
        1, blocks.width * blocks.height
    )


class PdfFax:
    def __init__(self, data: bytes, limits: Limits) -> None:
        self.limits = limits
        try:
            self.pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as error:
            raise UnreadableFax(*why_pdf_fails(data, error.err_code)) from None
        try:
            self._check()
        except BaseException:
            self.pdf.close()
            raise

    def _check(self) -> None:
        scripts = pdfium_c.FPDFDoc_GetJavaScriptActionCount(self.pdf)
        if scripts > 0 or self.pdf.get_formtype() != pdfium_c.FORMTYPE_NONE:
            raise UnreadableFax(ReadFailure.ACTIVE_CONTENT, f"{max(scripts, 0)} scripts, or a form")
        check_page_count(len(self.pdf), self.limits)
        for index in range(len(self.pdf)):
            width, height = self.pdf.get_page_size(index)
            scale = self.limits.dpi / 72.0
            check_page_size(index, width * scale, height * scale, self.limits)

    @property
    def page_count(self) -> int:
        return len(self.pdf)

    def page(self, index: int) -> PageImage:
        try:
            page = self.pdf[index]
            try:
                bitmap = page.render(scale=self.limits.dpi / 72.0, grayscale=True)
                image = bitmap.to_pil().convert("L")
            finally:
                page.close()
        except pdfium.PdfiumError:
            raise UnreadableFax(ReadFailure.CORRUPT, f"page {index + 1} does not render") from None
        return PageImage(index, image, (self.limits.dpi, self.limits.dpi))

    def close(self) -> None:
        self.pdf.close()


def why_pdf_fails(data: bytes, code: int | None) -> tuple[ReadFailure, str]:
    """PDFium refuses a PDF that needs a password and one without pages; its error code can be
    stale from an earlier document, so the bytes confirm it."""
    if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY) and b"/Encrypt" in data:
        return ReadFailure.ENCRYPTED, "the PDF needs a password"
    if re.search(rb"/Count\s+0\b", data) and not re.search(rb"/Type\s*/Page\b", data):
        return ReadFailure.NO_PAGES, "0 pages"
    return ReadFailure.CORRUPT, "the PDF does not open"


class TiffFax:
    def __init__(self, data: bytes, limits: Limits) -> None:
        self.limits = limits
        self.dpis: list[tuple[float, float]] = []
        try:
            with pillow_warnings_as_errors():
                self.image = Image.open(io.BytesIO(data))
                self._check()
        except Image.DecompressionBombError:
            raise UnreadableFax(ReadFailure.PAGE_TOO_LARGE, "page 1: too many pixels") from None
        except (OSError, ValueError, SyntaxError, EOFError, UserWarning):
            raise UnreadableFax(ReadFailure.CORRUPT, "the TIFF does not open") from None

    def _check(self) -> None:
        count = getattr(self.image, "n_frames", 1)
        check_page_count(count, self.limits)
        for index in range(count):
            self.image.seek(index)
            check_page_size(index, self.image.width, self.image.height, self.limits)
            self.dpis.append(tiff_dpi(self.image))

    @property
    def page_count(self) -> int:
        return len(self.dpis)

    def page(self, index: int) -> PageImage:
        dpi = self.dpis[index]
        try:
            with pillow_warnings_as_errors():
                self.image.seek(index)
                self.image.load()
                image = to_square(self.image, dpi, self.limits.dpi)
        except (OSError, ValueError, SyntaxError, EOFError, UserWarning):
            raise UnreadableFax(ReadFailure.CORRUPT, f"page {index + 1} does not decode") from None
        return PageImage(index, image, dpi)

    def close(self) -> None:
        self.image.close()


@contextmanager
def pillow_warnings_as_errors() -> Iterator[None]:
    """Pillow warns of corrupt tags and goes on; a fax that warns is corrupt. Its decompression
    bomb warning only repeats our own pixel limit, checked before decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def tiff_dpi(image: Image.Image) -> tuple[float, float]:
    """The page's resolution; a fax TIFF without one is taken as fine (204x196)."""
    x, y = image.info.get("dpi", (0.0, 0.0))
    if not x or not y or x < 50 or y < 50:
        # A fax width is 1728 pixels across 8.5 inches; guess the height from the ratio.
        return (FAX_WIDTH_DPI, 196.0 if image.height > image.width * 0.8 else 98.0)
    return (float(x), float(y))
