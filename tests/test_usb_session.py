"""session.usb's keyboard text: characters -> HID usages through the one US
layout (``keymap``) and ``hidkeys``' usage table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.session.hidkeys import scancode_for_usage
from spicepy.session.keymap import CHARS, text_strokes
from spicepy.session.usb import text_usages


@given(st.text(alphabet=sorted(CHARS), max_size=40))
def test_usages_are_the_keys_of_the_scancodes(text: str) -> None:
    usages = text_usages(text)
    assert [(scancode_for_usage(usage), sh) for usage, sh in usages] == text_strokes(
        text
    )


def test_hid_usage_table_values() -> None:
    # HID Usage Tables 1.12 chapter 10: a=0x04, z=0x1D, 1=0x1E, 0=0x27,
    # Enter 0x28, Tab 0x2B, space 0x2C, backslash 0x31 (not the ISO 0x32)
    assert text_usages("az10\n\t \\") == [
        (0x04, False), (0x1D, False), (0x1E, False), (0x27, False),
        (0x28, False), (0x2B, False), (0x2C, False), (0x31, False),
    ]  # fmt: skip
    assert text_usages("A!|") == [(0x04, True), (0x1E, True), (0x31, True)]


def test_untypable_character() -> None:
    with pytest.raises(ValueError):
        text_usages("é")
