"""A minimal sans-IO SPICE channel, used until spicepy.channels lands.

Theory of operation: the constructor queues SpiceLinkHeader + SpiceLinkMess.
The reply brings the server's RSA key and caps; we answer with the auth
mechanism (if both sides set AUTH_SELECTION) and the RSA-OAEP(SHA-1) ticket,
then read the u32 link result.  After that, messages are framed with the mini
header when both sides advertised MINI_HEADER (else the 18-byte header).  The
common messages are handled here (SET_ACK -> ACK_SYNC then one ACK per window,
PING -> PONG); every message, handled or not, is also reported as
``MessageReceived`` so the session can hand display bodies to the canvas.
Facts: PROTOCOL.md sections 1, 3, 4 (spice-gtk spice-channel.c, server reds.cpp).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from spicepy.errors import (
    AuthenticationError,
    ConnectionClosedError,
    LinkError,
    ProtocolError,
)

MAGIC = 0x51444552  # "REDQ"
MAX_MESSAGE = 64 * 1024 * 1024
MAX_LINK_REPLY = 4096
CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_MINI_HEADER = 0, 1, 3
# common messages (spice.proto "channel BaseChannel")
SET_ACK, PING, DISCONNECTING, NOTIFY = 3, 4, 6, 7
ACK_SYNC, ACK, PONG = 1, 2, 3
LINK_ERRORS = {
    1: "error",
    2: "invalid magic",
    3: "invalid data",
    4: "version mismatch",
    5: "channel needs TLS (NEED_SECURED)",
    6: "channel needs a plain connection (NEED_UNSECURED)",
    7: "permission denied: the password was refused",
    8: "bad connection id",
    9: "channel not available",
}


@dataclass(frozen=True, slots=True)
class LinkCompleted:
    channel_type: int
    channel_id: int
    common_caps: int
    channel_caps: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    msg_type: int
    body: bytes


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    reason: str


class _State(Enum):
    LINK_REPLY = 1
    LINK_RESULT = 2
    READY = 3
    CLOSED = 4
    ERROR = 5


def _caps_words(bits: set[int]) -> list[int]:
    words = [0] * ((max(bits) // 32 + 1) if bits else 0)
    for bit in bits:
        words[bit // 32] |= 1 << (bit % 32)
    return words


class FallbackChannel:
    """One channel connection: link, framing, acks and pings."""

    def __init__(
        self,
        channel_type: int,
        channel_id: int,
        connection_id: int,
        password: str | None,
        channel_caps: set[int] | None = None,
    ) -> None:
        self.channel_type = channel_type
        self.channel_id = channel_id
        self._password = (password or "").encode()[:60] + b"\0"
        self._in = bytearray()
        self._pos = 0
        self._out = bytearray()
        self._events: list[object] = []
        self._state = _State.LINK_REPLY
        self._mini = False
        self._serial = 0
        self._ack_window = 0
        self._unacked = 0
        self._my_common = {CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_MINI_HEADER}
        common = _caps_words(self._my_common)
        chan = _caps_words(channel_caps or set())
        mess = struct.pack(
            "<IBBIII",
            connection_id,
            channel_type,
            channel_id,
            len(common),
            len(chan),
            18,
        )
        mess += b"".join(struct.pack("<I", w) for w in common + chan)
        self._out += struct.pack("<IIII", MAGIC, 2, 2, len(mess)) + mess

    # -- sans-IO surface ----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if self._state in (_State.ERROR, _State.CLOSED):
            return
        if not data:
            pending = bool(self._in) or self._state is not _State.READY
            self._state = _State.CLOSED
            if pending:
                raise ConnectionClosedError(
                    f"server closed channel {self.channel_type}:{self.channel_id} "
                    "in the middle of a message"
                )
            self._events.append(ChannelClosed("server closed the connection"))
            return
        self._in += data
        if len(self._in) > MAX_MESSAGE + 64:
            self._state = _State.ERROR
            raise ProtocolError("receive buffer limit exceeded")
        try:
            self._process()
        except (LinkError, ProtocolError):
            self._state = _State.ERROR
            raise
        finally:
            del self._in[: self._pos]
            self._pos = 0

    def next_event(self) -> object | None:
        return self._events.pop(0) if self._events else None

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        return None

    @property
    def linked(self) -> bool:
        return self._state is _State.READY

    def send_message(self, msg_type: int, body: bytes = b"") -> None:
        """Queue one message (after the link completed)."""
        if self._state is not _State.READY:
            raise ProtocolError("channel is not linked")
        if self._mini:
            self._out += struct.pack("<HI", msg_type, len(body)) + body
        else:
            self._serial += 1
            self._out += (
                struct.pack("<QHII", self._serial, msg_type, len(body), 0) + body
            )

    # -- internals ----------------------------------------------------------------

    def _process(self) -> None:
        while True:
            if self._state is _State.LINK_REPLY:
                if not self._link_reply():
                    return
            elif self._state is _State.LINK_RESULT:
                if len(self._in) < 4:
                    return
                (code,) = struct.unpack_from("<I", self._in)
                del self._in[:4]
                if code != 0:
                    self._link_failed(code)
                self._state = _State.READY
                self._events.append(
                    LinkCompleted(self.channel_type, self.channel_id, *self._caps)
                )
            elif self._state is _State.READY:
                if not self._message():
                    return
            else:
                return

    def _link_failed(self, code: int) -> None:
        text = LINK_ERRORS.get(code, f"link error {code}")
        where = f"channel {self.channel_type}:{self.channel_id}"
        if code == 7:
            raise AuthenticationError(f"{where}: {text}", code)
        raise LinkError(f"{where}: {text}", code)

    def _link_reply(self) -> bool:
        if len(self._in) < 16:
            return False
        magic, major, _minor, size = struct.unpack_from("<IIII", self._in)
        if magic != MAGIC:
            raise ProtocolError("link reply has a bad magic")
        if major != 2:
            raise LinkError(f"server speaks protocol {major}, not 2", 4)
        if not 4 <= size <= MAX_LINK_REPLY:
            raise ProtocolError(f"link reply size {size} out of range")
        if len(self._in) < 16 + size:
            return False
        reply = bytes(self._in[16 : 16 + size])
        del self._in[: 16 + size]
        (error,) = struct.unpack_from("<I", reply)
        if error:
            self._link_failed(error)
        if size < 178:
            raise ProtocolError("link reply too short")
        pubkey = reply[4:166]
        n_common, n_chan, offset = struct.unpack_from("<III", reply, 166)
        if n_common + n_chan > 2048 or offset + 4 * (n_common + n_chan) > size:
            raise ProtocolError("link reply caps out of range")
        words = struct.unpack_from(f"<{n_common + n_chan}I", reply, offset)
        common = words[0] if n_common else 0
        chan = words[n_common] if n_chan else 0
        self._caps = (common, chan)
        self._mini = bool(common & (1 << CAP_MINI_HEADER))
        if common & (1 << CAP_AUTH_SELECTION):
            self._out += struct.pack("<I", 1)  # SPICE_COMMON_CAP_AUTH_SPICE mechanism
        try:
            key = serialization.load_der_public_key(pubkey)
        except ValueError as exc:
            raise ProtocolError("server sent an unusable public key") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise ProtocolError("server public key is not RSA")
        oaep = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
        self._out += key.encrypt(self._password, oaep)
        self._state = _State.LINK_RESULT
        return True

    def _message(self) -> bool:
        head = 6 if self._mini else 18
        pos = self._pos  # consumed bytes are dropped once per receive_data
        if len(self._in) - pos < head:
            return False
        if self._mini:
            msg_type, size = struct.unpack_from("<HI", self._in, pos)
        else:
            _serial, msg_type, size, _sub = struct.unpack_from("<QHII", self._in, pos)
        if size > MAX_MESSAGE:
            raise ProtocolError(f"message of {size} bytes exceeds the limit")
        if len(self._in) - pos < head + size:
            return False
        body = bytes(self._in[pos + head : pos + head + size])
        self._pos = pos + head + size
        self._common(msg_type, body)
        self._events.append(MessageReceived(msg_type, body))
        return True

    def _common(self, msg_type: int, body: bytes) -> None:
        if msg_type == SET_ACK and len(body) >= 8:
            generation, window = struct.unpack_from("<II", body)
            self._ack_window, self._unacked = window, 0
            self.send_message(ACK_SYNC, struct.pack("<I", generation))
            return
        if msg_type == PING and len(body) >= 12:
            self.send_message(PONG, body[:12])
        if self._ack_window:
            self._unacked += 1
            if self._unacked >= self._ack_window:
                self._unacked = 0
                self.send_message(ACK)
