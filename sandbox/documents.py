"""Fax documents that look real: bilevel pages at fax resolution, TIFF (group 4) or PDF.

A fax of ``content="documents"`` carries healthcare documents with known text (``corpus``
writes them, ``render`` draws them); ``ground_truth`` tells what a reader should find on each
page, the documents' types, fields and page ranges.  A fax of ``content="noise"`` (the
default) is cheaper: every page carries ``FAX <fax_id>`` and ``PAGE n OF N`` in large type,
a ruled header and lines of word-like text with speckle, so a page compresses to roughly
``page_kb``.
Rendering is deterministic (seeded by fax id and page), so cached bytes can be evicted and
rebuilt identically; the LRU cache only saves time.

``unique_documents=False`` (for benchmarks) renders one template per (pages, format) and
serves those same bytes for every fax: near-zero cost per fax, but the bytes no longer
identify the fax and all faxes with the same page count share one sha256.

A fax created with ``size_mb`` gets a text first page followed by dense noise pages, which
group 4 cannot compress (about 0.9 MB per fine page), to reach the requested size.
"""

from __future__ import annotations

import functools
import io
import math
import random
import string
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any, Protocol

from PIL import Image, ImageDraw, ImageFont

from sandbox import corpus, render
from sandbox.settings import Content, ImageFormat, Resolution, SandboxSettings

WIDTH = 1728
HEIGHT = {"fine": 2156, "standard": 1078}
DPI = {"fine": (204, 196), "standard": (204, 98)}
NOISE_PAGE_BYTES = {"fine": 900_000, "standard": 450_000}


class FaxLike(Protocol):
    @property
    def fax_id(self) -> str: ...
    @property
    def pages(self) -> int: ...
    @property
    def size_mb(self) -> float | None: ...
    @property
    def completed_at(self) -> datetime: ...
    @property
    def content(self) -> Content: ...
    @property
    def resolution(self) -> Resolution: ...
    @property
    def content_seed(self) -> int: ...
    @property
    def sending_fax_number(self) -> str: ...
    @property
    def receiving_fax_number(self) -> str: ...


class _WordBank:
    def __init__(self) -> None:
        rng = random.Random(7)
        self.small = ImageFont.load_default(size=22)
        self.big = ImageFont.load_default(size=44)
        self.words: list[Image.Image] = []
        for _ in range(400):
            text = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 10)))
            width = int(self.small.getbbox(text)[2])
            word = Image.new("1", (width, 28), 1)
            ImageDraw.Draw(word).text((0, 0), text, font=self.small, fill=0)
            self.words.append(word)


_bank: _WordBank | None = None
_bank_lock = threading.Lock()


def _word_bank() -> _WordBank:
    global _bank
    with _bank_lock:
        if _bank is None:
            _bank = _WordBank()
        return _bank


@functools.lru_cache(maxsize=64)
def _composed(seed: int, pages: int) -> list[tuple[corpus.Document, render.Placed]]:
    """Each page of the fax with its document, laid out (the same for the same seed)."""
    out = []
    for doc in corpus.compose(seed, pages):
        for blocks in doc.pages:
            out.append((doc, render.layout(blocks, doc.font, doc.body_px)))
    return out


def header_line(fax: FaxLike, index: int) -> str:
    """What the sending machine prints at the top of each page."""
    moment = fax.completed_at.strftime("%m/%d/%Y %H:%M")
    sender = fax.sending_fax_number.lstrip("+")
    to = fax.receiving_fax_number.lstrip("+")
    return f"{moment}  FROM {sender}  TO {to}  P. {index + 1:03d}/{fax.pages:03d}"


def ground_truth(fax: FaxLike) -> dict[str, Any] | None:
    """The known content of a fax of documents (None for noise).

    ``pages[i].text`` is the header line then the page's lines top to bottom (table cells
    joined by a space); ``documents`` give each document's type, layout, font, page range
    (1-based, inclusive) and fields (dates ISO 8601, however the page prints them)."""
    if fax.content != "documents":
        return None
    composed = _composed(fax.content_seed, fax.pages)
    docs: list[corpus.Document] = []
    owners: list[int] = []
    pages = []
    for number, (doc, placed) in enumerate(composed, start=1):
        if not docs or docs[-1] is not doc:
            docs.append(doc)
        header = header_line(fax, number - 1)
        text = f"{header}\n{placed.text()}"
        owners.append(len(docs) - 1)
        pages.append({"page": number, "header": header, "text": text, "document": len(docs) - 1})
    documents = []
    for index, doc in enumerate(docs):
        numbers = [n for n, owner in enumerate(owners, start=1) if owner == index]
        documents.append(
            {
                "type": doc.type,
                "layout": doc.layout,
                "font": doc.font,
                "first_page": min(numbers),
                "last_page": max(numbers),
                "fields": dict(doc.fields),
            }
        )
    return {
        "fax_id": fax.fax_id,
        "content": fax.content,
        "resolution": fax.resolution,
        "dpi": list(DPI[fax.resolution]),
        "seed": fax.content_seed,
        "pages": pages,
        "documents": documents,
    }


def noise_pages_for(size_mb: float, resolution: str) -> int:
    """How many noise pages make a document of about ``size_mb`` megabytes."""
    return max(1, math.ceil(size_mb * 1024 * 1024 / NOISE_PAGE_BYTES[resolution]))


class Documents:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._cache: OrderedDict[tuple[str, ...], bytes] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def document(self, fax: FaxLike, fmt: ImageFormat) -> bytes:
        """The whole fax as one multi-page document (the bytes the API serves)."""
        return self._cached(self._key(fax, fmt, "all"), lambda: self._encode(fax, fmt, None))

    def page(self, fax: FaxLike, fmt: ImageFormat, index: int) -> bytes:
        """Page ``index`` (0-based) as a single-page document."""
        key = self._key(fax, fmt, str(index))
        return self._cached(key, lambda: self._encode(fax, fmt, index))

    def _key(self, fax: FaxLike, fmt: str, part: str) -> tuple[str, ...]:
        if self._unique(fax):
            return (fax.fax_id, fmt, part)
        return ("template", str(fax.pages), fax.resolution, fmt, part)

    def _cached(self, key: tuple[str, ...], build: _Builder) -> bytes:
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        data = build()
        limit = self.settings.document_cache_mb * 1024 * 1024
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                return found
            self._cache[key] = data
            self._cached_bytes += len(data)
            while self._cached_bytes > limit and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._cached_bytes -= len(dropped)
        return data

    def _encode(self, fax: FaxLike, fmt: ImageFormat, index: int | None) -> bytes:
        indexes = range(fax.pages) if index is None else [index]
        images = [self._render(fax, i) for i in indexes]
        out = io.BytesIO()
        dpi = DPI[fax.resolution]
        rest = images[1:]
        if fmt == "TIFF":
            images[0].save(
                out, "TIFF", save_all=True, append_images=rest, compression="group4", dpi=dpi
            )
        else:
            moment = fax.completed_at.utctimetuple()
            images[0].save(
                out,
                "PDF",
                save_all=True,
                append_images=rest,
                dpi=dpi,
                title=f"Fax {fax.fax_id}" if self._unique(fax) else "Sandbox fax",
                creationDate=moment,
                modDate=moment,
            )
        return out.getvalue()

    def _unique(self, fax: FaxLike) -> bool:
        """Documents are always the fax's own; noise may be one template for all."""
        return self.settings.unique_documents or bool(fax.size_mb) or fax.content != "noise"

    def _render(self, fax: FaxLike, index: int) -> Image.Image:
        if fax.content == "documents":
            _, placed = _composed(fax.content_seed, fax.pages)[index]
            seed = f"{fax.content_seed}:{index}"
            return render.render(placed, header_line(fax, index), fax.resolution, seed)
        height = HEIGHT[fax.resolution]
        unique = self._unique(fax)
        rng = random.Random(f"{fax.fax_id if unique else 'template'}:{index}")
        if fax.size_mb and index > 0:
            return Image.frombytes("1", (WIDTH, height), rng.randbytes(WIDTH * height // 8))
        bank = _word_bank()
        image = Image.new("1", (WIDTH, height), 1)
        draw = ImageDraw.Draw(image)
        title = f"FAX {fax.fax_id}" if unique else "FAX SANDBOX TEMPLATE"
        draw.text((80, 50), title, font=bank.big, fill=0)
        draw.text((80, 110), f"PAGE {index + 1} OF {fax.pages}", font=bank.big, fill=0)
        draw.line((60, 175, WIDTH - 60, 175), fill=0, width=4)
        lines = max(0, round((self.settings.page_kb - 3) / 1.6))
        y = 210
        for _ in range(lines):
            if y > height - 60:
                break
            x = 80
            while True:
                word = rng.choice(bank.words)
                if x + word.width > WIDTH - 80:
                    break
                image.paste(word, (x, y))
                x += word.width + 12
            y += 34
        for _ in range(400):
            draw.point((rng.randrange(WIDTH), rng.randrange(height)), fill=0)
        return image


class _Builder(Protocol):
    def __call__(self) -> bytes: ...
