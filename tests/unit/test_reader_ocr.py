import io
from collections.abc import Iterator

import pytest
from PIL import Image

from bench.reader import FINE, STANDARD, cer, g4_tiff, render_fax_page
from services.reader.logic import read_fax
from services.reader.ocr import OcrOptions, PageReader
from services.reader.pages import Limits, ReadFailure, UnreadableFax, open_fax

TEXT = (
    "Please schedule an MRI of the lumbar spine for Margaret Olsen, chart 00482913. "
    "Call our office at (555) 201-4477 with the date."
)
LIMITS = Limits(dpi=204)


@pytest.fixture(scope="module")
def reader() -> Iterator[PageReader]:
    page_reader = PageReader(OcrOptions())
    yield page_reader
    page_reader.close()


def square_page(resolution: tuple[float, float], turn: int = 0) -> Image.Image:
    page = render_fax_page(TEXT, font="", points=11, resolution=resolution, width_in=6.0)
    if turn:
        page = page.rotate(-turn, expand=True, fillcolor=1)  # turned clockwise, as fed
        page.info["dpi"] = resolution[::-1] if turn in (90, 270) else resolution
    return open_fax(g4_tiff([page]), LIMITS).page(0).image


def test_fine_page_of_known_text_is_read_within_two_percent(reader: PageReader) -> None:
    result = reader.read(0, square_page(FINE), LIMITS.dpi)
    assert cer(TEXT, result.text) <= 0.02
    assert result.confidence > 80
    assert not result.blank
    assert result.orientation == 0
    assert any(word.text == "00482913." for word in result.words)


def test_standard_page_of_known_text_is_read_within_five_percent(reader: PageReader) -> None:
    result = reader.read(0, square_page(STANDARD), LIMITS.dpi)
    assert cer(TEXT, result.text) <= 0.05


def test_pdf_page_of_known_text_is_read_within_two_percent(reader: PageReader) -> None:
    page = render_fax_page(TEXT, font="", points=11, resolution=FINE, width_in=6.0)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=204)
    image = open_fax(out.getvalue(), LIMITS).page(0).image
    assert cer(TEXT, reader.read(0, image, LIMITS.dpi).text) <= 0.02


def test_upside_down_page_is_read_the_right_way_up(reader: PageReader) -> None:
    result = reader.read(0, square_page(FINE, turn=180), LIMITS.dpi)
    assert result.orientation == 180
    assert cer(TEXT, result.text) <= 0.02


def test_sideways_page_is_read_the_right_way_up(reader: PageReader) -> None:
    result = reader.read(0, square_page(FINE, turn=90), LIMITS.dpi)
    assert result.orientation == 90
    assert cer(TEXT, result.text) <= 0.02


def test_blank_page_with_speckle_is_marked_blank_not_read(reader: PageReader) -> None:
    page = render_fax_page("", resolution=FINE, speckle=0.002)
    assert page.height > 100
    result = reader.read(0, open_fax(g4_tiff([page]), LIMITS).page(0).image, LIMITS.dpi)
    assert result.blank
    assert result.text == ""
    assert result.words == []


def test_heavily_speckled_blank_page_is_marked_blank_not_read_as_noise(
    reader: PageReader,
) -> None:
    page = render_fax_page("", resolution=FINE, speckle=0.05, width_in=6.0)
    image = open_fax(g4_tiff([page]), LIMITS).page(0).image
    result = reader.read(0, image, LIMITS.dpi)
    assert result.blank
    assert result.text == ""


def test_page_of_one_short_line_is_not_blank(reader: PageReader) -> None:
    page = render_fax_page("Thanks, see attached.", resolution=FINE, width_in=8.5)
    tall = Image.new("1", (page.width, 11 * 196), 1)
    tall.paste(page, (0, 0))
    tall.info["dpi"] = FINE
    result = reader.read(0, open_fax(g4_tiff([tall]), LIMITS).page(0).image, LIMITS.dpi)
    assert not result.blank
    assert "Thanks" in result.text


def test_page_past_its_time_limit_fails_with_page_timeout() -> None:
    slow = PageReader(OcrOptions(seconds_per_page=0.001, orientation="none"))
    try:
        with pytest.raises(UnreadableFax) as caught:
            slow.read(0, square_page(FINE), LIMITS.dpi)
    finally:
        slow.close()
    assert caught.value.reason == ReadFailure.PAGE_TIMEOUT


def test_fax_of_a_text_page_and_a_blank_page_is_read_page_by_page(reader: PageReader) -> None:
    text = render_fax_page(TEXT, font="", points=11, resolution=FINE, width_in=6.0)
    blank = render_fax_page("", resolution=FINE, width_in=6.0)
    result = read_fax(g4_tiff([text, blank]), LIMITS, reader)
    assert result.page_count == 2
    assert cer(TEXT, result.pages[0].text) <= 0.02
    assert [page.blank for page in result.pages] == [False, True]
    assert [page.index for page in result.pages] == [0, 1]


def test_fax_past_the_page_limit_is_refused_before_any_page_is_read(reader: PageReader) -> None:
    page = render_fax_page(TEXT, resolution=FINE, width_in=6.0)
    with pytest.raises(UnreadableFax) as caught:
        read_fax(g4_tiff([page] * 3), Limits(max_pages=2, dpi=204), reader)
    assert caught.value.reason == ReadFailure.TOO_MANY_PAGES
