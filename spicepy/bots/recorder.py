"""Turn a person's SPICE input into a ``spicepy do`` script (sans-IO).

Theory of operation: ``ScriptRecorder`` is fed the timed inputs-channel
messages a client sent (``spicepy.bots.sniffer.LinkSniffer`` finds them in a
proxied connection) and turns them into script steps: printable keys become
``type`` text, other keys and chords ``key ctrl-alt-delete``, absolute pointer
positions (client mouse mode) are folded into the ``move`` before a button,
relative motion (server mouse mode) is recorded motion by motion as ``move-by
DX DY`` (the guest accelerates each one: sent again as they were, they land
where the person's did), a press and release at one place is a ``click``,
wheel buttons are ``wheel``, and a gap of ``pause_after`` seconds or more a
``pause``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from spicepy.bots.script import Step
from spicepy.channels.inputs import EXTENDED
from spicepy.session.keymap import CHARS, KEYS
from spicepy.wire.msg_other import (
    KeyDown,
    KeyScancode,
    KeyUp,
    MouseMotion,
    MousePosition,
    MousePress,
    MouseRelease,
)

log = logging.getLogger(__name__)

MODIFIERS = {
    0x1D: "ctrl",
    EXTENDED | 0x1D: "rctrl",
    0x2A: "shift",
    0x36: "rshift",
    0x38: "alt",
    EXTENDED | 0x38: "ralt",
    EXTENDED | 0x5B: "super",
    EXTENDED | 0x5C: "rsuper",
}
KEY_NAMES: dict[int, str] = {}
for _name, _code in KEYS.items():
    KEY_NAMES.setdefault(_code, _name)
PLAIN_CHARS = {
    code: ch for ch, (code, sh) in CHARS.items() if not sh and ch.isprintable()
}
SHIFT_CHARS = {code: ch for ch, (code, sh) in CHARS.items() if sh and ch.isprintable()}


def scancode(code: int) -> tuple[int, bool]:
    """KEY_DOWN/KEY_UP u32 -> (keymap code, release)."""
    if code & 0xFF == 0xE0:
        low = (code >> 8) & 0xFF
        return EXTENDED | (low & 0x7F), bool(low & 0x80)
    return code & 0x7F, bool(code & 0x80)


def scancode_bytes(data: bytes) -> list[tuple[int, bool]]:
    """KEY_SCANCODE bytes (set 1, ``E0`` prefixes) -> (keymap code, release)."""
    out = []
    extended = False
    for byte in data:
        if byte == 0xE0:
            extended = True
            continue
        out.append(((EXTENDED if extended else 0) | (byte & 0x7F), bool(byte & 0x80)))
        extended = False
    return out


@dataclass
class ScriptRecorder:
    """Timed inputs messages in, script steps out (``steps``)."""

    pause_after: float = 1.0
    steps: list[Step] = field(default_factory=list)
    _held: set[int] = field(default_factory=set)
    _text: str = ""
    _last_time: float | None = None
    _x: int = 0
    _y: int = 0
    _moved_to: tuple[int, int] | None = None
    _positioned: bool = False  # an absolute position came (client mouse mode)

    def feed(self, msg: object, now: float) -> None:
        """One inputs-channel message from the client at time ``now`` (s)."""
        if self._last_time is not None and now - self._last_time >= self.pause_after:
            self._flush_text()
            self._add("pause", round(now - self._last_time, 2))
        self._last_time = now
        if isinstance(msg, KeyDown | KeyUp):
            code, release = scancode(msg.code)
            self._key(code, release)
        elif isinstance(msg, KeyScancode):  # spice-gtk: press + release in one
            for code, release in scancode_bytes(msg.data):
                self._key(code, release)
        elif isinstance(msg, MousePosition):
            self._x, self._y, self._positioned = msg.x, msg.y, True
        elif isinstance(msg, MouseMotion):
            # server mouse mode: the guest pointer is wherever the guest (with
            # its acceleration) put it; replaying each motion as sent repeats it
            self._flush_text()
            self._add("move-by", msg.dx, msg.dy)
        elif isinstance(msg, MousePress):
            self._button(msg.button, True)
        elif isinstance(msg, MouseRelease):
            self._button(msg.button, False)

    def snapshot(self) -> list[Step]:
        """The steps so far, with text still being typed as a last step."""
        pending = [Step("type", (self._text,), {}, "", "type")] if self._text else []
        return [*self.steps, *pending]

    def finish(self) -> list[Step]:
        """Flush pending text; the steps so far."""
        self._flush_text()
        return self.steps

    def _add(self, command: str, *args: str | int | float) -> None:
        self.steps.append(Step(command, tuple(args), {}, "", command))

    def _flush_text(self) -> None:
        if self._text:
            self._add("type", self._text)
            self._text = ""

    def _key(self, code: int, release: bool) -> None:
        if code in MODIFIERS:
            if release:
                self._held.discard(code)
            else:
                self._held.add(code)
            return
        if release:
            return
        shifted = bool(self._held & {0x2A, 0x36})
        others = self._held - {0x2A, 0x36}
        char = (SHIFT_CHARS if shifted else PLAIN_CHARS).get(code)
        if not others and char is not None:
            self._text += char
            return
        self._flush_text()
        name = KEY_NAMES.get(code) or PLAIN_CHARS.get(code)
        if name is None:
            log.info("scancode %#x has no key name; not recorded", code)
            return
        if name == "-":
            name = "minus"
        mods = [MODIFIERS[c] for c in sorted(self._held)]
        self._add("key", "-".join([*mods, name]))

    def _button(self, button: int, down: bool) -> None:
        self._flush_text()
        if button in (4, 5):  # wheel notches arrive as press + release
            if down:
                self._move()
                last = self.steps[-1] if self.steps else None
                direction = "up" if button == 4 else "down"
                if (
                    last is not None
                    and last.command == "wheel"
                    and last.args[0] == direction
                ):
                    self.steps[-1] = Step(
                        "wheel", (direction, int(last.args[1]) + 1), {}, "", "wheel"
                    )
                else:
                    self._add("wheel", direction, 1)
            return
        moved = self._move()
        last = self.steps[-1] if self.steps else None
        if (
            not down
            and not moved
            and last is not None
            and last.command == "mousedown"
            and last.args == (button,)
        ):
            self.steps[-1] = Step("click", (button,), {}, "", "click")
            return
        self._add("mousedown" if down else "mouseup", button)

    def _move(self) -> bool:
        if self._positioned and self._moved_to != (self._x, self._y):
            self._moved_to = (self._x, self._y)
            self._add("move", self._x, self._y)
            return True
        return False
