"""spicepy.bots.ocr: finding text among recognised words, and Tesseract itself
on text rendered with a known font at a known place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spicepy.bots import ocr
from spicepy.bots.ocr import Word, find_text, similarity

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")


def w(text: str, x: int, line: int = 1) -> Word:
    return Word(text, x, 10 * line, 8 * len(text), 9, 95.0, (1, 1, line))


def test_find_text_spans_words_and_ignores_case() -> None:
    words = [w("Password", 40, 2), w("login:", 0), w("root", 60), w("for", 112, 2)]
    hit = find_text(words, "LOGIN: root")
    assert hit is not None and hit.text == "login: root"
    assert (hit.x, hit.y, hit.width, hit.height) == (0, 10, 60 + 32, 9)
    assert hit.center == (46, 14)
    assert find_text(words, "password  for") is not None  # runs of spaces are one
    assert find_text(words, "login: for") is None  # not on one line
    assert find_text(words, "Login", case=True) is None
    with pytest.raises(ValueError):
        find_text(words, "  ")


def test_similarity_is_levenshtein_over_the_longer() -> None:
    assert similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert similarity("", "abc") == 0.0
    assert similarity("same", "same") == 1.0


@pytest.mark.skipif(
    ocr.unavailable() is not None or not FONT.is_file(),
    reason=f"OCR: {ocr.unavailable() or 'no DejaVu Sans Mono'}",
)
def test_tesseract_reads_rendered_text_where_it_is() -> None:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (400, 120), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), 16)
    draw.text((30, 40), "login: root", font=font, fill=(0, 0, 0))
    draw.text((30, 80), "EXIT=3", font=font, fill=(0, 0, 0))
    x0, y0, x1, y1 = draw.textbbox((30, 40), "login: root", font=font)
    screen = np.asarray(img)
    hit = ocr.find_text(ocr.read_words(screen), "login: root")
    assert hit is not None
    # Tesseract's boxes are its own ink boxes, scaled back from 3x: within
    # 3 px of Pillow's text box
    assert abs(hit.x - x0) <= 3 and abs(hit.y - y0) <= 3
    assert abs(hit.x + hit.width - x1) <= 3 and abs(hit.y + hit.height - y1) <= 3
    only = ocr.read_words(screen, (20, 70, 200, 40))
    assert ocr.find_text(only, "EXIT=3") is not None
    assert ocr.find_text(only, "login") is None  # outside the region
