"""openQA needles (JSON + PNG) and the numpy matcher (spicepy.bots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.bots import match as match_mod
from spicepy.bots.match import match_needle, score_at, search
from spicepy.bots.needles import Area, Needle, NeedleError


def blocks(rng: np.random.Generator, h: int, w: int, cell: int = 8) -> np.ndarray:
    """A screen-like image: random flat cells with random pixel noise on top."""
    coarse = rng.integers(0, 256, (h // cell + 1, w // cell + 1, 3), dtype=np.uint8)
    img = np.repeat(np.repeat(coarse, cell, 0), cell, 1)[:h, :w]
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return np.where(rng.random((h, w, 1)) < 0.2, noise, img).astype(np.uint8)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
    coarse=st.booleans(),
)
def test_cut_needle_found_at_its_position(
    seed: int, data: st.DataObject, coarse: bool
) -> None:
    rng = np.random.default_rng(seed)
    screen = blocks(rng, 96, 128)
    w = data.draw(st.integers(16, 60))
    h = data.draw(st.integers(16, 60))
    x = data.draw(st.integers(0, 128 - w))
    y = data.draw(st.integers(0, 96 - h))
    template = screen[y : y + h, x : x + w].copy()
    old = match_mod.COARSE_ABOVE
    match_mod.COARSE_ABOVE = 0 if coarse else old  # exercise the coarse path too
    try:
        found = search(screen, template)
    finally:
        match_mod.COARSE_ABOVE = old
    assert found.score == 1.0
    # a random screen can repeat a flat cell; the template itself must be there
    assert np.array_equal(
        screen[found.y : found.y + h, found.x : found.x + w], template
    )


def test_search_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(7)
    screen = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    template = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    mask = rng.random((9, 7)) < 0.7
    best = max(
        (score_at(screen, template, mask, x, y), x, y)
        for y in range(40 - 9 + 1)
        for x in range(50 - 7 + 1)
    )
    found = search(screen, template, mask)
    assert (found.score, found.x, found.y) == best


def test_score_is_one_minus_rms_over_255() -> None:
    screen = np.full((10, 10, 3), 100, np.uint8)
    template = np.full((4, 4, 3), 105, np.uint8)
    # every channel of every pixel is 5 off: RMS 5
    assert score_at(screen, template, None, 2, 3) == pytest.approx(1 - 5 / 255)
    with pytest.raises(ValueError):
        score_at(screen, template, None, 8, 0)


def test_match_level_respected() -> None:
    screen = blocks(np.random.default_rng(3), 120, 160)
    ref = screen.copy()
    area = Area(40, 30, 50, 40, "match", 98.0, 10)
    needle = Needle("n", ref, (area,))
    off = screen.astype(np.int16)
    off[30:70, 40:90] += 5  # score 1 - 5/255 = 0.9804 where the area is
    shifted = np.clip(off, 0, 255).astype(np.uint8)
    ok = match_needle(shifted, needle)
    assert ok.ok and (ok.x, ok.y) == (40, 30)
    strict = needle.with_areas((Area(40, 30, 50, 40, "match", 99.0, 10),))
    assert not match_needle(shifted, strict).ok
    assert match_needle(screen, strict).score == 1.0


def test_exclude_areas_ignored() -> None:
    rng = np.random.default_rng(4)
    screen = blocks(rng, 100, 100)
    needle = Needle(
        "n",
        screen.copy(),
        (Area(10, 10, 60, 40), Area(20, 20, 10, 10, "exclude")),
    )
    changed = screen.copy()
    changed[20:30, 20:30] = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    m = match_needle(changed, needle)
    assert m.ok and m.score == 1.0 and (m.x, m.y) == (10, 10)
    plain = needle.with_areas((Area(10, 10, 60, 40),))
    assert match_needle(changed, plain).score < 1.0


def test_margin_limits_the_search() -> None:
    rng = np.random.default_rng(5)
    screen = blocks(rng, 200, 200)
    needle = Needle("n", screen.copy(), (Area(50, 50, 40, 40, margin=20),))
    within = np.roll(screen, (15, -12), axis=(0, 1))
    m = match_needle(within, needle)
    assert m.score == 1.0 and (m.x, m.y) == (38, 65)
    beyond = np.roll(screen, 30, axis=1)
    assert match_needle(beyond, needle).score < 1.0
    anywhere = needle.with_areas((Area(50, 50, 40, 40, margin=None),))
    far = match_needle(beyond, anywhere)
    assert far.score == 1.0 and (far.x, far.y) == (80, 50)


def test_click_point_follows_its_area() -> None:
    screen = blocks(np.random.default_rng(6), 100, 120)
    needle = Needle("n", screen.copy(), (Area(10, 20, 30, 20, click_point=(5, 7)),))
    moved = np.roll(screen, 9, axis=1)
    m = match_needle(moved, needle)
    assert m.click == (10 + 9 + 5, 20 + 7)
    centre = needle.with_areas((Area(10, 20, 30, 20),))
    assert match_needle(moved, centre).click == (19 + 15, 20 + 10)


def test_needle_json_round_trip(tmp_path: Path) -> None:
    image = blocks(np.random.default_rng(8), 60, 80)
    doc = {
        "tags": ["login", "prompt"],
        "properties": ["glyph"],
        "area": [
            {"xpos": 1, "ypos": 2, "width": 30, "height": 20, "type": "match",
             "click_point": {"xpos": 3, "ypos": 4}},
            {"xpos": 5, "ypos": 6, "width": 7, "height": 8, "type": "exclude"},
            {"xpos": 40, "ypos": 30, "width": 30, "height": 10, "type": "ocr",
             "refstr": "login:"},
            {"xpos": 0, "ypos": 0, "width": 10, "height": 10, "match": 80, "margin": 5},
        ],
    }  # fmt: skip
    needle = Needle.from_json(doc, image, "login")
    a, ex, o, low = needle.areas
    assert (a.match, a.margin, a.click_point) == (96.0, 50, (3, 4))  # openQA defaults
    assert ex.type == "exclude" and o.match == 90.0 and o.refstr == "login:"
    assert (low.match, low.margin) == (80.0, 5)
    needle.save(tmp_path / "login.json")
    again = Needle.load(tmp_path / "login.png")
    assert again.areas == needle.areas and again.tags == ("login", "prompt")
    assert np.array_equal(again.image, image)
    bare = tmp_path / "bare.png"
    from PIL import Image

    Image.fromarray(image).save(bare)
    only = Needle.load(bare)
    assert only.areas == (Area(0, 0, 80, 60, margin=None),)


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"area": "x"},
        {"area": [{"xpos": 0, "ypos": 0, "width": 100, "height": 5}]},  # off image
        {"area": [{"xpos": -1, "ypos": 0, "width": 5, "height": 5}]},
        {"area": [{"xpos": 0, "ypos": 0, "width": 5, "height": 5, "type": "exclude"}]},
        {"area": [{"xpos": "a", "ypos": 0, "width": 5, "height": 5}]},
        {"area": [{"xpos": 0, "ypos": 0, "width": 5, "height": 5, "type": "blur"}]},
        {"area": [{"xpos": 0, "ypos": 0, "width": 5, "height": 5, "match": 101}]},
        {"area": [{"xpos": 0, "ypos": 0, "width": 5, "height": 5}], "tags": [1]},
    ],
)
def test_bad_needle_json_refused(doc: object) -> None:
    with pytest.raises(NeedleError):
        Needle.from_json(doc, np.zeros((20, 20, 3), np.uint8), "bad")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)
area_keys = st.sampled_from(
    [
        "xpos",
        "ypos",
        "width",
        "height",
        "type",
        "match",
        "margin",
        "click_point",
        "refstr",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["area", "tags", "properties"]),
        st.lists(st.dictionaries(area_keys, json_values, max_size=9), max_size=3)
        | json_values,
    )
)
def test_arbitrary_json_gives_a_needle_or_needle_error(doc: dict[str, object]) -> None:
    try:
        needle = Needle.from_json(doc, np.zeros((20, 20, 3), np.uint8), "x")
    except NeedleError:
        return
    for a in needle.areas:
        assert 0 <= a.x < a.x + a.width <= 20 and 0 <= a.y < a.y + a.height <= 20


def test_bad_png_refused(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(NeedleError):
        Needle.load(tmp_path / "x.png")
    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "y.png")
    (tmp_path / "y.json").write_text("{")
    with pytest.raises(NeedleError, match="JSON"):
        Needle.load(tmp_path / "y.json")


def test_needle_score_is_its_worst_area() -> None:
    """openQA (tinycv search_needle): a needle is as similar as its least
    similar area, and matches only when every area reaches its level."""
    screen = blocks(np.random.default_rng(8), 120, 160)
    good, bad = Area(10, 10, 30, 20, margin=0), Area(90, 60, 30, 20, margin=0)
    needle = Needle("n", screen.copy(), (good, bad))
    changed = screen.astype(np.int16)
    changed[60:80, 90:120] += 20  # every channel 20 off under the second area
    m = match_needle(np.clip(changed, 0, 255).astype(np.uint8), needle)
    by_area = {a.area: a.score for a in m.areas}
    assert by_area[good] == 1.0 and by_area[bad] < 0.96
    assert m.score == by_area[bad] and not m.ok


def test_area_count_is_bounded() -> None:
    # MAX_AREAS (1000): a needle file is refused before one Area per entry is made
    from spicepy.bots.needles import MAX_AREAS

    one = {"xpos": 0, "ypos": 0, "width": 5, "height": 5}
    image = np.zeros((20, 20, 3), np.uint8)
    assert (
        len(Needle.from_json({"area": [one] * MAX_AREAS}, image, "n").areas)
        == MAX_AREAS
    )
    with pytest.raises(NeedleError, match="'area' must be a list"):
        Needle.from_json({"area": [one] * (MAX_AREAS + 1)}, image, "n")


def test_exclude_area_off_the_diagonal() -> None:
    """An exclude rectangle is x/width across and y/height down (openQA's
    xpos/ypos/width/height): a wide one right of the area's middle."""
    rng = np.random.default_rng(9)
    screen = blocks(rng, 80, 100)
    exclude = Area(45, 5, 12, 6, "exclude")
    needle = Needle("n", screen.copy(), (Area(0, 0, 60, 40, margin=0), exclude))
    mask = needle.mask(needle.match_areas[0])
    assert mask.shape == (40, 60) and int((~mask).sum()) == 12 * 6
    assert not mask[5:11, 45:57].any() and mask[:5].all() and mask[11:].all()
    changed = screen.copy()
    changed[5:11, 45:57] = 255 - changed[5:11, 45:57]
    assert match_needle(changed, needle).score == 1.0
