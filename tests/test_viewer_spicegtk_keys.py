"""The key table held to the spice-gtk on this machine: the viewer must send
every key as remote-viewer does.  spice-gtk compiles keycodemapdb's tables
into libspice-client-gtk; its evdev one (``keymap_xorgevdev2xtkbd``, indexed
by Linux keycode + 8) is found in the library by its first entries, and each
HID usage's Linux keycode is read from the kernel's input-event-codes.h
(``_spice_gtk_keys``)."""

from __future__ import annotations

import pytest
from _spice_gtk_keys import linux_key_codes, spice_gtk_evdev_table

from spicepy.session.hidkeys import USAGE_TO_SCANCODE, usage_for
from spicepy.session.keymap import wire_bytes

#: HID usage -> Linux key (the kernel's hid-input table, keyboard page): the
#: keys beyond a 105-key keyboard, where tables drift, and AltGr and Pause
LINUX_KEY = {
    0x46: "KEY_SYSRQ",
    0x48: "KEY_PAUSE",
    0x58: "KEY_KPENTER",
    0x64: "KEY_102ND",
    0x65: "KEY_COMPOSE",
    0x74: "KEY_OPEN",
    0x75: "KEY_HELP",
    0x76: "KEY_MENU",
    0x77: "KEY_FRONT",
    0x78: "KEY_STOP",
    0x79: "KEY_AGAIN",
    0x7A: "KEY_UNDO",
    0x7B: "KEY_CUT",
    0x7C: "KEY_COPY",
    0x7D: "KEY_PASTE",
    0x7E: "KEY_FIND",
    0x7F: "KEY_MUTE",
    0x87: "KEY_RO",
    0x88: "KEY_KATAKANAHIRAGANA",
    0x89: "KEY_YEN",
    0x8A: "KEY_HENKAN",
    0x8B: "KEY_MUHENKAN",
    0x8C: "KEY_KPJPCOMMA",
    0x90: "KEY_HANGEUL",
    0x91: "KEY_HANJA",
    0x92: "KEY_KATAKANA",
    0x93: "KEY_HIRAGANA",
    0x94: "KEY_ZENKAKUHANKAKU",
    0xB6: "KEY_KPLEFTPAREN",
    0xB7: "KEY_KPRIGHTPAREN",
    0xE6: "KEY_RIGHTALT",
    0xE7: "KEY_RIGHTMETA",
}


def _linux_codes() -> dict[str, int]:
    codes = linux_key_codes()
    if codes is None:
        pytest.skip("linux/input-event-codes.h missing (linux-libc-dev)")
    return codes


def _spice_gtk_evdev_map() -> tuple[int, ...]:
    table = spice_gtk_evdev_table()
    if table is None:
        pytest.skip("no libspice-client-gtk-3.0 with its evdev key table")
    return table


def test_keys_are_the_codes_the_installed_spice_gtk_sends() -> None:
    linux, table = _linux_codes(), _spice_gtk_evdev_map()
    theirs = {usage: table[linux[name] + 8] for usage, name in LINUX_KEY.items()}
    ours = {usage: USAGE_TO_SCANCODE.get(usage) for usage in LINUX_KEY}
    assert ours == theirs


def test_korean_keys_make_and_break_as_spice_gtk_042() -> None:
    # spice-gtk 0.42: Hanja 0x71 / Hangeul 0x72, break with bit 7 set; QEMU's
    # spice-input reads 0xF1 as key 0x71 going up (its qcode lang2)
    hanja, hangeul = USAGE_TO_SCANCODE[usage_for("hanja")], USAGE_TO_SCANCODE[0x90]
    assert (wire_bytes(hanja), wire_bytes(hanja, release=True)) == (b"\x71", b"\xf1")
    assert (wire_bytes(hangeul), wire_bytes(hangeul, release=True)) == (
        b"\x72",
        b"\xf2",
    )


def test_sdl_media_keys_are_the_codes_the_installed_spice_gtk_sends() -> None:
    # SDL_MEDIA names its keys as Linux does (nextsong: KEY_NEXTSONG)
    from spicepy.viewer.keyboard import SDL_MEDIA, scancode_for_key

    linux, table = _linux_codes(), _spice_gtk_evdev_map()
    theirs = {
        sdl: table[linux[f"KEY_{name.upper()}"] + 8] for sdl, name in SDL_MEDIA.items()
    }
    ours = {sdl: scancode_for_key(sdl) for sdl in SDL_MEDIA}
    assert ours == theirs
    assert scancode_for_key(0x1FF) is None  # not a key SDL has
