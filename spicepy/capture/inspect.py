"""``spicepy inspect``: what a capture contains, per channel.

Messages by type in both directions for every channel; for display channels
the SpiceImage descriptors referenced by draw messages (count, compressed bytes
and pixels per image type, the pixel format inside each codec stream, BITMAP
formats) and the video streams (codec, size, frames, bytes). The output keys
mirror the ``inventory`` of the capture corpus's manifest.json, so the two can
be compared directly (``spicepy inspect --json`` prints it).  The server's side
of each channel goes through that channel's own machine
(``capture.streams.channel_machine``: link, framing, decoding as live); the
client's side is only framed and named.  The channels the server listed
(main CHANNELS_LIST) that the capture never linked are named in
``channels_not_opened``: what the client left out is never silent.
"""

from __future__ import annotations

import struct
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from spicepy.capture.streams import SpiceChannel, channel_machine, read_channels
from spicepy.channels.events import ChannelsListReceived, MessageReceived
from spicepy.errors import SpiceError, WireError
from spicepy.wire import msg_display as md
from spicepy.wire.enums import BitmapFmt, ChannelType, ImageType, VideoCodecType
from spicepy.wire.enums import message_name as wire_message_name
from spicepy.wire.msg_display import message_images

__all__ = ["inspect_capture", "message_name"]

CHANNEL_NAMES = {int(c): c.name.lower() for c in ChannelType}

_LZ_TYPES = ["INVALID", "PLT1_LE", "PLT1_BE", "PLT4_LE", "PLT4_BE", "PLT8", "RGB16",
             "RGB24", "RGB32", "RGBA", "XXXA", "A8"]  # fmt: skip
_QUIC_TYPES = ["INVALID", "GRAY", "RGB16", "RGB24", "RGB32", "RGBA"]


def message_name(channel_type: int, kind: int, from_server: bool) -> str:
    """The spice.proto name of a message type (``MSG_<n>`` when unknown)."""
    name = wire_message_name(channel_type, kind, from_server=from_server)
    return f"MSG_{kind}" if name.startswith("UNKNOWN_") else name


def _subtype(image_type: int, data: bytes | memoryview) -> str | None:
    """The pixel format a codec stream's header declares."""
    try:
        if image_type == ImageType.QUIC and len(data) >= 12:
            t = struct.unpack_from("<I", data, 8)[0]
            return _QUIC_TYPES[t] if t < len(_QUIC_TYPES) else None
        if image_type == ImageType.LZ_RGB or image_type == ImageType.LZ_PLT:
            t = struct.unpack_from(">I", data, 8)[0]
            return _LZ_TYPES[t] if t < len(_LZ_TYPES) else None
        if image_type == ImageType.GLZ_RGB and len(data) > 8:
            t = data[8] & 0x0F
            return _LZ_TYPES[t] if t < len(_LZ_TYPES) else None
        if image_type == ImageType.LZ4 and len(data) >= 2:
            return BitmapFmt(data[1]).name.removeprefix("FMT_")
    except (struct.error, ValueError):
        return None
    return None


def _client_messages(ch: SpiceChannel) -> Counter[str]:
    """Client->server message names (after link message, auth mechanism, ticket)."""
    counts: Counter[str] = Counter()
    try:
        for msg in ch.client_messages():
            counts[message_name(ch.channel_type, msg.type, False)] += 1
    except WireError:
        pass  # counted as far as the stream parses
    return counts


def _name(key: tuple[int, int]) -> str:
    return f"{CHANNEL_NAMES.get(key[0], f'type{key[0]}')}:{key[1]}"


def _server_side(
    ch: SpiceChannel, listed: dict[tuple[int, int], None]
) -> tuple[Counter[int], list[Any], int]:
    """Feed the server's bytes to the channel's machine: message counts by type,
    the display messages it decoded, and 1 if it stopped on an error; the
    channels a main channel's CHANNELS_LIST names go into ``listed``."""
    if ch.refused or not ch.to_client:
        return Counter(), [], 0
    machine = channel_machine(ch)
    failed = 0
    try:
        machine.receive_data(ch.to_client)
    except SpiceError:
        failed = 1  # counted as far as the stream parses, as a live channel dies
    messages = []
    while (event := machine.next_event()) is not None:
        if isinstance(event, MessageReceived):
            messages.append(event.message)
        elif isinstance(event, ChannelsListReceived):
            listed.update(dict.fromkeys(event.channels))
    return machine.message_counts, messages, failed


def inspect_capture(path: str | Path) -> dict[str, Any]:
    """Inventory of a capture (see the module docstring).

    Raises:
        WireError: the capture cannot be read.
    """
    channels = read_channels(path)
    server: dict[str, Counter[str]] = defaultdict(Counter)
    client: dict[str, Counter[str]] = defaultdict(Counter)
    image_types: Counter[str] = Counter()
    image_bytes: Counter[str] = Counter()
    image_pixels: Counter[str] = Counter()
    subtypes: Counter[str] = Counter()
    bitmap_formats: Counter[str] = Counter()
    stream_codecs: Counter[str] = Counter()
    stream_messages: Counter[str] = Counter()
    streams: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, Any]] = {}
    parse_errors = 0
    out_channels = []
    #: (type, id) of every channel a CHANNELS_LIST named, in the server's order
    listed: dict[tuple[int, int], None] = {}
    for ch in channels:
        cname = CHANNEL_NAMES.get(ch.channel_type, f"type{ch.channel_type}")
        n_server = 0
        # this channel's images: type -> [count, compressed bytes, pixels]
        own: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        # the server's side goes through the channel's own machine, as live
        counts, messages, failed = _server_side(ch, listed)
        parse_errors += failed
        for kind, n in sorted(counts.items()):
            name = message_name(ch.channel_type, kind, True)
            server[cname][name] += n
            n_server += n
            if ch.channel_type == ChannelType.DISPLAY and name.startswith("STREAM_"):
                stream_messages[name] += n
        for decoded in messages:
            for image in message_images(decoded):
                d = image.descriptor
                tname = (
                    ImageType(d.type).name
                    if d.type in ImageType._value2member_map_
                    else str(d.type)
                )
                image_types[tname] += 1
                image_pixels[tname] += d.width * d.height
                payload = image.payload
                data = b"" if payload is None else payload
                size = len(data)
                if image.bitmap is not None:
                    size = len(image.bitmap.data)
                    fmt = image.bitmap.format
                    bitmap_formats[
                        BitmapFmt(fmt).name.removeprefix("FMT_")
                        if fmt in BitmapFmt._value2member_map_
                        else str(fmt)
                    ] += 1
                image_bytes[tname] += size
                entry = own[tname]
                entry[0] += 1
                entry[1] += size
                entry[2] += d.width * d.height
                sub = _subtype(d.type, data)
                if sub is not None:
                    subtypes[f"{tname}:{sub}"] += 1
                elif d.type == ImageType.ZLIB_GLZ_RGB:
                    subtypes[tname] += 1
            if isinstance(decoded, md.StreamCreate):
                kind = decoded.codec_type
                codec = (
                    VideoCodecType(kind).name
                    if kind in VideoCodecType._value2member_map_
                    else str(kind)
                )
                stream_codecs[codec] += 1
                dims = f"{decoded.stream_width}x{decoded.stream_height}"
                info = {"channel_id": ch.channel_id, "id": decoded.id,
                        "codec": codec, "size": dims, "frames": 0,
                        "bytes": 0}  # fmt: skip
                streams.append(info)
                by_id[decoded.id] = info
            elif isinstance(decoded, md.StreamData | md.StreamDataSized):
                seen = by_id.get(decoded.base.id)
                if seen is not None:
                    seen["frames"] += 1
                    seen["bytes"] += len(decoded.data)
        cmsgs = _client_messages(ch)
        client[cname].update(cmsgs)
        out_channels.append({
            "channel": cname, "channel_id": ch.channel_id,
            "client_port": ch.client_port, "mini_header": ch.mini_header,
            "server_to_client_bytes": len(ch.to_client),
            "gap": ch.gap,
            "client_to_server_bytes": len(ch.to_server),
            "server_messages": n_server, "client_messages": sum(cmsgs.values()),
            "images": {t: {"count": c, "bytes": b, "pixels": p}
                       for t, (c, b, p) in own.items()},
        })  # fmt: skip
    linked = {(ch.channel_type, ch.channel_id) for ch in channels if not ch.refused}
    return {
        "channels_opened": [c["channel"] for c in out_channels],
        "channels_listed": [_name(key) for key in listed],
        # listed by the server, never linked by the client
        "channels_not_opened": [_name(key) for key in listed if key not in linked],
        # connections whose bytes stop at a hole (segments the capture dropped)
        "gaps": [f"{c['channel']}#{c['channel_id']}" for c in out_channels if c["gap"]],
        "channels": out_channels,
        "server_messages": {k: dict(sorted(v.items())) for k, v in server.items()},
        "client_messages": {k: dict(sorted(v.items())) for k, v in client.items()},
        "image_types": dict(image_types.most_common()),
        "image_compressed_bytes": dict(image_bytes.most_common()),
        "image_pixels": dict(image_pixels.most_common()),
        "image_subtypes": dict(subtypes.most_common()),
        "bitmap_formats": dict(bitmap_formats.most_common()),
        "stream_codecs": dict(stream_codecs),
        "stream_sizes": [s["size"] for s in streams],
        "stream_data_bytes": sum(s["bytes"] for s in streams),
        "stream_messages": dict(sorted(stream_messages.items())),
        "streams": streams,
        "parse_errors": parse_errors,
    }
