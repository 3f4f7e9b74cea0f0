"""`python -m bench.reader`: the OCR engine alone on pages of known text rendered as faxes are.

Each page is a paragraph rendered at 400 dpi in a font and size, brought down to fax resolution
(standard 204x98 or fine 204x196), thresholded to 1 bit and speckled. Every engine setting
(model, page segmentation mode, OCR scale, resampling) reads the same pages; the table gives the
character and word error rates per resolution and the pages/s of the engine alone.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from services.reader.ocr import OcrOptions, PageReader
from services.reader.pages import Limits, open_fax

STANDARD = (204.0, 98.0)
FINE = (204.0, 196.0)
RENDER_DPI = 400

TEXT = (
    "Dear Dr. Alvarez, thank you for seeing Margaret Olsen, born 14 March 1961, for evaluation "
    "of persistent lower back pain radiating to the left leg since January. An MRI of the lumbar "
    "spine on 02/11/2026 showed a moderate disc protrusion at L4-L5 with mild narrowing of the "
    "left foramen. She has tried physical therapy twice weekly for six weeks, ibuprofen 600 mg "
    "three times daily and gabapentin 300 mg at night, with partial relief. Her history includes "
    "type 2 diabetes (HbA1c 7.2%), hypertension and a right knee replacement in 2019. Please "
    "call our office at (555) 201-4477 or fax (555) 201-4478 with your findings. Reference "
    "number REF-20931, chart 00482913. Sincerely, Helen Park, MD, Northside Family Medicine."
)
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "")  # "" is Pillow's own font (always there)


def load_font(name: str, points: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    pixels = round(points * RENDER_DPI / 72)
    if name:
        for folder in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF"):
            path = Path(folder) / name
            if path.exists():
                return ImageFont.truetype(str(path), pixels)
    return ImageFont.load_default(size=pixels)


def wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def render_fax_page(
    text: str,
    *,
    font: str = "",
    points: float = 11.0,
    resolution: tuple[float, float] = FINE,
    speckle: float = 0.0005,
    width_in: float = 8.5,
    seed: int = 0,
) -> Image.Image:
    """A 1-bit page of `text` at fax resolution (its dpi in `info`), as a fax machine sends it."""
    face = load_font(font, points)
    margin = RENDER_DPI // 2
    lines = wrap(text, face, round(width_in * RENDER_DPI) - 2 * margin)
    line_height = round(points * RENDER_DPI / 72 * 1.35)
    height = 2 * margin + line_height * len(lines)
    page = Image.new("L", (round(width_in * RENDER_DPI), height), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        draw.text((margin, margin + number * line_height), line, font=face, fill=0)
    size = (
        round(page.width * resolution[0] / RENDER_DPI),
        round(page.height * resolution[1] / RENDER_DPI),
    )
    fax = page.resize(size, Image.Resampling.BOX).point(lambda v: 255 if v >= 128 else 0)
    rng = random.Random(seed)  # noqa: S311  # speckle, not secrets
    pixels = fax.load()
    assert pixels is not None
    for _ in range(int(size[0] * size[1] * speckle)):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        pixels[x, y] = 255 - pixels[x, y]  # type: ignore[operator]
    bilevel = fax.convert("1", dither=Image.Dither.NONE)
    bilevel.info["dpi"] = resolution
    return bilevel


def g4_tiff(pages: list[Image.Image]) -> bytes:
    out = io.BytesIO()
    dpi = pages[0].info.get("dpi", FINE)
    pages[0].save(
        out, "TIFF", compression="group4", save_all=True, append_images=pages[1:], dpi=dpi
    )
    return out.getvalue()


def normalise(text: str) -> str:
    return " ".join(text.split())


def cer(truth: str, read: str) -> float:
    truth, read = normalise(truth), normalise(read)
    return Levenshtein.distance(truth, read) / max(1, len(truth))


def wer(truth: str, read: str) -> float:
    words = normalise(truth).split()
    return Levenshtein.distance(words, normalise(read).split()) / max(1, len(words))


@dataclass(frozen=True)
class Setting:
    name: str
    tessdata: str
    psm: int
    dpi: float
    orientation: str = "none"
    turn: int = 0


def corpus(resolution: tuple[float, float], turn: int = 0) -> Iterator[tuple[str, bytes]]:
    for seed, (font, points) in enumerate([(f, p) for f in FONTS for p in (9.0, 11.0, 13.0)]):
        page = render_fax_page(TEXT, font=font, points=points, resolution=resolution, seed=seed)
        if turn:
            page = page.rotate(-turn, expand=True, fillcolor=1)
            page.info["dpi"] = resolution[::-1] if turn in (90, 270) else resolution
        yield TEXT, g4_tiff([page])


def measure(setting: Setting, resolution: tuple[float, float]) -> dict[str, float]:
    reader = PageReader(
        OcrOptions(
            tessdata_path=setting.tessdata,
            psm=setting.psm,
            orientation=setting.orientation,
            seconds_per_page=600.0,
        )
    )
    chars = words = 0.0
    seconds = 0.0
    count = right_way_up = 0
    try:
        for truth, data in corpus(resolution, setting.turn):
            fax = open_fax(data, Limits(dpi=setting.dpi))
            page = fax.page(0)
            started = time.process_time()
            result = reader.read(0, page.image, setting.dpi)
            seconds += time.process_time() - started
            chars += cer(truth, result.text)
            words += wer(truth, result.text)
            right_way_up += result.orientation == setting.turn
            count += 1
    finally:
        reader.close()
    return {
        "cer": chars / count,
        "wer": words / count,
        "pages_per_s": count / seconds,
        "orientation_right": right_way_up / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reader", description=__doc__)
    parser.add_argument(
        "--tessdata",
        action="append",
        default=[],
        help="name=folder of eng.traineddata to compare (default: the installed model)",
    )
    parser.add_argument("--psm", default="3")
    parser.add_argument("--dpi", default="204", help="square OCR resolutions")
    parser.add_argument("--orientation", default="none", help="none,osd,confidence")
    parser.add_argument("--turn", default="0", help="pages turned clockwise by: 0,90,180")
    args = parser.parse_args()
    models = [item.split("=", 1) for item in args.tessdata] or [["installed", ""]]
    # pages/s of CPU time: the one OCR thread's, steady however loaded the machine is
    print(f"{'setting':<40}{'res':<10}{'cer %':>7}{'wer %':>7}{'pages/s':>9}{'upright %':>10}")
    results: dict[str, float] = {}
    for name, folder in models:
        for psm in (int(p) for p in args.psm.split(",")):
            for dpi in (float(d) for d in args.dpi.split(",")):
                for orientation in args.orientation.split(","):
                    for turn in (int(t) for t in args.turn.split(",")):
                        label = f"{name} psm{psm} {dpi:.0f}dpi {orientation} turn{turn}"
                        setting = Setting(label, folder, psm, dpi, orientation, turn)
                        for res_name, resolution in (("standard", STANDARD), ("fine", FINE)):
                            r = measure(setting, resolution)
                            results.setdefault(f"cer_{res_name}", r["cer"])
                            results.setdefault("engine_pages_per_s", r["pages_per_s"])
                            print(
                                f"{label:<40}{res_name:<10}{100 * r['cer']:>7.2f}"
                                f"{100 * r['wer']:>7.2f}{r['pages_per_s']:>9.2f}"
                                f"{100 * r['orientation_right']:>10.0f}",
                                flush=True,
                            )
    print(
        "reader summary (engine, first setting): "
        + " ".join(f"{key}={value:.4f}" for key, value in sorted(results.items()))
    )


if __name__ == "__main__":
    main()
