"""Record a person's SPICE input as a ``spicepy do`` script (sans-IO).

Theory of operation: ``LinkSniffer`` watches one proxied channel connection,
fed the bytes of both directions as they pass.  It reads the client's link
message (which channel this is, the client's caps) and the server's link
reply (the server's caps: mini headers, auth selection), skips the
authentication the client sends (the 4-byte mechanism word when both sides
offer AUTH_SELECTION, then the 128-byte RSA ticket), then splits the client's
data into messages and decodes those of an inputs channel with
``spicepy.wire``.  ``ScriptRecorder`` turns the timed input messages into
script steps: printable keys become ``type`` text, other keys and chords
``key ctrl-alt-delete``, absolute pointer positions (client mouse mode) are
folded into the ``move`` before a button, relative motion (server mouse mode)
is recorded motion by motion as ``move-by DX DY`` (the guest accelerates each
one: sent again as they were, they land where the person's did), a press and
release at one place is a ``click``, wheel buttons are ``wheel``, and a gap of
``pause_after`` seconds or more a ``pause``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from spicepy.bots.script import Step
from spicepy.errors import WireError
from spicepy.session.keymap import CHARS, EXTENDED, KEYS
from spicepy.wire.enums import (
    SPICE_TICKET_BYTES,
    AuthMechanism,
    ChannelType,
    CommonCap,
)
from spicepy.wire.headers import header_size, parse_header
from spicepy.wire.link import LINK_HEADER_SIZE, LinkHeader, LinkMess, LinkReply, has_cap
from spicepy.wire.messages import decode_message
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

AUTH_MECHANISM_BYTES = 4  # SpiceLinkAuthMechanism, a u32
MAX_BUFFER = 1 << 20  # an inputs channel never needs more in flight

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
class LinkSniffer:
    """Follows one channel connection; ``client_data`` returns the decoded
    messages of an inputs channel (other channels give none)."""

    channel_type: int | None = None
    _client: bytearray = field(default_factory=bytearray)
    _server: bytearray = field(default_factory=bytearray)
    _client_caps: tuple[int, ...] = ()
    _server_caps: tuple[int, ...] | None = None
    _mini: bool | None = None
    _skip: int = 0
    _stage: str = "link"  # link -> reply -> auth -> messages | off

    def server_data(self, data: bytes) -> None:
        if self._stage == "off" or self._server_caps is not None:
            return
        self._server += data
        if len(self._server) < LINK_HEADER_SIZE:
            return
        try:
            hdr = LinkHeader.parse(self._server)
            if len(self._server) < LINK_HEADER_SIZE + hdr.size:
                return
            reply = LinkReply.parse(
                self._server[LINK_HEADER_SIZE : LINK_HEADER_SIZE + hdr.size]
            )
        except WireError as exc:
            self._off(f"server link reply: {exc}")
            return
        if reply.error:
            self._off(f"link refused ({reply.error})")
            return
        self._server_caps = reply.common_caps
        self._server.clear()

    def client_data(self, data: bytes) -> list[object]:
        if self._stage == "off":
            return []
        self._client += data
        if len(self._client) > MAX_BUFFER:
            self._off("client data outran the parser")
            return []
        out: list[object] = []
        try:
            self._advance(out)
        except WireError as exc:
            self._off(str(exc))
        return out

    def _advance(self, out: list[object]) -> None:
        buf = self._client
        if self._stage == "link":
            if len(buf) < LINK_HEADER_SIZE:
                return
            hdr = LinkHeader.parse(buf)
            if len(buf) < LINK_HEADER_SIZE + hdr.size:
                return
            mess = LinkMess.parse(buf[LINK_HEADER_SIZE : LINK_HEADER_SIZE + hdr.size])
            self.channel_type, self._client_caps = mess.channel_type, mess.common_caps
            del buf[: LINK_HEADER_SIZE + hdr.size]
            if mess.channel_type != ChannelType.INPUTS:
                self._stage = "off"
                buf.clear()
                return
            self._stage = "auth"
        if self._stage == "auth":
            if self._server_caps is None:
                return  # the reply decides what the client sends next
            both = (self._client_caps, self._server_caps)
            self._mini = all(has_cap(c, CommonCap.MINI_HEADER) for c in both)
            selection = all(has_cap(c, CommonCap.PROTOCOL_AUTH_SELECTION) for c in both)
            self._skip = (AUTH_MECHANISM_BYTES if selection else 0) + SPICE_TICKET_BYTES
            if len(buf) < self._skip:
                return
            if self._skip == AUTH_MECHANISM_BYTES + SPICE_TICKET_BYTES:
                if int.from_bytes(buf[:4], "little") != AuthMechanism.SPICE:
                    self._off("SASL authentication is not followed")
                    return
            del buf[: self._skip]
            self._stage = "messages"
        size = header_size(bool(self._mini))
        while len(buf) >= size:
            head = parse_header(buf, bool(self._mini))
            if len(buf) < size + head.size:
                return
            body = bytes(buf[size : size + head.size])
            del buf[: size + head.size]
            out.append(
                decode_message(
                    ChannelType.INPUTS, head.msg_type, body, from_server=False
                )
            )

    def _off(self, why: str) -> None:
        log.info("not recording this connection: %s", why)
        self._stage = "off"
        self._client.clear()
        self._server.clear()


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
