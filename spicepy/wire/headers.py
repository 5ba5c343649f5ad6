"""Data-phase headers (spice/protocol.h): the 18-byte SpiceDataHeader, the 6-byte
SpiceMiniDataHeader (both sides set common cap MINI_HEADER), sub-message lists, and
``split_frames``: a received stream cut into whole messages (compiled twin in
``_decode.pyx``, chosen by ``twins``)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from spicepy.errors import WireError
from spicepy.wire.schema import MAX_MESSAGE_SIZE
from spicepy.wire.twins import fast

__all__ = [
    "FULL_HEADER_SIZE",
    "MINI_HEADER_SIZE",
    "DataHeader",
    "Frame",
    "SubMessage",
    "frame_at",
    "pack_header",
    "parse_header",
    "split_frames",
    "split_frames_ref",
    "split_sub_messages",
    "pack_sub_message_list",
]

FULL_HEADER_SIZE = 18
MINI_HEADER_SIZE = 6
_FULL = struct.Struct("<QHII")
_MINI = struct.Struct("<HI")
#: Sub-messages per list we accept.
MAX_SUB_MESSAGES = 4096


@dataclass(frozen=True, slots=True)
class DataHeader:
    """One message header; ``serial`` and ``sub_list`` are 0 for mini headers."""

    msg_type: int
    size: int
    serial: int = 0
    sub_list: int = 0


def header_size(mini: bool) -> int:
    return MINI_HEADER_SIZE if mini else FULL_HEADER_SIZE


def parse_header(
    data: bytes | bytearray | memoryview, mini: bool, offset: int = 0
) -> DataHeader:
    """Parse a header at ``offset``.

    Raises:
        WireError: fewer bytes than a header, or a size above MAX_MESSAGE_SIZE.
    """
    try:
        if mini:
            msg_type, size = _MINI.unpack_from(data, offset)
            hdr = DataHeader(msg_type, size)
        else:
            serial, msg_type, size, sub_list = _FULL.unpack_from(data, offset)
            hdr = DataHeader(msg_type, size, serial, sub_list)
    except struct.error as exc:
        raise WireError("truncated data header") from exc
    if hdr.size > MAX_MESSAGE_SIZE:
        raise WireError(f"message size {hdr.size} exceeds MAX_MESSAGE_SIZE")
    return hdr


#: One whole message of a stream: (type, body (a slice of the data, so a view of a
#: memoryview), header serial (0 with mini headers), sub_list offset (0: none),
#: offset of its header, offset after it).
Frame = tuple[int, memoryview, int, int, int, int]


def frame_at(data: memoryview, pos: int, mini_header: bool, limit: int) -> Frame | None:
    """The whole message whose header is at ``pos``, or None: no whole header
    there, a size above ``limit``, or a body cut off at the end of ``data``
    (the one reading of a header of the reference twins; ``_decode._whole`` in C).
    """
    total = len(data)
    if mini_header:
        if total - pos < MINI_HEADER_SIZE:
            return None
        msg_type, size = _MINI.unpack_from(data, pos)
        serial = sub_list = 0
        body = pos + MINI_HEADER_SIZE
    else:
        if total - pos < FULL_HEADER_SIZE:
            return None
        serial, msg_type, size, sub_list = _FULL.unpack_from(data, pos)
        body = pos + FULL_HEADER_SIZE
    end = body + size
    if size > limit or end > total:
        return None
    return (msg_type, data[body:end], serial, sub_list, pos, end)


def split_frames_ref(
    data: memoryview,
    mini_header: bool,
    start: int = 0,
    max_size: int = MAX_MESSAGE_SIZE,
) -> tuple[list[Frame], int]:
    """The whole messages of a data-phase stream from ``start``, and where they stop.

    Splitting stops before the first message that is cut off at the end of ``data``
    or whose header announces more than ``max_size`` (or MAX_MESSAGE_SIZE) bytes;
    the caller tells the two apart with ``parse_header`` at the returned offset
    (when a whole header is left there), so messages before a bad header are still
    returned and nothing is raised for the data itself.

    Raises:
        ValueError: ``start`` outside ``data``.
    """
    total = len(data)
    if not 0 <= start <= total:
        raise ValueError(f"start {start} outside {total} bytes")
    limit = min(max_size, MAX_MESSAGE_SIZE)
    frames: list[Frame] = []
    pos = start
    while (frame := frame_at(data, pos, mini_header, limit)) is not None:
        frames.append(frame)
        pos = frame[5]
    return frames, pos


split_frames = split_frames_ref if fast is None else fast.split_frames


def pack_header(
    msg_type: int, size: int, *, mini: bool, serial: int = 0, sub_list: int = 0
) -> bytes:
    """The header bytes for one outgoing message."""
    if mini:
        return _MINI.pack(msg_type, size)
    return _FULL.pack(serial, msg_type, size, sub_list)


@dataclass(frozen=True, slots=True)
class SubMessage:
    msg_type: int
    body: bytes


def split_sub_messages(
    body: bytes | memoryview, list_offset: int = 0
) -> list[SubMessage]:
    """Parse a SpiceSubMessageList at ``list_offset`` of ``body``: u16 count + u32
    offsets, each pointing to {u16 type, u32 size, body}.

    Raises:
        WireError: a count, offset or size that does not fit the body.
    """
    view = memoryview(body)
    end = len(view)
    try:
        (count,) = struct.unpack_from("<H", view, list_offset)
        if count > MAX_SUB_MESSAGES or list_offset + 2 + 4 * count > end:
            raise WireError(f"sub-message list of {count} entries does not fit")
        offsets = struct.unpack_from(f"<{count}I", view, list_offset + 2)
        out, total = [], 0
        for off in offsets:
            msg_type, size = struct.unpack_from("<HI", view, off)
            start = off + 6
            if start + size > end:
                raise WireError("sub-message runs past the message body")
            # offsets may alias one region: bound the copies by the body size
            total += size
            if total > end:
                raise WireError("sub-messages overlap (more bytes than the body)")
            out.append(SubMessage(msg_type, bytes(view[start : start + size])))
        return out
    except struct.error as exc:
        raise WireError("truncated sub-message list") from exc


def pack_sub_message_list(subs: list[SubMessage]) -> bytes:
    """A LIST body holding ``subs`` (inverse of split_sub_messages at offset 0)."""
    head = 2 + 4 * len(subs)
    offsets, parts, pos = [], [], head
    for sub in subs:
        offsets.append(pos)
        chunk = _MINI.pack(sub.msg_type, len(sub.body)) + sub.body
        parts.append(chunk)
        pos += len(chunk)
    return struct.pack(f"<H{len(subs)}I", len(subs), *offsets) + b"".join(parts)
