"""SPICE channels out of a capture: which TCP connection is which channel, and the
messages each side sent after the link.

Theory of operation: ``read_channels`` takes the reassembled TCP connections of
``spicepy.capture.pcap`` and keeps those whose client stream opens with a
``SpiceLinkHeader`` (magic "REDQ"). The link structures are parsed with
``spicepy.wire.link``: the client's SpiceLinkMess gives channel type / id and its
caps, the server's SpiceLinkReply its caps; the mini header is in use when both
sides set common cap MINI_HEADER (spice-gtk ``spice-channel.c``). The client's data
phase starts after the link message, the auth mechanism word (only when both set
PROTOCOL_AUTH_SELECTION) and the 128-byte RSA ticket; the server's after the reply
and the u32 link result. ``iter_messages`` then cuts a direction into messages
with the channel machines' own framing (``spicepy.channels.base.iter_frames``),
expanding LIST / ``sub_list`` sub-messages first, as spice-gtk dispatches them.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spicepy.capture.pcap import TcpConnection, read_tcp_connections
from spicepy.channels import CHANNEL_CLASSES
from spicepy.channels.base import Channel, Frame, iter_frames
from spicepy.errors import WireError
from spicepy.wire.enums import SPICE_MAGIC, SPICE_TICKET_BYTES, CommonCap, CommonMsg
from spicepy.wire.headers import split_sub_messages
from spicepy.wire.link import (
    LINK_HEADER_SIZE,
    LinkHeader,
    LinkMess,
    LinkReply,
    has_cap,
    words_to_caps,
)

__all__ = [
    "SpiceChannel",
    "channel_machine",
    "Message",
    "iter_data_messages",
    "TICKET_SIZE",
    "read_channels",
    "channel_from_connection",
    "iter_messages",
    "client_data_start",
    "server_data_start",
]

#: RSA-1024 encrypted ticket (spice-gtk ``spice_channel_send_spice_ticket``).
TICKET_SIZE = SPICE_TICKET_BYTES
#: SpiceLinkHeader.magic as it appears on the wire (little-endian u32).
LINK_MAGIC = struct.pack("<I", SPICE_MAGIC)


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a channel direction, with the capture time that completed it."""

    type: int
    body: bytes | memoryview
    time: float = 0.0
    #: the header's serial; with mini headers the implicit one (1, 2, ... per side)
    serial: int = 0
    #: offset of the (carrier's) header in the stream given to the iterator
    offset: int = 0
    #: a sub-message of a LIST / sub_list carrier
    sub: bool = False


@dataclass(slots=True)
class SpiceChannel:
    """One SPICE channel connection of a capture.

    ``to_client`` / ``to_server`` are whole directions, link phase included (pass
    them to ``iter_messages``); ``times`` is (offset in ``to_client``, capture time)
    per TCP segment and ``times_to_server`` the same for the client side.
    """

    channel_type: int
    channel_id: int
    client_port: int
    to_client: bytes
    to_server: bytes
    first_time: float = 0.0
    mini_header: bool = True
    times: list[tuple[int, float]] = field(default_factory=list)
    times_to_server: list[tuple[int, float]] = field(default_factory=list)
    server_port: int = 0
    connection_id: int = 0
    #: capability bit numbers each side advertised (``wire.link.words_to_caps``)
    client_common_caps: frozenset[int] = frozenset()
    client_channel_caps: frozenset[int] = frozenset()
    server_common_caps: frozenset[int] = frozenset()
    server_channel_caps: frozenset[int] = frozenset()
    #: SpiceLinkReply error (0 = OK), None when the reply is not in the capture
    link_error: int | None = None
    #: the u32 link result after the ticket, None when not in the capture
    link_result: int | None = None
    #: the client's SpiceLinkAuthMechanism word, if it sent one
    auth_mechanism: int | None = None
    #: a direction stopped at a sequence hole in the capture
    gap: bool = False

    @property
    def refused(self) -> bool:
        """The capture shows the link refused (no data phase follows)."""
        return bool(self.link_error) or bool(self.link_result)

    def server_messages(self) -> Iterator[Message]:
        """Server -> client messages (see ``iter_messages``); none if refused."""
        if self.refused:
            return iter(())
        return iter_messages(self.to_client, self.mini_header, self.times)

    def client_messages(self) -> Iterator[Message]:
        """Client -> server messages (see ``iter_messages``); none if refused."""
        if self.refused:
            return iter(())
        return iter_messages(
            self.to_server,
            self.mini_header,
            self.times_to_server,
            from_server=False,
            auth_selection=self._auth_selection,
        )

    @property
    def _auth_selection(self) -> bool:
        cap = CommonCap.PROTOCOL_AUTH_SELECTION
        return cap in self.client_common_caps and cap in self.server_common_caps

    @property
    def linked(self) -> bool:
        """The link succeeded (reply error and link result both OK)."""
        return self.link_error == 0 and self.link_result == 0

    @property
    def client_data(self) -> bytes:
        """The client's data phase (its messages); empty unless linked."""
        if not self.linked:
            return b""
        return self.to_server[client_data_start(self.to_server, self._auth_selection) :]

    @property
    def server_data(self) -> bytes:
        """The server's data phase (its messages); empty unless linked."""
        return (
            self.to_client[server_data_start(self.to_client) :] if self.linked else b""
        )

    @property
    def client_link(self) -> bytes:
        """The client's link phase: header, SpiceLinkMess, auth word, ticket."""
        end = client_data_start(self.to_server, self._auth_selection)
        return self.to_server[:end]

    @property
    def server_link(self) -> bytes:
        """The server's link phase: header, SpiceLinkReply, link result."""
        return self.to_client[: server_data_start(self.to_client)]


def server_data_start(data: bytes | memoryview) -> int:
    """Offset of the first message in a server -> client stream (after the link
    header, SpiceLinkReply and the u32 link result).

    Raises:
        WireError: the stream does not start with a link header.
    """
    if bytes(data[:4]) != LINK_MAGIC:
        raise WireError("no SPICE link reply at the start of the stream")
    return LINK_HEADER_SIZE + LinkHeader.parse(data).size + 4


def client_data_start(data: bytes | memoryview, auth_selection: bool = True) -> int:
    """Offset of the first message in a client -> server stream (after the link
    header, SpiceLinkMess, the auth mechanism word when both sides set
    PROTOCOL_AUTH_SELECTION, and the RSA ticket; SASL is not followed).

    Raises:
        WireError: the stream does not start with a link header.
    """
    if bytes(data[:4]) != LINK_MAGIC:
        raise WireError("no SPICE link message at the start of the stream")
    pos = LINK_HEADER_SIZE + LinkHeader.parse(data).size
    return pos + (4 if auth_selection else 0) + TICKET_SIZE


def iter_messages(
    data: bytes,
    mini_header: bool = True,
    times: list[tuple[int, float]] | None = None,
    *,
    from_server: bool = True,
    auth_selection: bool = True,
) -> Iterator[Message]:
    """The messages of one channel direction, LIST sub-messages expanded.

    Args:
        data: the whole direction, starting with its link header.
        mini_header: 6-byte headers (else 18-byte SpiceDataHeader).
        times: (offset, capture time) per segment; a message gets the time of the
            segment that completed it.
        from_server: ``data`` is the server -> client direction.
        auth_selection: (client side) both peers set PROTOCOL_AUTH_SELECTION.

    A message cut off by the end of the capture ends the iteration.

    Raises:
        WireError: a header or sub-message list that does not parse.
    """
    if from_server:
        pos = server_data_start(data)
    else:
        pos = client_data_start(data, auth_selection)
    seg = serial = 0
    for msg_type, body, hserial, sub_list, start, end in _frames(
        data, mini_header, pos
    ):
        serial = serial + 1 if mini_header else hserial
        when = 0.0
        if times:
            while seg + 1 < len(times) and times[seg + 1][0] < end:
                seg += 1
            when = times[seg][1]
        if msg_type == CommonMsg.LIST:
            for sub in split_sub_messages(body):
                yield Message(sub.msg_type, sub.body, when, serial, start, True)
        else:
            if sub_list:
                for sub in split_sub_messages(body, sub_list):
                    yield Message(sub.msg_type, sub.body, when, serial, start, True)
            yield Message(msg_type, body, when, serial, start)


def _frames(data: bytes, mini_header: bool, start: int) -> Iterator[Frame]:
    """``iter_frames`` over a capture direction, with no size limit but the wire
    layer's (a message longer than the capture just ends it)."""
    return iter_frames(memoryview(data), mini_header, start, sys.maxsize)


def iter_data_messages(
    data: bytes, mini_header: bool, *, expand_lists: bool = False, strict: bool = True
) -> Iterator[Message]:
    """Split a data phase (no link bytes, e.g. ``SpiceChannel.server_data``) into
    messages; offsets are relative to ``data``.

    Args:
        expand_lists: also yield the sub-messages of LIST / sub_list carriers
            (before their carrier, as spice-gtk handles them).
        strict: a truncated final message raises WireError; else it is dropped.

    Raises:
        WireError: a header that does not parse, or truncation when ``strict``.
    """
    serial, done = 0, 0
    for msg_type, body, hserial, sub_list, start, end in _frames(data, mini_header, 0):
        done = end
        serial = serial + 1 if mini_header else hserial
        if expand_lists:
            if sub_list:
                for sub in split_sub_messages(body, sub_list):
                    yield Message(sub.msg_type, sub.body, 0.0, serial, start, True)
            if msg_type == CommonMsg.LIST:
                for sub in split_sub_messages(body):
                    yield Message(sub.msg_type, sub.body, 0.0, serial, start, True)
        yield Message(msg_type, body, 0.0, serial, start)
    if strict and done < len(data):
        raise WireError(f"truncated message at offset {done}")


def channel_from_connection(conn: TcpConnection) -> SpiceChannel | None:
    """The SPICE channel a TCP connection carries, or None when it is not SPICE
    (no REDQ link message from the client, or one that does not parse)."""
    up, down = conn.to_server, conn.to_client
    times_up, times_down = conn.times_to_server, conn.times_to_client
    client, server = conn.client, conn.server
    if not up.startswith(LINK_MAGIC) and down.startswith(LINK_MAGIC):
        # the capture missed the SYN and guessed the sides wrong
        up, down, times_up, times_down = down, up, times_down, times_up
        client, server = server, client
    if not up.startswith(LINK_MAGIC):
        return None
    try:
        size = LinkHeader.parse(up).size
        mess = LinkMess.parse(up[LINK_HEADER_SIZE : LINK_HEADER_SIZE + size])
    except WireError:
        return None
    ch = SpiceChannel(
        mess.channel_type,
        mess.channel_id,
        client[1],
        down,
        up,
        min((t for _, t in times_up), default=conn.first_time),
        # until the server's reply says otherwise, assume the client's choice
        has_cap(mess.common_caps, CommonCap.MINI_HEADER),
        times_down,
        times_up,
        server[1],
        mess.connection_id,
        words_to_caps(mess.common_caps),
        words_to_caps(mess.channel_caps),
        gap=conn.gap,
    )
    if down.startswith(LINK_MAGIC):
        try:
            rsize = LinkHeader.parse(down).size
            reply = LinkReply.parse(down[LINK_HEADER_SIZE : LINK_HEADER_SIZE + rsize])
        except WireError:
            return ch
        ch.link_error = reply.error
        ch.server_common_caps = words_to_caps(reply.common_caps)
        ch.server_channel_caps = words_to_caps(reply.channel_caps)
        ch.mini_header &= has_cap(reply.common_caps, CommonCap.MINI_HEADER)
        result_at = LINK_HEADER_SIZE + rsize
        if reply.error == 0 and len(down) >= result_at + 4:
            ch.link_result = int.from_bytes(down[result_at : result_at + 4], "little")
        auth_at = LINK_HEADER_SIZE + size
        if ch._auth_selection and len(up) >= auth_at + 4:
            ch.auth_mechanism = int.from_bytes(up[auth_at : auth_at + 4], "little")
    return ch


def channel_machine(ch: SpiceChannel) -> Channel:
    """A ``spicepy.channels`` machine that links as the captured client did
    (same ids and capabilities); feed it ``ch.to_client`` to replay the server.

    Raises:
        ValueError: a channel type spicepy has no machine for.
    """
    cls = CHANNEL_CLASSES.get(ch.channel_type)
    if cls is None:
        raise ValueError(f"no machine for channel type {ch.channel_type}")
    return cls(
        ch.channel_id,
        connection_id=ch.connection_id,
        password=None,  # a replay sends nothing: no RSA ticket to encrypt
        common_caps=ch.client_common_caps,
        channel_caps=ch.client_channel_caps,
    )


def read_channels(path: str | Path | bytes) -> list[SpiceChannel]:
    """Every SPICE channel connection of a capture, in connection order.

    Args:
        path: a pcap / pcapng file, or its bytes.

    Raises:
        WireError: not a readable capture.
        OSError: the file cannot be read.
    """
    channels = map(channel_from_connection, read_tcp_connections(path))
    return [ch for ch in channels if ch is not None]
