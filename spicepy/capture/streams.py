"""SPICE channels out of a capture: link parsing and post-link byte streams.

Theory of operation: every TCP connection whose client stream starts with the
SpiceLinkHeader magic "REDQ" is a SPICE channel.  The client's SpiceLinkMess gives
channel type/id, connection id and its caps; the server's SpiceLinkReply gives its
caps (and an error, if the link was refused).  After the reply the client sends the
u32 auth mechanism (only if both set AUTH_SELECTION) and the RSA ticket (as long as
the key modulus: 128 bytes for spice-server's 1024-bit key); the server answers the
u32 link result.  What follows on each side is the data phase, with mini headers
if both sides set MINI_HEADER.  ``iter_messages`` splits it into messages.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spicepy.capture.pcap import TcpConnection, read_connections
from spicepy.errors import WireError
from spicepy.wire.enums import SPICE_MAGIC, CommonCap, CommonMsg, LinkErr
from spicepy.wire.headers import header_size, parse_header, split_sub_messages
from spicepy.wire.link import (
    LINK_HEADER_SIZE,
    LinkHeader,
    LinkMess,
    LinkReply,
    words_to_caps,
)

__all__ = [
    "SpiceStream",
    "CapturedMessage",
    "find_spice_streams",
    "read_spice_streams",
    "iter_messages",
]

TICKET_SIZE = 128


@dataclass
class SpiceStream:
    """One SPICE channel connection of a capture."""

    connection: TcpConnection
    channel_type: int
    channel_id: int
    connection_id: int
    client_common_caps: frozenset[int]
    client_channel_caps: frozenset[int]
    server_common_caps: frozenset[int]
    server_channel_caps: frozenset[int]
    link_error: int
    link_result: int | None
    auth_mechanism: int | None
    client_link: bytes  # everything before the client's data phase
    server_link: bytes  # everything before the server's data phase
    client_data: bytes  # client data phase (messages)
    server_data: bytes  # server data phase (messages)

    @property
    def mini_header(self) -> bool:
        bit = CommonCap.MINI_HEADER
        return bit in self.client_common_caps and bit in self.server_common_caps

    @property
    def linked(self) -> bool:
        return self.link_error == LinkErr.OK and self.link_result == LinkErr.OK


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One message of a data phase: serial (implicit with mini headers), type, body,
    offset of its header in the direction's data, and whether it was a sub-message."""

    serial: int
    msg_type: int
    body: bytes
    offset: int
    sub: bool = False


def _parse_link(conn: TcpConnection) -> SpiceStream | None:
    c, s = conn.client_data, conn.server_data
    if len(c) < LINK_HEADER_SIZE or struct.unpack_from("<I", c, 0)[0] != SPICE_MAGIC:
        return None
    hdr = LinkHeader.parse(c)
    mess = LinkMess.parse(c[LINK_HEADER_SIZE : LINK_HEADER_SIZE + hdr.size])
    cpos = LINK_HEADER_SIZE + hdr.size
    client_common, client_channel = (
        words_to_caps(mess.common_caps),
        words_to_caps(mess.channel_caps),
    )
    server_common: frozenset[int] = frozenset()
    server_channel: frozenset[int] = frozenset()
    error, result, mech, spos = int(LinkErr.ERROR), None, None, 0
    if len(s) >= LINK_HEADER_SIZE:
        shdr = LinkHeader.parse(s)
        reply = LinkReply.parse(s[LINK_HEADER_SIZE : LINK_HEADER_SIZE + shdr.size])
        spos = LINK_HEADER_SIZE + shdr.size
        error = reply.error
        server_common = words_to_caps(reply.common_caps)
        server_channel = words_to_caps(reply.channel_caps)
        if error == LinkErr.OK:
            sel = CommonCap.PROTOCOL_AUTH_SELECTION
            if sel in client_common and sel in server_common and len(c) >= cpos + 4:
                mech = struct.unpack_from("<I", c, cpos)[0]
                cpos += 4
            cpos += TICKET_SIZE
            if len(s) >= spos + 4:
                result = struct.unpack_from("<I", s, spos)[0]
                spos += 4
    linked = error == LinkErr.OK and result == LinkErr.OK
    return SpiceStream(
        conn,
        mess.channel_type,
        mess.channel_id,
        mess.connection_id,
        client_common,
        client_channel,
        server_common,
        server_channel,
        error,
        result,
        mech,
        c[:cpos],
        s[:spos],
        c[cpos:] if linked else b"",
        s[spos:] if linked else b"",
    )


def find_spice_streams(connections: list[TcpConnection]) -> list[SpiceStream]:
    """The SPICE channels among reassembled connections (others are ignored).

    Raises:
        WireError: a connection that starts with REDQ but has a malformed link.
    """
    out = []
    for conn in connections:
        stream = _parse_link(conn)
        if stream is not None:
            out.append(stream)
    return out


def read_spice_streams(source: str | Path | bytes) -> list[SpiceStream]:
    """find_spice_streams(read_connections(source))."""
    return find_spice_streams(read_connections(source))


def iter_messages(
    data: bytes, mini_header: bool, *, expand_lists: bool = False, strict: bool = True
) -> Iterator[CapturedMessage]:
    """Split a data-phase byte stream into messages.

    Args:
        expand_lists: also yield the sub-messages of LIST / sub_list carriers
            (before their carrier, as spice-gtk handles them).
        strict: a truncated final message raises WireError; else it is dropped.
    """
    hsize, pos, serial = header_size(mini_header), 0, 0
    while pos < len(data):
        if len(data) - pos < hsize:
            if strict:
                raise WireError(f"truncated header at offset {pos}")
            return
        hdr = parse_header(data, mini_header, pos)
        end = pos + hsize + hdr.size
        if end > len(data):
            if strict:
                raise WireError(f"truncated message at offset {pos}")
            return
        serial = hdr.serial if not mini_header else serial + 1
        body = data[pos + hsize : end]
        if expand_lists and hdr.sub_list:
            for sub in split_sub_messages(body, hdr.sub_list):
                yield CapturedMessage(serial, sub.msg_type, sub.body, pos, True)
        if expand_lists and hdr.msg_type == CommonMsg.LIST:
            for sub in split_sub_messages(body):
                yield CapturedMessage(serial, sub.msg_type, sub.body, pos, True)
        yield CapturedMessage(serial, hdr.msg_type, body, pos)
        pos = end
