"""Typing pace: bursts that fit QEMU's PS/2 queue, pauses between them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.session.keymap import EXTENDED, key_code, text_strokes
from spicepy.session.pacing import stroke_bytes, typing_pauses


def test_stroke_bytes() -> None:
    assert stroke_bytes(key_code("a"), False) == 2  # 1E, 9E
    assert stroke_bytes(key_code("a"), True) == 4  # 2A, 1E, 9E, AA
    assert stroke_bytes(key_code("left"), False) == 4  # E0 4B, E0 CB


def test_pauses_for_a_line() -> None:
    # "ab" = 2+2 bytes, "C" = 4, "d" = 2: a 6-byte budget splits before "C"
    # and again before "d" (4 + 2 fits: no)
    pauses = typing_pauses(text_strokes("abCd"), burst_bytes=6, pause=0.5)
    assert pauses == [0.0, 0.0, 0.5, 0.0]
    assert typing_pauses(text_strokes("abCd"), burst_bytes=4, pause=0.5) == [
        0.0,
        0.0,
        0.5,
        0.5,
    ]


strokes = st.lists(
    st.tuples(st.sampled_from([0x1E, 0x2A, 0x1C, EXTENDED | 0x4B]), st.booleans()),
    max_size=60,
)


@given(strokes, st.integers(1, 40), st.floats(0.001, 1))  # (0 hides the cuts)
def test_no_burst_overflows_and_no_needless_pause(
    seq: list[tuple[int, bool]], budget: int, pause: float
) -> None:
    pauses = typing_pauses(seq, burst_bytes=budget, pause=pause)
    assert len(pauses) == len(seq)
    bursts: list[list[int]] = []
    for (code, shifted), wait in zip(seq, pauses, strict=True):
        if not bursts or wait:
            bursts.append([])
        bursts[-1].append(stroke_bytes(code, shifted))
    for i, burst in enumerate(bursts):
        # a burst stays in budget unless it is a single oversized stroke
        assert sum(burst) <= budget or len(burst) == 1
        # and it was cut only because the next stroke did not fit
        if i + 1 < len(bursts):
            assert sum(burst) + bursts[i + 1][0] > budget
    assert all(w in (0.0, pause) for w in pauses)
    assert not pauses or pauses[0] == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        typing_pauses([], burst_bytes=0)
    with pytest.raises(ValueError):
        typing_pauses([], pause=-1)
