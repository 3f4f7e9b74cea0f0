"""Drawing ``corpus`` pages as a fax machine delivers them, and the text they then carry.

``layout`` places a page's blocks on a fine-resolution page (1728 x 2156, about 204 x 196 dpi)
with real font metrics, so the ground truth is exactly the lines drawn, in reading order.
``render`` draws them in grey, skews the page slightly, adds the sender's header line at the
top, resamples to standard resolution (1728 x 1078) when asked, thresholds to 1 bit and adds
speckle. Fonts come from PyPI packages (Open Sans, Apache-2.0; Caladea, Apache-2.0; Source
Serif Pro, OFL-1.1) and Pillow's own scalable default (Aileron, CC0); nothing is downloaded.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sandbox.blocks import Block, Field, Gap, Para, Rule, Style, Table, Text
from sandbox.settings import Resolution

WIDTH, FINE_HEIGHT = 1728, 2156
HEIGHT = {"fine": FINE_HEIGHT, "standard": 1078}
MARGIN, TOP, BOTTOM = 110, 90, 2060
SCALE: dict[Style, float] = {"title": 1.7, "heading": 1.25, "body": 1.0, "bold": 1.0, "small": 0.8}
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font_file(package: str, name: str) -> str:
    return str(Path(str(files(package))) / name)


def _files(family: str) -> tuple[str, str] | None:
    if family == "open_sans":
        return _font_file("ttf_opensans", "ttf/OpenSans-Regular.ttf"), _font_file(
            "ttf_opensans", "ttf/OpenSans-Bold.ttf"
        )
    if family == "caladea":
        return _font_file("font_caladea", "files/Caladea-Regular.ttf"), _font_file(
            "font_caladea", "files/Caladea-Bold.ttf"
        )
    if family == "source_serif":
        return _font_file("font_source_serif_pro", "files/SourceSerifPro-Regular.ttf"), _font_file(
            "font_source_serif_pro", "files/SourceSerifPro-Bold.ttf"
        )
    return None  # aileron: Pillow's default, which has no bold


@functools.lru_cache(maxsize=256)
def font(family: str, bold: bool, size: int) -> Font:
    paths = _files(family)
    if paths is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(paths[1] if bold else paths[0], size)


@dataclass(frozen=True)
class Run:
    """Text drawn at (x, y) in one font; a table row is several runs on one line."""

    x: int
    y: int
    text: str
    font: Font


@dataclass(frozen=True)
class Placed:
    runs: list[Run]
    lines: list[tuple[int, int, int, int]]  # rules and table grid

    def text(self) -> str:
        """The page's text: one line per baseline, runs on a line joined by a space."""
        rows: dict[int, list[Run]] = {}
        for run in self.runs:
            rows.setdefault(run.y, []).append(run)
        return "\n".join(
            " ".join(r.text for r in sorted(row, key=lambda r: r.x))
            for _, row in sorted(rows.items())
        )


def _wrap(text: str, face: Font, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and face.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


def layout(blocks: list[Block], family: str, body_px: int) -> Placed:
    """Place ``blocks`` top to bottom; what does not fit above the bottom margin is left out."""
    runs: list[Run] = []
    rules: list[tuple[int, int, int, int]] = []
    body = font(family, False, body_px)
    step = int(body_px * 1.45)
    y = TOP
    width = WIDTH - 2 * MARGIN

    def fits(height: int) -> bool:
        return y + height <= BOTTOM

    for block in blocks:
        if isinstance(block, Text):
            face = font(
                family, block.style in ("title", "heading", "bold"), _px(body_px, block.style)
            )
            height = int(_px(body_px, block.style) * 1.45)
            if not fits(height):
                break
            x = MARGIN
            if block.align != "left":
                free = width - int(face.getlength(block.text))
                x += free if block.align == "right" else free // 2
            runs.append(Run(x, y, block.text, face))
            y += height
        elif isinstance(block, Para):
            for line in _wrap(block.text, body, width):
                if not fits(step):
                    break
                runs.append(Run(MARGIN, y, line, body))
                y += step
            y += step // 3
        elif isinstance(block, Field):
            if not fits(step):
                break
            label = font(family, True, body_px)
            runs.append(Run(MARGIN, y, f"{block.label}:", label))
            x = MARGIN + max(int(label.getlength(f"{block.label}:")) + 24, 330)
            runs.append(Run(x, y, block.value, body))
            under = y + int(body_px * 1.35)
            rules.append((x - 6, under, WIDTH - MARGIN, under))
            y += step
        elif isinstance(block, Table):
            y = _table(block, body, family, body_px, y, runs, rules)
        elif isinstance(block, Gap):
            y += int(step * block.lines)
        elif isinstance(block, Rule):
            rules.append((MARGIN, y + 6, WIDTH - MARGIN, y + 6))
            y += 22
    return Placed(runs, rules)


def _px(body_px: int, style: Style) -> int:
    return round(body_px * SCALE[style])


def _table(
    table: Table,
    body: Font,
    family: str,
    body_px: int,
    y: int,
    runs: list[Run],
    rules: list[tuple[int, int, int, int]],
) -> int:
    head = font(family, True, body_px)
    rows = [table.columns, *table.rows]
    widths = [
        max(int((head if i == 0 else body).getlength(row[c])) for i, row in enumerate(rows)) + 30
        for c in range(len(table.columns))
    ]
    left, step = MARGIN, int(body_px * 1.6)
    right = min(WIDTH - MARGIN, left + sum(widths))
    for i, row in enumerate(rows):
        if y + step > BOTTOM:
            break
        x = left
        for c, cell in enumerate(row):
            if cell:
                runs.append(Run(x + 12, y + 6, cell, head if i == 0 else body))
            x += widths[c]
        rules.append((left, y, right, y))
        y += step
    rules.append((left, y, right, y))
    return y + 10


def render(placed: Placed, header: str, resolution: Resolution, seed: str) -> Image.Image:
    """The page as the receiving machine stores it: 1 bit, slightly skewed, speckled."""
    rng = random.Random(seed)
    page = Image.new("L", (WIDTH, FINE_HEIGHT), 255)
    draw = ImageDraw.Draw(page)
    for run in placed.runs:
        draw.text((run.x, run.y), run.text, font=run.font, fill=0)
    for line in placed.lines:
        draw.line(line, fill=0, width=3)
    angle = rng.uniform(0.15, 0.9) * rng.choice((-1, 1))
    # NEAREST: a third of the time of BILINEAR, and the jagged edges of a real scan
    page = page.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=255)
    ImageDraw.Draw(page).text((24, 14), header, font=font("aileron", False, 24), fill=0)
    if resolution == "standard":
        page = page.resize((WIDTH, HEIGHT["standard"]), Image.Resampling.BOX)
    bilevel = page.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    _speckle(bilevel, rng)
    return bilevel


def _speckle(image: Image.Image, rng: random.Random) -> None:
    """Dust and toner specks, and on some pages the streak a dirty scanner glass draws."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(400, 2500)):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.choice((0, 0, 0, 1, 2))
        draw.rectangle((x, y, x + size, y + size), fill=0)
    if rng.random() < 0.3:
        x = rng.randrange(20, width - 20)
        y = 0
        while y < height:
            length = rng.randint(20, 400)
            draw.line((x, y, x, y + length), fill=0, width=rng.choice((1, 2)))
            y += length + rng.randint(5, 300)
