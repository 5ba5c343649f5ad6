"""Physical keys -> guest scancodes, with the viewer's hotkeys (no toolkit).

Theory of operation: the toolkit reports each physical key as its USB HID usage
(SDL scancodes are HID usages, up to 0xFF); ``Keyboard`` maps it through
``spicepy.session.hidkeys`` (SDL's own media-key scancodes above the page
through ``SDL_MEDIA``) and calls ``send(scancode, down)``.  It remembers
what the guest holds, so a focus loss releases exactly those keys
(``release_all``) and a key pressed before the window had focus is never
released in the guest.  Toolkit auto-repeat is not forwarded: the guest
repeats a held key itself.

Hotkeys hold Ctrl and left Alt (AltGr is a layout key, left to the guest):
pressing and releasing Ctrl+Alt with nothing in between toggles the input
grab (QEMU's SDL viewer does the same); Ctrl+Alt+End sends Delete, so the
guest sees Ctrl+Alt+Del (a desktop keeps that chord for itself);
Ctrl+Alt+Shift+F1..F12 sends Ctrl+Alt+Fn without the Shift (Ctrl+Alt+Fn
switches the local VT); Ctrl+Alt+F toggles full screen, Ctrl+Alt+S the scale
mode.  A hotkey's own key (End, F, S, Fn) does not reach the guest.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from spicepy.session.hidkeys import PAUSE_BYTES, scancode_for_usage, usage_for
from spicepy.session.keymap import KEYS

__all__ = ["SDL_MEDIA", "Hotkey", "Keyboard", "scancode_for_key"]


class Hotkey(Enum):
    """What a hotkey asks the viewer to do (besides keys it sends itself)."""

    GRAB = "grab"
    FULLSCREEN = "fullscreen"
    SCALE = "scale"


CTRL = frozenset({usage_for("lctrl"), usage_for("rctrl")})
ALT = usage_for("lalt")
SHIFT = frozenset({usage_for("lshift"), usage_for("rshift")})
F_KEYS = {usage_for(f"f{n}"): n for n in range(1, 13)}
END, DELETE, PAUSE = usage_for("end"), usage_for("delete"), usage_for("pause")
LOCAL = {usage_for("f"): Hotkey.FULLSCREEN, usage_for("s"): Hotkey.SCALE}
#: SDL's scancodes past the HID keyboard page (SDL_scancode.h: media and
#: browser keys) -> ``keymap`` name; where SDL folds several keys into one
#: (Play, PlayCD and PlayPause; the two Ejects) the PC keyboard's one
SDL_MEDIA = {
    258: "nextsong",
    259: "previoussong",
    260: "stopcd",
    261: "playpause",
    263: "media",
    264: "www",
    265: "mail",
    266: "calc",
    267: "computer",
    268: "search",
    269: "homepage",
    270: "back",
    271: "forward",
    273: "refresh",
    274: "bookmarks",
    275: "brightnessdown",
    276: "brightnessup",
    277: "switchvideomode",
    278: "kbdillumtoggle",
    279: "kbdillumdown",
    280: "kbdillumup",
    281: "ejectcd",
    282: "sleep",
    283: "prog1",
    284: "prog2",
    285: "rewind",
    286: "fastforward",
}
_MEDIA_CODES = {sdl: KEYS[name] for sdl, name in SDL_MEDIA.items()}


def scancode_for_key(usage: int) -> int | None:
    """The set-1 scancode of a toolkit key: a HID usage, or one of SDL's
    media scancodes (None: no such key)."""
    code = scancode_for_usage(usage)
    return code if code is not None else _MEDIA_CODES.get(usage)


class Keyboard:
    """Key state between the toolkit and the guest.

    Args:
        send: ``send(scancode, down)``: one key transition to the guest.
        send_raw: ``send_raw(bytes)``: raw scancode bytes (Pause's sequence);
            None: Pause is sent as its E0 46 code.
    """

    def __init__(
        self,
        send: Callable[[int, bool], None],
        send_raw: Callable[[bytes], None] | None = None,
    ) -> None:
        self._send = send
        self._send_raw = send_raw
        #: HID usages held locally (whether or not the guest got them)
        self.local: set[int] = set()
        #: HID usage -> scancode the guest holds
        self.guest: dict[int, int] = {}
        #: Ctrl+Alt went down and no other key since (the grab toggle)
        self._chord_alone = False
        #: hotkey keys swallowed on press: their release is swallowed too
        self._swallowed: set[int] = set()

    def _hotkeys_held(self) -> bool:
        return bool(self.local & CTRL) and ALT in self.local

    def press(self, usage: int) -> Hotkey | None:
        """A physical key went down; returns the viewer action it asks for."""
        if usage in self.local:  # toolkit auto-repeat
            return None
        chord = self._hotkeys_held()
        self.local.add(usage)
        if usage in CTRL or usage == ALT:
            self._chord_alone = self._hotkeys_held()
            self._down(usage)
            return None
        self._chord_alone = False
        if chord and self._is_hotkey(usage):
            self._swallowed.add(usage)
            return self._hotkey(usage)
        self._down(usage)
        return None

    def _is_hotkey(self, usage: int) -> bool:
        return (
            usage == END
            or usage in LOCAL
            or (usage in F_KEYS and bool(self.local & SHIFT))
        )

    def _hotkey(self, usage: int) -> Hotkey | None:
        """Run the Ctrl+Alt hotkey of ``usage``."""
        if usage == END:
            self._tap(DELETE)
            return None
        if usage in F_KEYS and self.local & SHIFT:
            shifts = [u for u in self.guest if u in SHIFT]
            for u in shifts:
                self._up(u)
            self._tap(usage)
            for u in shifts:
                self._down(u)
            return None
        return LOCAL[usage]

    def release(self, usage: int) -> Hotkey | None:
        """A physical key went up; returns GRAB when Ctrl+Alt was alone."""
        if usage not in self.local:
            return None
        toggle = self._chord_alone and (usage in CTRL or usage == ALT)
        self._chord_alone = False
        self.local.discard(usage)
        if usage in self._swallowed:
            self._swallowed.discard(usage)
        else:
            self._up(usage)
        return Hotkey.GRAB if toggle else None

    def release_all(self) -> None:
        """Focus lost: release in the guest every key it holds."""
        for usage in list(self.guest):
            self._up(usage)
        self.local.clear()
        self._swallowed.clear()
        self._chord_alone = False

    # -- to the guest --------------------------------------------------------------
    def _down(self, usage: int) -> None:
        if usage == PAUSE and self._send_raw is not None:
            self._send_raw(PAUSE_BYTES)  # make only: nothing is held
            return
        code = scancode_for_key(usage)
        if code is None or usage in self.guest:
            return
        self.guest[usage] = code
        self._send(code, True)

    def _up(self, usage: int) -> None:
        code = self.guest.pop(usage, None)
        if code is not None:
            self._send(code, False)

    def _tap(self, usage: int) -> None:
        code = scancode_for_key(usage)
        if code is not None:
            self._send(code, True)
            self._send(code, False)
