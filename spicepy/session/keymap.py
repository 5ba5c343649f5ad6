"""Key names and US-layout characters -> PC/AT set-1 scancodes.

SPICE's inputs channel carries set-1 scancodes (spice-gtk ``spice_make_scancode``).
Extended keys (sent on the wire as ``E0 xx``) are written here as ``0x100 | xx``,
the convention spice-gtk uses internally.
"""

from __future__ import annotations

from spicepy.channels.inputs import EXTENDED

#: Pause has no break code: its make is this whole sequence (E1 prefix), sent
#: raw at the press and nothing at the release (spice-gtk sends the same
#: bytes; QEMU's spice-input recognises it as Pause)
PAUSE_BYTES = bytes.fromhex("e11d45e19dc5")

_ROWS = {
    0x02: "1234567890-=",
    0x10: "qwertyuiop[]",
    0x1E: "asdfghjkl;'`",
    0x2C: "zxcvbnm,./",
}
_SHIFTED = {
    "!": "1",
    "@": "2",
    "#": "3",
    "$": "4",
    "%": "5",
    "^": "6",
    "&": "7",
    "*": "8",
    "(": "9",
    ")": "0",
    "_": "-",
    "+": "=",
    "{": "[",
    "}": "]",
    ":": ";",
    '"': "'",
    "~": "`",
    "<": ",",
    ">": ".",
    "?": "/",
    "|": "\\",
}

KEYS: dict[str, int] = {
    "esc": 0x01,
    "escape": 0x01,
    "backspace": 0x0E,
    "tab": 0x0F,
    "enter": 0x1C,
    "return": 0x1C,
    "ctrl": 0x1D,
    "lctrl": 0x1D,
    "shift": 0x2A,
    "lshift": 0x2A,
    "backslash": 0x2B,
    "rshift": 0x36,
    "kp_multiply": 0x37,
    "alt": 0x38,
    "lalt": 0x38,
    "space": 0x39,
    "capslock": 0x3A,
    "numlock": 0x45,
    "scrolllock": 0x46,
    "f1": 0x3B,
    "f2": 0x3C,
    "f3": 0x3D,
    "f4": 0x3E,
    "f5": 0x3F,
    "f6": 0x40,
    "f7": 0x41,
    "f8": 0x42,
    "f9": 0x43,
    "f10": 0x44,
    "f11": 0x57,
    "f12": 0x58,
    "kp7": 0x47,
    "kp8": 0x48,
    "kp9": 0x49,
    "kp_minus": 0x4A,
    "kp4": 0x4B,
    "kp5": 0x4C,
    "kp6": 0x4D,
    "kp_plus": 0x4E,
    "kp1": 0x4F,
    "kp2": 0x50,
    "kp3": 0x51,
    "kp0": 0x52,
    "kp_decimal": 0x53,
    "rctrl": EXTENDED | 0x1D,
    "ralt": EXTENDED | 0x38,
    "altgr": EXTENDED | 0x38,
    "kp_enter": EXTENDED | 0x1C,
    "kp_divide": EXTENDED | 0x35,
    "home": EXTENDED | 0x47,
    "up": EXTENDED | 0x48,
    "pageup": EXTENDED | 0x49,
    "left": EXTENDED | 0x4B,
    "right": EXTENDED | 0x4D,
    "end": EXTENDED | 0x4F,
    "down": EXTENDED | 0x50,
    "pagedown": EXTENDED | 0x51,
    "insert": EXTENDED | 0x52,
    "delete": EXTENDED | 0x53,
    "super": EXTENDED | 0x5B,
    "lsuper": EXTENDED | 0x5B,
    "rsuper": EXTENDED | 0x5C,
    "menu": EXTENDED | 0x5D,
    # the rest of the keys a USB keyboard has (QEMU keycodemapdb's "XT KBD"
    # column, whence spice-gtk's xtkbd maps); ``hidkeys`` names them alike
    "nonus_hash": 0x2B,  # ISO key left of Enter: where US has backslash
    "nonus_backslash": 0x56,  # ISO key left of Z (102nd key)
    "printscreen": 0x54,  # spice-gtk/QEMU send SysRq's code for Print Screen
    "pause": EXTENDED | 0x46,  # without KEY_SCANCODE; else PAUSE_BYTES
    "kp_equals": 0x59,
    "kp_comma": 0x7E,
    "ro": 0x73,  # JIS International1
    "katakanahiragana": 0x70,
    "yen": 0x7D,
    "henkan": 0x79,
    "muhenkan": 0x7B,
    # Korean keys: spice-gtk 0.42 sends 0x71/0x72 (make; break with bit 7)
    # and QEMU takes them so; keycodemapdb's set-1 column now says F1/F2, the
    # Korean keyboard's make-only codes, which spice-input would take as breaks
    "hanja": 0x71,
    "hangeul": 0x72,
    "katakana": 0x78,
    "hiragana": 0x77,
    "zenkakuhankaku": 0x76,
    "kp_jpcomma": 0x5C,
    "kp_leftparen": EXTENDED | 0x76,
    "kp_rightparen": EXTENDED | 0x7B,
    # the HID page's editing keys (Sun keyboards), as keycodemapdb has them
    "execute": 0x64,
    "help": EXTENDED | 0x75,
    "kbd_menu": EXTENDED | 0x1E,
    "select": EXTENDED | 0x0C,
    "stop": EXTENDED | 0x68,
    "again": EXTENDED | 0x05,
    "undo": EXTENDED | 0x07,
    "cut": EXTENDED | 0x3C,
    "copy": EXTENDED | 0x78,
    "paste": 0x65,
    "find": EXTENDED | 0x41,
    # media and browser keys (Linux KEY_* names), spice-gtk 0.42's codes
    "nextsong": EXTENDED | 0x19,
    "previoussong": EXTENDED | 0x10,
    "playpause": EXTENDED | 0x22,
    "stopcd": EXTENDED | 0x24,
    "rewind": EXTENDED | 0x18,
    "fastforward": EXTENDED | 0x34,
    "ejectcd": 0x6C,
    "media": EXTENDED | 0x6D,
    "www": EXTENDED | 0x02,
    "mail": EXTENDED | 0x6C,
    "calc": EXTENDED | 0x21,
    "computer": EXTENDED | 0x6B,
    "search": EXTENDED | 0x65,
    "homepage": EXTENDED | 0x32,
    "back": EXTENDED | 0x6A,
    "forward": EXTENDED | 0x69,
    "refresh": EXTENDED | 0x67,
    "bookmarks": EXTENDED | 0x66,
    "sleep": EXTENDED | 0x5F,
    "prog1": EXTENDED | 0x1F,
    "prog2": EXTENDED | 0x17,
    "brightnessdown": EXTENDED | 0x4C,
    "brightnessup": EXTENDED | 0x54,
    "switchvideomode": EXTENDED | 0x56,
    "kbdillumtoggle": EXTENDED | 0x57,
    "kbdillumdown": EXTENDED | 0x58,
    "kbdillumup": EXTENDED | 0x59,
    "mute": EXTENDED | 0x20,
    "volumeup": EXTENDED | 0x30,
    "volumedown": EXTENDED | 0x2E,
    "power": EXTENDED | 0x5E,
    "f13": 0x5D,
    "f14": 0x5E,
    "f15": 0x5F,
    "f16": 0x55,
    "f17": EXTENDED | 0x03,
    "f18": EXTENDED | 0x77,
    "f19": EXTENDED | 0x04,
    "f20": 0x5A,
    "f21": 0x74,
    "f22": EXTENDED | 0x79,
    "f23": 0x6D,
    "f24": 0x6F,
}

CHARS: dict[str, tuple[int, bool]] = {}
for _start, _chars in _ROWS.items():
    for _i, _ch in enumerate(_chars):
        CHARS[_ch] = (_start + _i, False)
        if _ch.isalpha():
            CHARS[_ch.upper()] = (_start + _i, True)
CHARS["\\"] = (0x2B, False)
for _sh, _base in _SHIFTED.items():
    CHARS[_sh] = (CHARS[_base][0], True)
CHARS.update({" ": (0x39, False), "\n": (0x1C, False), "\t": (0x0F, False)})


def key_code(name: str) -> int:
    """The scancode of a key name ("enter", "f5", "left") or a single character.

    Raises:
        ValueError: unknown key.
    """
    lowered = name.lower()
    if lowered in KEYS:
        return KEYS[lowered]
    if len(name) == 1 and name in CHARS:
        return CHARS[name][0]
    raise ValueError(f"unknown key {name!r}")


def text_strokes(text: str) -> list[tuple[int, bool]]:
    """(scancode, needs_shift) per character of ``text`` (US layout).

    Raises:
        ValueError: a character has no key on a US keyboard.
    """
    strokes = []
    for ch in text:
        if ch not in CHARS:
            raise ValueError(f"cannot type {ch!r} on a US keyboard layout")
        strokes.append(CHARS[ch])
    return strokes


def wire_bytes(code: int, release: bool = False) -> bytes:
    """The KEY_SCANCODE bytes for one key transition (release sets bit 7)."""
    low = (code & 0x7F) | (0x80 if release else 0)
    return bytes((0xE0, low)) if code & EXTENDED else bytes((low,))
