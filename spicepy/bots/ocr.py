"""Text on the screen, with positions, through Tesseract (optional extra ``ocr``).

Needs the ``tesseract`` program (Debian: tesseract-ocr + tesseract-ocr-eng) and
pytesseract (``pip install spicepy[ocr]``).  Screens are read scaled up
(``SCALE``, in grey): Tesseract is trained on print-sized glyphs, and a 6x13
terminal font read at its own size loses letters.  Positions are given back in
screen pixels.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import SpiceError

Image = npt.NDArray[np.uint8]
Rect = tuple[int, int, int, int]
#: upscale factor before recognition (tried 2-4 on xterm screens: 3 misread least)
SCALE = 3
#: --psm 6 (one block of text): on terminal screens --psm 11 (sparse text) split
#: "EXIT=3" into "EXIT" and lost the rest; --psm 3/4 dropped whole lines
TESSERACT_CONFIG = "--psm 6"


class OcrError(SpiceError):
    """OCR is not available here, or Tesseract failed."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word and its box on the screen."""

    text: str
    x: int
    y: int
    width: int
    height: int
    confidence: float
    line: tuple[int, int, int]  # Tesseract's (block, paragraph, line)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """Where a searched text was read: the box around its words."""

    text: str
    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


def unavailable() -> str | None:
    """Why OCR cannot run here (None: it can)."""
    try:
        import pytesseract  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "pytesseract is not installed (pip install 'spicepy[ocr]')"
    if shutil.which("tesseract") is None:
        return "the tesseract program is missing (Debian: apt install tesseract-ocr)"
    return None


def read_words(
    image: Image, region: Rect | None = None, *, scale: int = SCALE
) -> list[Word]:
    """Every word Tesseract reads in ``image`` (RGB) or its ``region``.

    Raises:
        OcrError: OCR unavailable or Tesseract failed.
    """
    reason = unavailable()
    if reason is not None:
        raise OcrError(reason)
    import pytesseract
    from PIL import Image as PILImage

    ox, oy = 0, 0
    if region is not None:
        ox, oy, w, h = region
        ox, oy = max(0, ox), max(0, oy)
        image = image[oy : oy + h, ox : ox + w]
    if image.size == 0:
        return []
    grey = PILImage.fromarray(image, "RGB").convert("L")
    if scale != 1:
        grey = grey.resize(
            (grey.width * scale, grey.height * scale), PILImage.Resampling.LANCZOS
        )
    try:
        data: dict[str, list[Any]] = pytesseract.image_to_data(
            grey, config=TESSERACT_CONFIG, output_type=pytesseract.Output.DICT
        )
    except (pytesseract.TesseractError, OSError) as exc:
        raise OcrError(f"tesseract failed: {exc}") from exc
    words = []
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        if not text:
            continue
        words.append(
            Word(
                text,
                ox + int(data["left"][i]) // scale,
                oy + int(data["top"][i]) // scale,
                -(-int(data["width"][i]) // scale),
                -(-int(data["height"][i]) // scale),
                float(data["conf"][i]),
                (
                    int(data["block_num"][i]),
                    int(data["par_num"][i]),
                    int(data["line_num"][i]),
                ),
            )
        )
    return words


def lines(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped by Tesseract line, in reading order."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        grouped.setdefault(w.line, []).append(w)
    return [sorted(ws, key=lambda w: w.x) for ws in grouped.values()]


def find_text(
    words: Sequence[Word], text: str, *, case: bool = False
) -> TextMatch | None:
    """The first line whose words contain ``text`` (spaces between words are
    single spaces; ``case=False`` ignores case); its box covers the words the
    text touches."""
    needle = " ".join(text.split())
    if not needle:
        raise ValueError("empty text")
    if not case:
        needle = needle.lower()
    for line in lines(words):
        joined, spans = "", []
        for w in line:
            if joined:
                joined += " "
            spans.append((len(joined), len(joined) + len(w.text), w))
            joined += w.text
        hay = joined if case else joined.lower()
        start = hay.find(needle)
        if start < 0:
            continue
        end = start + len(needle)
        hit = [w for a, b, w in spans if a < end and b > start]
        x0 = min(w.x for w in hit)
        y0 = min(w.y for w in hit)
        x1 = max(w.x + w.width for w in hit)
        y1 = max(w.y + w.height for w in hit)
        return TextMatch(joined[start:end], x0, y0, x1 - x0, y1 - y0)
    return None


def read_text(image: Image, region: Rect | None = None) -> str:
    """The text read in ``image`` (or ``region``), one line per Tesseract line."""
    return "\n".join(
        " ".join(w.text for w in ln) for ln in lines(read_words(image, region))
    )


def similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / the longer length (openQA's OCR-area score)."""
    if a == b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))
