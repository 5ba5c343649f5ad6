"""Link-phase structures (spice/protocol.h): SpiceLinkHeader, SpiceLinkMess,
SpiceLinkReply, the auth mechanism word and the link result."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from spicepy.errors import WireError
from spicepy.wire.enums import (
    SPICE_MAGIC,
    SPICE_TICKET_PUBKEY_BYTES,
    SPICE_VERSION_MAJOR,
    SPICE_VERSION_MINOR,
)

__all__ = [
    "LINK_HEADER_SIZE",
    "MAX_LINK_SIZE",
    "MAX_CAPS_WORDS",
    "LinkHeader",
    "LinkMess",
    "LinkReply",
    "caps_to_words",
    "words_to_caps",
    "has_cap",
]

LINK_HEADER_SIZE = 16
LINK_MESS_SIZE = 18
LINK_REPLY_SIZE = 4 + SPICE_TICKET_PUBKEY_BYTES + 12  # 178
#: spice-server accepts link messages of at most 4096 bytes (reds.cpp).
MAX_LINK_SIZE = 4096
MAX_CAPS_WORDS = 1024
_HDR = struct.Struct("<IIII")
_MESS = struct.Struct("<IBBIII")


def caps_to_words(bits: set[int] | frozenset[int]) -> tuple[int, ...]:
    """Capability bit numbers -> u32 words."""
    if not bits:
        return ()
    words = [0] * (max(bits) // 32 + 1)
    for b in bits:
        words[b // 32] |= 1 << (b % 32)
    return tuple(words)


def words_to_caps(words: tuple[int, ...] | list[int]) -> frozenset[int]:
    """u32 words -> capability bit numbers."""
    return frozenset(
        i * 32 + b for i, w in enumerate(words) for b in range(32) if w >> b & 1
    )


def has_cap(words: tuple[int, ...], bit: int) -> bool:
    i = bit // 32
    return i < len(words) and bool(words[i] >> (bit % 32) & 1)


@dataclass(frozen=True, slots=True)
class LinkHeader:
    """16 bytes: magic "REDQ", major, minor, size of what follows."""

    size: int
    major: int = SPICE_VERSION_MAJOR
    minor: int = SPICE_VERSION_MINOR
    magic: int = SPICE_MAGIC

    def pack(self) -> bytes:
        return _HDR.pack(self.magic, self.major, self.minor, self.size)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> LinkHeader:
        """Raises WireError on short data, a bad magic or an oversized link message."""
        if len(data) < LINK_HEADER_SIZE:
            raise WireError("truncated SpiceLinkHeader")
        magic, major, minor, size = _HDR.unpack_from(data, 0)
        if magic != SPICE_MAGIC:
            raise WireError(f"bad link magic {magic:#x}")
        if size > MAX_LINK_SIZE:
            raise WireError(f"link message of {size} bytes is too big")
        return cls(size, major, minor, magic)


def _caps(
    data: bytes | bytearray | memoryview, n_common: int, n_channel: int, offset: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if n_common > MAX_CAPS_WORDS or n_channel > MAX_CAPS_WORDS:
        raise WireError("too many capability words")
    end = offset + 4 * (n_common + n_channel)
    if offset < 0 or end > len(data):
        raise WireError("capabilities run past the link message")
    words = struct.unpack_from(f"<{n_common + n_channel}I", data, offset)
    return tuple(words[:n_common]), tuple(words[n_common:])


@dataclass(frozen=True, slots=True)
class LinkMess:
    """SpiceLinkMess (client -> server), caps at offset 18."""

    connection_id: int
    channel_type: int
    channel_id: int
    common_caps: tuple[int, ...] = ()
    channel_caps: tuple[int, ...] = ()

    def pack(self) -> bytes:
        """The body only (prefix with LinkHeader(len(body)).pack())."""
        body = _MESS.pack(
            self.connection_id,
            self.channel_type,
            self.channel_id,
            len(self.common_caps),
            len(self.channel_caps),
            LINK_MESS_SIZE,
        )
        words = self.common_caps + self.channel_caps
        return body + struct.pack(f"<{len(words)}I", *words)

    def pack_with_header(self) -> bytes:
        body = self.pack()
        return LinkHeader(len(body)).pack() + body

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> LinkMess:
        if len(data) < LINK_MESS_SIZE:
            raise WireError("truncated SpiceLinkMess")
        conn, ctype, cid, n_common, n_channel, off = _MESS.unpack_from(data, 0)
        common, channel = _caps(data, n_common, n_channel, off)
        return cls(conn, ctype, cid, common, channel)


@dataclass(frozen=True, slots=True)
class LinkReply:
    """SpiceLinkReply (server -> client): error, DER RSA key, caps at offset 178."""

    error: int
    pub_key: bytes = field(default=bytes(SPICE_TICKET_PUBKEY_BYTES))
    common_caps: tuple[int, ...] = ()
    channel_caps: tuple[int, ...] = ()

    def pack(self) -> bytes:
        if len(self.pub_key) != SPICE_TICKET_PUBKEY_BYTES:
            raise ValueError("pub_key must be 162 bytes")
        words = self.common_caps + self.channel_caps
        return (
            struct.pack("<I", self.error)
            + self.pub_key
            + struct.pack(
                "<III", len(self.common_caps), len(self.channel_caps), LINK_REPLY_SIZE
            )
            + struct.pack(f"<{len(words)}I", *words)
        )

    def pack_with_header(self) -> bytes:
        body = self.pack()
        return LinkHeader(len(body)).pack() + body

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> LinkReply:
        """An error reply may be only 4 bytes long (spice-server sends the full
        struct, but a short one carrying just the error is accepted)."""
        if len(data) < 4:
            raise WireError("truncated SpiceLinkReply")
        (error,) = struct.unpack_from("<I", data, 0)
        if len(data) < LINK_REPLY_SIZE:
            if error:
                return cls(error)
            raise WireError("truncated SpiceLinkReply")
        pub_key = bytes(data[4 : 4 + SPICE_TICKET_PUBKEY_BYTES])
        n_common, n_channel, off = struct.unpack_from(
            "<III", data, 4 + SPICE_TICKET_PUBKEY_BYTES
        )
        common, channel = _caps(data, n_common, n_channel, off)
        return cls(error, pub_key, common, channel)
