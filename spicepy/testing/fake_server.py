"""A scripted server side of one SPICE channel, for tests (no sockets).

It generates a 1024-bit RSA key, answers the client's link message with a
SpiceLinkReply, decrypts the ticket (``ticket`` keeps the password it got), sends
the link result, and then packs server messages and splits client messages.
"""

from __future__ import annotations

import struct
from typing import Any

from spicepy.channels.base import iter_frames
from spicepy.wire.enums import CommonCap, LinkErr
from spicepy.wire.headers import pack_header
from spicepy.wire.link import (
    LINK_HEADER_SIZE,
    LinkHeader,
    LinkMess,
    LinkReply,
    caps_to_words,
    words_to_caps,
)
from spicepy.wire.messages import decode_message, encode_message

__all__ = ["FakeServer", "link_pair"]

_KEY_CACHE: list[Any] = []


def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not _KEY_CACHE:  # key generation is slow-ish; one per process is plenty
        _KEY_CACHE.append(
            rsa.generate_private_key(public_exponent=65537, key_size=1024)
        )
    return _KEY_CACHE[0]


class FakeServer:
    """Server side of a link.

    Args:
        common_caps / channel_caps: what the server advertises.
        password: the expected ticket; a mismatch answers PERMISSION_DENIED.
        link_error: a SpiceLinkErr to put in the reply instead of OK.
    """

    def __init__(
        self,
        *,
        common_caps: frozenset[int] = frozenset(
            {
                CommonCap.PROTOCOL_AUTH_SELECTION,
                CommonCap.AUTH_SPICE,
                CommonCap.MINI_HEADER,
            }
        ),
        channel_caps: frozenset[int] = frozenset(),
        password: str = "",
        link_error: int = LinkErr.OK,
    ) -> None:
        self.common_caps = frozenset(common_caps)
        self.channel_caps = frozenset(channel_caps)
        self.password = password
        self.link_error = link_error
        self.key = _private_key()
        self.link_mess: LinkMess | None = None
        self.auth_mechanism: int | None = None
        self.ticket: bytes | None = None
        self.mini = False
        self.serial = 0
        self._client = bytearray()

    def public_key_der(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )

    def reply_to(self, client_link: bytes) -> bytes:
        """Parse the client's header + SpiceLinkMess; return header + SpiceLinkReply."""
        hdr = LinkHeader.parse(client_link)
        self.link_mess = LinkMess.parse(
            client_link[LINK_HEADER_SIZE : LINK_HEADER_SIZE + hdr.size]
        )
        reply = LinkReply(
            self.link_error,
            self.public_key_der(),
            caps_to_words(self.common_caps),
            caps_to_words(self.channel_caps),
        )
        client_common = words_to_caps(self.link_mess.common_caps)
        self.mini = (
            CommonCap.MINI_HEADER in client_common
            and CommonCap.MINI_HEADER in self.common_caps
        )
        self._auth_sel = (
            CommonCap.PROTOCOL_AUTH_SELECTION in client_common
            and CommonCap.PROTOCOL_AUTH_SELECTION in self.common_caps
        )
        return reply.pack_with_header()

    def result_for(self, client_auth: bytes) -> bytes:
        """Take the auth mechanism word (if negotiated) + 128-byte ticket; return the
        u32 link result (PERMISSION_DENIED when the password is wrong)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        pos = 0
        if self._auth_sel:
            (self.auth_mechanism,) = struct.unpack_from("<I", client_auth, 0)
            pos = 4
        encrypted = client_auth[pos : pos + 128]
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None
        )
        self.ticket = self.key.decrypt(encrypted, oaep)
        ok = self.ticket.rstrip(b"\0") == self.password.encode()
        return struct.pack("<I", LinkErr.OK if ok else LinkErr.PERMISSION_DENIED)

    def pack(self, msg: Any, *, sub_list: int = 0) -> bytes:
        """One server message with this link's header kind."""
        msg_type, body = encode_message(msg)
        return self.pack_raw(msg_type, body, sub_list=sub_list)

    def pack_raw(self, msg_type: int, body: bytes, *, sub_list: int = 0) -> bytes:
        self.serial += 1
        return (
            pack_header(
                msg_type,
                len(body),
                mini=self.mini,
                serial=self.serial,
                sub_list=sub_list,
            )
            + body
        )

    def client_messages(self, data: bytes, channel_type: int) -> list[Any]:
        """Decode the client's data-phase bytes (must be whole messages)."""
        self._client += data
        view = memoryview(bytes(self._client))
        out, done = [], 0
        for msg_type, body, _serial, _sub, _start, end in iter_frames(view, self.mini):
            out.append(decode_message(channel_type, msg_type, body, from_server=False))
            done = end
        del self._client[:done]
        return out


def link_pair(channel: Any, server: FakeServer) -> bytes:
    """Run the handshake between a fresh channel and ``server``; returns the bytes
    the server sent (already fed to the channel)."""
    first = channel.data_to_send()
    reply = server.reply_to(first)
    channel.receive_data(reply)
    result = server.result_for(channel.data_to_send())
    channel.receive_data(result)
    return reply + result
