"""USB HID keyboard usages -> the PC/AT set-1 scancodes SPICE carries.

A physical key is named the same way by USB (HID Usage Tables, page 0x07),
SDL (its scancodes *are* these usages) and macOS/Windows raw input, so one
table serves any toolkit viewer and the emulated USB keyboard
(``spicepy.usb.hid``) alike.  Values are the set-1 codes spice-gtk 0.42 sends
for the key (its xtkbd maps, generated from QEMU keycodemapdb: the same codes
but for Hanja/Hangeul, see ``keymap``), extended keys written ``0x100 | x`` as
in ``keymap``, whose ``KEYS`` names every key of the page (one copy of their
numbers).  SDL's media keys (its scancodes above 0x100) are not HID usages.
"""

from __future__ import annotations

from spicepy.session.keymap import CHARS, KEYS, PAUSE_BYTES

__all__ = [
    "PAUSE_BYTES",
    "USAGE_TO_SCANCODE",
    "scancode_for_usage",
    "usage_for",
]

# HID Usage Tables 1.12, chapter 10 (keyboard page): usage -> key name
_NAMED: dict[int, str] = {
    0x28: "enter",
    0x29: "esc",
    0x2A: "backspace",
    0x2B: "tab",
    0x2C: "space",
    0x32: "nonus_hash",
    0x39: "capslock",
    **{0x3A + i: f"f{i + 1}" for i in range(12)},
    0x46: "printscreen",
    0x47: "scrolllock",
    0x48: "pause",
    0x49: "insert",
    0x4A: "home",
    0x4B: "pageup",
    0x4C: "delete",
    0x4D: "end",
    0x4E: "pagedown",
    0x4F: "right",
    0x50: "left",
    0x51: "down",
    0x52: "up",
    0x53: "numlock",
    0x54: "kp_divide",
    0x55: "kp_multiply",
    0x56: "kp_minus",
    0x57: "kp_plus",
    0x58: "kp_enter",
    **{0x59 + i: f"kp{i + 1}" for i in range(9)},
    0x62: "kp0",
    0x63: "kp_decimal",
    0x64: "nonus_backslash",
    0x65: "menu",
    0x66: "power",
    0x67: "kp_equals",
    **{0x68 + i: f"f{i + 13}" for i in range(12)},
    0x74: "execute",
    0x75: "help",
    0x76: "kbd_menu",  # "Keyboard Menu"; 0x65 "Application" is "menu"
    0x77: "select",
    0x78: "stop",
    0x79: "again",
    0x7A: "undo",
    0x7B: "cut",
    0x7C: "copy",
    0x7D: "paste",
    0x7E: "find",
    0x7F: "mute",
    0x80: "volumeup",
    0x81: "volumedown",
    0x85: "kp_comma",
    0x87: "ro",
    0x88: "katakanahiragana",
    0x89: "yen",
    0x8A: "henkan",
    0x8B: "muhenkan",
    0x8C: "kp_jpcomma",
    0x90: "hangeul",  # LANG1
    0x91: "hanja",  # LANG2
    0x92: "katakana",
    0x93: "hiragana",
    0x94: "zenkakuhankaku",
    0xB6: "kp_leftparen",
    0xB7: "kp_rightparen",
    0xE0: "lctrl",
    0xE1: "lshift",
    0xE2: "lalt",
    0xE3: "lsuper",
    0xE4: "rctrl",
    0xE5: "rshift",
    0xE6: "ralt",  # AltGr: the layout is the guest's, the key is the same
    0xE7: "rsuper",
}
# usage -> the unshifted US character printed on the key
_CHAR_KEYS: dict[int, str] = {
    **{0x04 + i: chr(ord("a") + i) for i in range(26)},
    **{0x1E + i: "1234567890"[i] for i in range(10)},
    **dict(zip(range(0x2D, 0x32), "-=[]\\", strict=True)),
    **dict(zip(range(0x33, 0x39), ";'`,./", strict=True)),
}


def _build() -> dict[int, int]:
    table = {usage: CHARS[ch][0] for usage, ch in _CHAR_KEYS.items()}
    for usage, name in _NAMED.items():
        table[usage] = KEYS[name]
    return table


#: HID keyboard usage -> set-1 scancode (``0x100 | x`` for E0-prefixed keys)
USAGE_TO_SCANCODE: dict[int, int] = _build()
_NAMES = {**_CHAR_KEYS, **_NAMED}


def scancode_for_usage(usage: int) -> int | None:
    """The set-1 scancode of the key with HID usage ``usage`` (None: no such
    key on a PC keyboard, e.g. SDL's media-key scancodes above 0x100)."""
    return USAGE_TO_SCANCODE.get(usage)


def usage_for(name: str) -> int:
    """The HID usage of a key name ("a", "f5", "kp_enter", "ralt").

    Raises:
        ValueError: no key of that name.
    """
    for usage, key in _NAMES.items():
        if key == name:
            return usage
    raise ValueError(f"unknown key {name!r}")
