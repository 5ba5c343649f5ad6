"""Follow one proxied SPICE channel connection in both directions (sans-IO).

Theory of operation: the recording proxy forwards every byte unchanged and
shows a copy of each direction to one ``LinkSniffer`` per connection.  The
sniffer reads the client's link message (channel type, caps) and the server's
link reply (caps: mini headers, auth selection), then follows the
authentication:

- a SPICE ticket (the mechanism word when both sides offer AUTH_SELECTION,
  then ``SPICE_TICKET_BYTES`` of RSA-encrypted password);
- SASL (``channels/sasl.py`` has the exchange): the client's mechanism name
  and one record (u32 length + data) to start, then one more record per
  server record whose "complete" byte is 0; the server's mechanism list, its
  records (length + data + complete byte) until one is complete, then the u32
  SASL result; the u32 link result follows as after a ticket.

After the link, an inputs channel's client data is split into messages and
decoded with ``spicepy.wire`` (``client_data`` returns them); other channels
are passed over unparsed.

What a capture may keep (``take_capture``) is each direction with the
authentication taken out: a ticket becomes zeros, a SASL exchange is left out
and the client side shows a zero ticket in its place, so the capture reads as
an ordinary ticket login (a SASL-only server's reply gets AUTH_SPICE and a
stand-in public key there; ``spicepy replay`` follows it) and holds no
password, ticket or SASL response.  Until the authentication is past, nothing
the sniffer cannot follow reaches the capture.

Over plain TCP spice-server wraps everything after SASL in the SASL security
layer: such a connection is forwarded, but not decoded or captured further.
"""

from __future__ import annotations

import functools
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from spicepy.channels.sasl import MAX_DATA, MAX_MECHLIST
from spicepy.errors import WireError
from spicepy.wire.enums import (
    SPICE_TICKET_BYTES,
    SPICE_TICKET_PUBKEY_BYTES,
    AuthMechanism,
    ChannelType,
    CommonCap,
)
from spicepy.wire.headers import header_size, parse_header
from spicepy.wire.link import LINK_HEADER_SIZE, LinkHeader, LinkMess, LinkReply, has_cap
from spicepy.wire.messages import decode_message

__all__ = ["LinkSniffer", "MAX_BUFFER"]

log = logging.getLogger(__name__)

AUTH_MECHANISM_BYTES = 4  # SpiceLinkAuthMechanism, a u32
MAX_BUFFER = 1 << 20  # an inputs channel or a link never needs more in flight
_U32 = struct.Struct("<I")


def _take(buf: bytearray, n: int) -> bytes | None:
    """The first ``n`` bytes of ``buf`` (removed), or None while fewer arrived."""
    if len(buf) < n:
        return None
    out = bytes(buf[:n])
    del buf[:n]
    return out


def _take_link(buf: bytearray) -> bytes | None:
    """A whole link message (header + the size it states, removed), or None."""
    if len(buf) < LINK_HEADER_SIZE:
        return None
    return _take(buf, LINK_HEADER_SIZE + LinkHeader.parse(buf).size)


def _take_sized(buf: bytearray, limit: int, trailer: int = 0) -> bytes | None:
    """A u32 length, that many bytes and ``trailer`` more, whole or None.

    Raises:
        WireError: the length is over ``limit``.
    """
    if len(buf) < 4:
        return None
    (size,) = _U32.unpack_from(buf)
    if size > limit:
        raise WireError(f"SASL length {size} over {limit}")
    return _take(buf, 4 + size + trailer)


@functools.cache
def _stand_in_key() -> bytes:
    """A throw-away RSA-1024 public key (DER) for a capture's ticket login: a
    SASL-only server sends no usable key (QEMU: zeros), and a ticket reader
    encrypts its (empty) ticket with it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert len(der) == SPICE_TICKET_PUBKEY_BYTES
    return der


def _ticket_reply(raw: bytes) -> bytes:
    """The link reply (header included) as a ticket login's: a server without
    AUTH_SPICE (SASL only) gets it among its common caps and a stand-in public
    key, so a capture whose SASL login became a zero ticket reads consistently.
    The caller parsed it (``LinkReply.parse`` checked the caps lie inside)."""
    body = LINK_HEADER_SIZE
    (offset,) = _U32.unpack_from(raw, body + 4 + SPICE_TICKET_PUBKEY_BYTES + 8)
    at = body + offset
    (word,) = _U32.unpack_from(raw, at)
    if word & 1 << CommonCap.AUTH_SPICE:  # bit 1 of the first word
        return raw
    word |= 1 << CommonCap.AUTH_SPICE
    key_at = body + 4
    out = raw[:key_at] + _stand_in_key() + raw[key_at + SPICE_TICKET_PUBKEY_BYTES :]
    return out[:at] + _U32.pack(word) + out[at + 4 :]


@dataclass
class LinkSniffer:
    """One connection's two directions; see the module docstring.

    Args:
        secure: the connection is TLS (SASL then has no security layer).
        capture: keep what a capture may hold for ``take_capture`` (False:
            nothing is kept, e.g. a proxy without ``--pcap``).
    """

    secure: bool = False
    capture: bool = True
    channel_type: int | None = None
    #: the connection authenticated with SASL
    sasl: bool = False
    _client: bytearray = field(default_factory=bytearray)
    _server: bytearray = field(default_factory=bytearray)
    _capture: tuple[bytearray, bytearray] = field(
        default_factory=lambda: (bytearray(), bytearray())
    )
    _client_caps: tuple[int, ...] = ()
    _server_caps: tuple[int, ...] | None = None
    _mini: bool = True
    # client: link -> auth -> ticket | sasl-name -> sasl -> messages | raw | off
    _cstage: str = "link"
    # server: reply -> after-reply -> raw | sasl-list -> sasl -> result -> raw | off
    _sstage: str = "reply"
    _client_records: int = 0  # SASL records the client sent after its mechanism
    _server_open: int = 0  # server SASL records not complete (each gets an answer)
    _server_done: bool = False  # the server's SASL result passed

    # -- feeding --------------------------------------------------------------
    def client_data(self, data: bytes) -> list[object]:
        """Bytes the client sent; the inputs messages they complete."""
        if self._cstage in ("raw", "off"):
            if self._cstage == "raw" and self.capture:
                self._capture[0].extend(data)
            return []
        self._client += data
        out: list[object] = []
        self._guard(lambda: self._pump(out))
        self._drop_capture()
        return out

    def server_data(self, data: bytes) -> list[object]:
        """Bytes the server sent; the inputs messages they let through (client
        bytes that waited for the server's link reply or SASL end)."""
        if self._sstage in ("raw", "off"):
            if self._sstage == "raw" and self.capture:
                self._capture[1].extend(data)
            return []
        self._server += data
        out: list[object] = []
        self._guard(lambda: self._pump(out))
        self._drop_capture()
        return out

    def _drop_capture(self) -> None:
        if not self.capture:  # nobody takes it: keep nothing
            self._capture[0].clear()
            self._capture[1].clear()

    def take_capture(self, from_client: bool) -> bytes:
        """What a capture may keep of that direction since the last call."""
        buf = self._capture[0 if from_client else 1]
        out = bytes(buf)
        buf.clear()
        return out

    # -- internals ------------------------------------------------------------
    def _guard(self, step: Callable[[], None]) -> None:
        try:
            step()
            if len(self._client) > MAX_BUFFER or len(self._server) > MAX_BUFFER:
                raise WireError("the link data outran the parser")
        except WireError as exc:
            self._off(str(exc))

    def _pump(self, out: list[object]) -> None:
        """Advance both directions until neither moves (each may wait for the
        other: the client's auth for the server's caps, the server's SASL
        records for the client's mechanism, the client's SASL end for the
        server's); decoded messages go to ``out``."""
        while True:
            before = self._state()
            self._advance_client(out)
            self._advance_server()
            if self._state() == before:
                return

    def _state(self) -> tuple[object, ...]:
        return (
            self._cstage,
            self._sstage,
            len(self._client),
            len(self._server),
            self._client_records,
        )

    def _advance_client(self, out: list[object]) -> None:
        buf, capture = self._client, self._capture[0]
        while True:
            stage = self._cstage
            if stage == "link":
                raw = _take_link(buf)
                if raw is None:
                    return
                mess = LinkMess.parse(raw[LINK_HEADER_SIZE:])
                self.channel_type, self._client_caps = (
                    mess.channel_type,
                    mess.common_caps,
                )
                capture.extend(raw)
                self._cstage = "auth"
            elif stage == "auth":
                if self._server_caps is None:
                    return  # the reply decides what the client sends next
                both = (self._client_caps, self._server_caps)
                self._mini = all(has_cap(c, CommonCap.MINI_HEADER) for c in both)
                if not all(has_cap(c, CommonCap.PROTOCOL_AUTH_SELECTION) for c in both):
                    self._cstage = "ticket"
                    continue
                word = _take(buf, AUTH_MECHANISM_BYTES)
                if word is None:
                    return
                mechanism = _U32.unpack(word)[0]
                if mechanism == AuthMechanism.SPICE:
                    self._cstage = "ticket"
                elif mechanism == AuthMechanism.SASL:
                    self.sasl, self._cstage = True, "sasl-name"
                else:
                    raise WireError(f"unknown auth mechanism {mechanism}")
                # the capture shows a ticket login either way
                capture.extend(_U32.pack(AuthMechanism.SPICE))
                if self.sasl:
                    capture.extend(bytes(SPICE_TICKET_BYTES))
            elif stage == "ticket":
                if _take(buf, SPICE_TICKET_BYTES) is None:
                    return
                capture.extend(bytes(SPICE_TICKET_BYTES))
                self._linked()
            elif stage == "sasl-name":
                if _take_sized(buf, MAX_MECHLIST) is None:
                    return
                self._cstage = "sasl"
            elif stage == "sasl":
                if self._client_records < 1 + self._server_open:
                    if _take_sized(buf, MAX_DATA) is None:
                        return
                    self._client_records += 1
                elif self._server_done:
                    self._linked()
                else:
                    return  # the server's next record says whether to answer
            elif stage == "messages":
                self._messages(out)
                return
            else:  # raw (here only right after _linked)
                capture.extend(buf)
                buf.clear()
                return

    def _linked(self) -> None:
        """The client's authentication is over: what follows are messages."""
        if self.channel_type == ChannelType.INPUTS:
            self._cstage = "messages"
        else:
            self._cstage = "raw"

    def _messages(self, out: list[object]) -> None:
        buf, size = self._client, header_size(self._mini)
        while len(buf) >= size:
            head = parse_header(buf, self._mini)
            if len(buf) < size + head.size:
                return
            self._capture[0].extend(buf[: size + head.size])
            body = bytes(buf[size : size + head.size])
            del buf[: size + head.size]
            out.append(
                decode_message(
                    ChannelType.INPUTS, head.msg_type, body, from_server=False
                )
            )

    def _advance_server(self) -> None:
        buf, capture = self._server, self._capture[1]
        while True:
            stage = self._sstage
            if stage == "reply":
                raw = _take_link(buf)
                if raw is None:
                    return
                reply = LinkReply.parse(raw[LINK_HEADER_SIZE:])
                capture.extend(_ticket_reply(raw) if reply.common_caps else raw)
                if reply.error:
                    log.info("link refused (%d): nothing to record", reply.error)
                    self._sstage = "raw"
                    self._cstage = "off"
                else:
                    self._server_caps, self._sstage = reply.common_caps, "after-reply"
            elif stage == "after-reply":
                if self._cstage in ("link", "auth"):
                    return  # the client's mechanism decides what comes next
                self._sstage = "sasl-list" if self.sasl else "raw"
            elif stage == "sasl-list":
                if _take_sized(buf, MAX_MECHLIST) is None:
                    return
                self._sstage = "sasl"
            elif stage == "sasl":
                record = _take_sized(buf, MAX_DATA, trailer=1)
                if record is None:
                    return
                if record[-1]:
                    self._sstage = "result"
                else:
                    self._server_open += 1
            elif stage == "result":
                if _take(buf, 4) is None:  # the SASL result, not captured
                    return
                self._server_done = True
                if not self.secure:
                    self._off("SASL without TLS: a security layer wraps the rest")
                    return
                self._sstage = "raw"
            else:  # raw
                capture.extend(buf)
                buf.clear()
                return

    def _off(self, why: str) -> None:
        log.info("not following this connection further: %s", why)
        self._cstage = self._sstage = "off"
        self._client.clear()
        self._server.clear()
