"""The link handshake, reused by every channel.

Theory of operation (spice/protocol.h, spice-gtk ``spice-channel.c``): the client
speaks first with SpiceLinkHeader + SpiceLinkMess (its caps).  The server answers
with a header + SpiceLinkReply (error, a 162-byte DER RSA public key, its caps).  If
both sides set PROTOCOL_AUTH_SELECTION the client sends the u32 auth mechanism
(AUTH_SPICE), then the 128-byte ticket: the password plus a NUL, RSA-OAEP encrypted
with SHA-1 / MGF1-SHA-1.  The server answers a u32 SpiceLinkErr; after OK the data
phase starts, with mini headers if both sides set MINI_HEADER.  ``feed()`` returns
any bytes that followed the link result (the first data messages).  With SASL
credentials on a TLS connection, a server offering AUTH_SASL gets AUTH_SASL and
the exchange of ``channels/sasl.py`` instead of the ticket.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from spicepy.channels.sasl import SaslCredentials, SaslExchange
from spicepy.errors import AuthenticationError, LinkError, ProtocolError, WireError
from spicepy.wire.enums import (
    SPICE_MAX_PASSWORD_LENGTH,
    SPICE_TICKET_BYTES,
    SPICE_VERSION_MAJOR,
    AuthMechanism,
    CommonCap,
    LinkErr,
)
from spicepy.wire.link import (
    LINK_HEADER_SIZE,
    LinkHeader,
    LinkMess,
    LinkReply,
    caps_to_words,
    words_to_caps,
)

__all__ = [
    "DEFAULT_COMMON_CAPS",
    "LinkHandshake",
    "LinkResult",
    "NeedSecuredError",
    "NeedUnsecuredError",
    "encrypt_ticket",
    "link_error",
]

#: Common caps spicepy implements: auth selection, SPICE ticket auth, mini headers.
DEFAULT_COMMON_CAPS = frozenset(
    {CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE, CommonCap.MINI_HEADER}
)

_REASONS = {
    LinkErr.ERROR: "generic link error",
    LinkErr.INVALID_MAGIC: "invalid magic",
    LinkErr.INVALID_DATA: "invalid data",
    LinkErr.VERSION_MISMATCH: "protocol version mismatch",
    LinkErr.NEED_SECURED: "the channel needs TLS (NEED_SECURED): use the tls-port",
    LinkErr.NEED_UNSECURED: "this channel needs a plain connection (NEED_UNSECURED)",
    LinkErr.PERMISSION_DENIED: "the server refused the password (PERMISSION_DENIED)",
    LinkErr.BAD_CONNECTION_ID: "bad connection id (session id)",
    LinkErr.CHANNEL_NOT_AVAILABLE: "channel not available",
}


class NeedSecuredError(LinkError):
    """NEED_SECURED: relink this channel over TLS."""

    error_code = LinkErr.NEED_SECURED


class NeedUnsecuredError(LinkError):
    """NEED_UNSECURED: relink this channel without TLS."""

    error_code = LinkErr.NEED_UNSECURED


def link_error(code: int, channel: str = "") -> LinkError:
    """The exception for a non-OK SpiceLinkErr."""
    prefix = f"{channel}: " if channel else ""
    text = prefix + _REASONS.get(code, f"unknown link error {code}")  # type: ignore[call-overload]
    if code == LinkErr.PERMISSION_DENIED:
        return AuthenticationError(text, code)
    if code == LinkErr.NEED_SECURED:
        return NeedSecuredError(text, code)
    if code == LinkErr.NEED_UNSECURED:
        return NeedUnsecuredError(text, code)
    return LinkError(text, code)


def encrypt_ticket(pub_key_der: bytes, password: str) -> bytes:
    """RSA-OAEP(SHA-1, MGF1-SHA-1) of ``password`` + NUL under the server's key.

    Raises:
        ValueError: password longer than 60 bytes.
        LinkError: the public key cannot be loaded (e.g. zeros from a SASL server).
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    secret = password.encode("utf-8")
    if len(secret) > SPICE_MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"SPICE passwords are at most {SPICE_MAX_PASSWORD_LENGTH} bytes"
        )
    try:
        key = serialization.load_der_public_key(pub_key_der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise LinkError(
            "the server's link public key is not a valid RSA key", 1
        ) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise LinkError("the server's link public key is not RSA", 1)
    oaep = padding.OAEP(
        mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None
    )
    try:
        return key.encrypt(secret + b"\0", oaep)
    except ValueError as exc:  # a key too small for the ticket (hostile server)
        raise LinkError(
            "the server's link public key is too small for the ticket", 1
        ) from exc


@dataclass(frozen=True, slots=True)
class LinkResult:
    """What the handshake negotiated."""

    server_common_caps: frozenset[int]
    server_channel_caps: frozenset[int]
    mini_header: bool


class _Phase(Enum):
    REPLY_HEADER = 1
    REPLY = 2
    RESULT = 3
    DONE = 4
    SASL = 5


class LinkHandshake:
    """Sans-IO client side of the link.

    Args:
        channel_type, channel_id: the channel to link.
        connection_id: 0 for the first main channel, else MAIN INIT's session_id.
        password: the ticket ("" when the server has no password); None sends
            a zeroed ticket without encrypting (replaying a recorded server,
            which never reads it: no RSA, no crypto library loaded).
        common_caps, channel_caps: capability bit numbers to advertise.
        sasl: SASL credentials; used (and AUTH_SASL advertised) only when
            ``secure`` says the connection is TLS.
        secure: the connection is TLS.
    """

    def __init__(
        self,
        channel_type: int,
        channel_id: int = 0,
        *,
        connection_id: int = 0,
        password: str | None = "",
        common_caps: frozenset[int] = DEFAULT_COMMON_CAPS,
        channel_caps: frozenset[int] = frozenset(),
        sasl: SaslCredentials | None = None,
        secure: bool = False,
    ) -> None:
        if password is not None and len(password.encode()) > SPICE_MAX_PASSWORD_LENGTH:
            raise ValueError(
                f"SPICE passwords are at most {SPICE_MAX_PASSWORD_LENGTH} bytes"
            )
        self.channel_type = channel_type
        self.channel_id = channel_id
        self._password = password
        self._sasl = sasl if secure else None
        self.sasl: SaslExchange | None = None
        self.secure = secure
        if self._sasl is not None:
            common_caps = frozenset(common_caps) | {CommonCap.AUTH_SASL}
        self.common_caps = frozenset(common_caps)
        self.channel_caps = frozenset(channel_caps)
        self.result: LinkResult | None = None
        self._phase = _Phase.REPLY_HEADER
        self._buf = bytearray()
        self._need = LINK_HEADER_SIZE
        mess = LinkMess(
            connection_id,
            channel_type,
            channel_id,
            caps_to_words(self.common_caps),
            caps_to_words(self.channel_caps),
        )
        self._out = bytearray(mess.pack_with_header())
        self._name = f"channel {channel_type}:{channel_id}"

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    def closed_error(self) -> LinkError | None:
        """What an EOF now means: spice-server closes the connection instead of
        answering when SASL authentication fails."""
        if self.sasl is not None and not self.done:
            return AuthenticationError(
                f"{self._name}: the server closed the connection during SASL "
                f"{self.sasl.mechanism or ''} authentication (wrong user or password?)",
                LinkErr.PERMISSION_DENIED,
            )
        return None

    @property
    def awaiting_result(self) -> bool:
        """The reply was handled and the ticket sent; the link result is pending."""
        return self._phase is _Phase.RESULT

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Consume handshake bytes; returns what follows the link result.

        Raises:
            LinkError / AuthenticationError / NeedSecuredError: refused by the server.
            ProtocolError: malformed link reply.
        """
        if self.done:
            return bytes(data)
        self._buf += data
        while not self.done and len(self._buf) >= self._need:
            chunk = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            self._step(chunk)
        if self.done:
            rest = bytes(self._buf)
            self._buf.clear()
            return rest
        return b""

    def _step(self, chunk: bytes) -> None:
        if self._phase is _Phase.REPLY_HEADER:
            try:
                hdr = LinkHeader.parse(chunk)
            except WireError as exc:
                raise ProtocolError(
                    f"{self._name}: bad link reply header: {exc}"
                ) from exc
            if hdr.major != SPICE_VERSION_MAJOR:
                raise link_error(LinkErr.VERSION_MISMATCH, self._name)
            if hdr.size < 4:
                raise ProtocolError(f"{self._name}: link reply of {hdr.size} bytes")
            self._phase, self._need = _Phase.REPLY, hdr.size
        elif self._phase is _Phase.REPLY:
            try:
                reply = LinkReply.parse(chunk)
            except WireError as exc:
                raise ProtocolError(f"{self._name}: bad link reply: {exc}") from exc
            if reply.error != LinkErr.OK:
                raise link_error(reply.error, self._name)
            self._on_reply(reply)
            if self.sasl is not None:
                self._phase, self._need = _Phase.SASL, self.sasl.need
            else:
                self._phase, self._need = _Phase.RESULT, 4
        elif self._phase is _Phase.SASL:
            assert self.sasl is not None
            self.sasl.feed(chunk)
            self._out += self.sasl.data_to_send()
            if self.sasl.done:
                self._phase, self._need = _Phase.RESULT, 4
            else:
                self._need = self.sasl.need
        elif self._phase is _Phase.RESULT:
            (code,) = struct.unpack("<I", chunk)
            if code != LinkErr.OK:
                raise link_error(code, self._name)
            self._phase = _Phase.DONE

    def _on_reply(self, reply: LinkReply) -> None:
        server_common = words_to_caps(reply.common_caps)
        server_channel = words_to_caps(reply.channel_caps)
        both = self.common_caps & server_common
        self.result = LinkResult(
            server_common, server_channel, CommonCap.MINI_HEADER in both
        )
        if CommonCap.PROTOCOL_AUTH_SELECTION in both:
            if self._sasl is not None and CommonCap.AUTH_SASL in server_common:
                self._out += struct.pack("<I", AuthMechanism.SASL)
                self.sasl = SaslExchange(self._sasl, self._name)
                return
            if CommonCap.AUTH_SPICE not in server_common:
                if CommonCap.AUTH_SASL in server_common and not self.secure:
                    raise LinkError(
                        f"{self._name}: the server wants SASL, which spicepy "
                        "does over TLS only (use the tls-port)",
                        1,
                    )
                raise LinkError(
                    f"{self._name}: the server offers no SPICE ticket auth", 1
                )
            self._out += struct.pack("<I", AuthMechanism.SPICE)
        if self._password is None:
            self._out += bytes(SPICE_TICKET_BYTES)
        else:
            self._out += encrypt_ticket(reply.pub_key, self._password)
