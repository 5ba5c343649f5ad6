"""spice-gtk's own key table, read from the library remote-viewer uses, and
the kernel's key numbers: the reference for what a viewer sends per key.

spice-gtk compiles keycodemapdb's tables into libspice-client-gtk; its evdev
one (``keymap_xorgevdev2xtkbd``: X keycode = Linux keycode + 8 -> set-1 code,
``0x100 | x`` for E0 x) is found in the library by its first entries."""

from __future__ import annotations

import re
import struct
from pathlib import Path

LIBRARY = Path("/usr/lib/x86_64-linux-gnu/libspice-client-gtk-3.0.so.5")
HEADER = Path("/usr/include/linux/input-event-codes.h")


def linux_key_codes() -> dict[str, int] | None:
    """``KEY_*`` name -> Linux keycode (None: no kernel headers)."""
    if not HEADER.exists():
        return None
    text = HEADER.read_text()
    pattern = r"#define (KEY_\w+)\s+(0x[0-9a-fA-F]+|[1-9][0-9]*|0)\b"
    return {m[1]: int(m[2], 0) for m in re.finditer(pattern, text)}


def spice_gtk_evdev_table() -> tuple[int, ...] | None:
    """X (evdev) keycode -> the set-1 code spice-gtk sends, 256 entries
    (None: no libspice-client-gtk, or its table not found)."""
    if not LIBRARY.exists():
        return None
    data = LIBRARY.read_bytes()
    # keycode 9 is Esc (set-1 1), 10.. the digit row (2..): several of
    # spice-gtk's tables start so; the evdev one has right Alt (Linux 100) at 108
    start = b"\0\0" * 9 + b"".join(struct.pack("<H", c) for c in range(1, 15))
    at = data.find(start)
    while at >= 0:
        table: tuple[int, ...] = struct.unpack_from("<256H", data, at)
        if table[100 + 8] == 0x138:
            return table
        at = data.find(start, at + 1)
    return None
