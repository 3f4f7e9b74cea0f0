import io
import struct

import pytest
from PIL import Image
from pydantic import ValidationError

from bench.reader import FINE, STANDARD, g4_tiff, render_fax_page
from services.reader.pages import Limits, ReadFailure, UnreadableFax, open_fax
from services.reader.settings import ReaderSettings
from tests.pdfs import SCRIPT, encrypted_pdf, pdf_bytes

LIMITS = Limits(max_pages=50, max_page_pixels=40_000_000, dpi=300)
TEXT = "Referral for Margaret Olsen, chart 00482913."


def image_pdf(pages: list[Image.Image]) -> bytes:
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=204)
    return out.getvalue()


def set_tiff_size(data: bytes, width: int, height: int) -> bytes:
    """The TIFF with its first page's width and height tags rewritten (no pixels added)."""
    patched = bytearray(data)
    (ifd,) = struct.unpack_from("<I", patched, 4)
    (count,) = struct.unpack_from("<H", patched, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind = struct.unpack_from("<HH", patched, entry)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<H" if kind == 3 else "<I", patched, entry + 8, value)
    return bytes(patched)


def read_every_page(data: bytes, limits: Limits) -> None:
    fax = open_fax(data, limits)
    for index in range(fax.page_count):
        fax.page(index)


def reason_of(data: bytes, limits: Limits = LIMITS) -> ReadFailure:
    with pytest.raises(UnreadableFax) as caught:
        read_every_page(data, limits)
    return caught.value.reason


def small_page(resolution: tuple[float, float] = FINE) -> Image.Image:
    return render_fax_page(TEXT, resolution=resolution, width_in=4.0)


def test_multipage_g4_tiff_opens_every_page_with_square_pixels() -> None:
    fax = open_fax(g4_tiff([small_page(), small_page(), small_page()]), LIMITS)
    assert fax.page_count == 3
    page = fax.page(2)
    assert page.index == 2
    assert page.source_dpi == FINE
    assert page.image.mode == "L"
    assert page.image.width == round(small_page().width * 300 / 204)


def test_multipage_g3_tiff_opens_every_page() -> None:
    out = io.BytesIO()
    pages = [small_page(STANDARD), small_page(STANDARD)]
    pages[0].save(
        out, "TIFF", compression="group3", save_all=True, append_images=pages[1:], dpi=STANDARD
    )
    fax = open_fax(out.getvalue(), LIMITS)
    assert fax.page_count == 2
    assert fax.page(1).source_dpi == STANDARD


def test_standard_resolution_page_rows_are_doubled_to_square_pixels() -> None:
    page = small_page(STANDARD)
    square = open_fax(g4_tiff([page]), LIMITS).page(0).image
    assert square.width == round(page.width * 300 / 204)
    assert square.height == round(page.height * 300 / 204 * 2)


def test_fine_page_at_the_fax_width_resolution_keeps_its_pixels() -> None:
    page = small_page(FINE)
    square = open_fax(g4_tiff([page]), Limits(dpi=204)).page(0).image
    assert square.size == page.size


def test_superfine_page_rows_are_merged_two_to_one() -> None:
    page = small_page(FINE)
    page.info["dpi"] = (204.0, 391.0)
    square = open_fax(g4_tiff([page]), Limits(dpi=204)).page(0).image
    assert square.size == (page.width, round(page.height / 2))


def test_page_of_unusual_resolution_is_resampled_to_the_ocr_resolution() -> None:
    page = small_page(FINE)
    page.info["dpi"] = (150.0, 120.0)
    square = open_fax(g4_tiff([page]), Limits(dpi=300)).page(0).image
    assert square.size == (round(page.width * 2), round(page.height * 2.5))


def test_pdf_pages_render_at_the_ocr_resolution() -> None:
    fax = open_fax(image_pdf([small_page(), small_page()]), LIMITS)
    assert fax.page_count == 2
    image = fax.page(1).image
    assert image.mode == "L"
    assert image.width == pytest.approx(small_page().width * 300 / 204, abs=2)


def test_corrupt_pdf_is_corrupt() -> None:
    assert reason_of(b"%PDF-1.7\n" + bytes(range(256)) * 8) == ReadFailure.CORRUPT


def test_truncated_pdf_is_corrupt() -> None:
    data = image_pdf([small_page()])
    assert reason_of(data[: len(data) // 3]) == ReadFailure.CORRUPT


def test_truncated_tiff_is_corrupt() -> None:
    data = g4_tiff([small_page(), small_page()])
    assert reason_of(data[: len(data) // 3]) == ReadFailure.CORRUPT


def test_neither_pdf_nor_tiff_is_unsupported() -> None:
    out = io.BytesIO()
    small_page().save(out, "PNG")
    assert reason_of(out.getvalue()) == ReadFailure.UNSUPPORTED_FORMAT


def test_encrypted_pdf_is_encrypted() -> None:
    assert reason_of(encrypted_pdf()) == ReadFailure.ENCRYPTED


def test_pdf_with_a_script_is_active_content() -> None:
    assert reason_of(pdf_bytes(catalog=SCRIPT)) == ReadFailure.ACTIVE_CONTENT


def test_pdf_with_a_form_is_active_content() -> None:
    form = "/AcroForm << /Fields [] >>"
    assert reason_of(pdf_bytes(catalog=form)) == ReadFailure.ACTIVE_CONTENT


def test_tiff_page_of_30000_by_30000_pixels_is_refused_before_decoding() -> None:
    bomb = set_tiff_size(g4_tiff([small_page()]), 30_000, 30_000)
    assert reason_of(bomb) == ReadFailure.PAGE_TOO_LARGE


def test_tiff_page_past_our_own_pixel_limit_is_too_large() -> None:
    big = set_tiff_size(g4_tiff([small_page()]), 5_000, 5_000)
    assert reason_of(big, Limits(max_page_pixels=20_000_000)) == ReadFailure.PAGE_TOO_LARGE


def test_huge_pdf_page_is_refused_before_rendering() -> None:
    assert reason_of(pdf_bytes(mediabox="0 0 7200 7200")) == ReadFailure.PAGE_TOO_LARGE


def test_pdf_of_500_pages_is_too_many() -> None:
    assert reason_of(pdf_bytes(pages=500)) == ReadFailure.TOO_MANY_PAGES


def test_tiff_of_500_pages_is_too_many() -> None:
    tiny = Image.new("1", (16, 16), 1)
    assert reason_of(g4_tiff([tiny] * 500)) == ReadFailure.TOO_MANY_PAGES


def test_pdf_of_zero_pages_is_no_pages() -> None:
    assert reason_of(pdf_bytes(pages=0)) == ReadFailure.NO_PAGES


def test_reader_settings_give_the_limits_and_hide_bad_input_in_errors() -> None:
    assert ReaderSettings(reader_max_pages=3).limits().max_pages == 3
    with pytest.raises(ValidationError) as caught:
        ReaderSettings(reader_max_pages="5000000x")
    assert "5000000x" not in str(caught.value)


def test_tiff_whose_page_list_loops_back_opens_once_and_does_not_hang() -> None:
    data = bytearray(g4_tiff([small_page()]))
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    struct.pack_into("<I", data, ifd + 2 + 12 * count, ifd)  # next page: itself
    assert open_fax(bytes(data), LIMITS).page_count == 1
