"""Fuzz targets: one function per decoder or parser, taking one byte string.

Each target feeds its input to spicepy and accepts a result or a SpiceError;
any other exception, a crash or a hang is a finding. Targets whose API takes
numbers beside the bytes (sizes, a channel type) read them from a small
little-endian prefix, so seeds are plain files (see ``seeds()``/make_corpus.py).

Used by run.py (atheris, long runs) and tests/test_fuzz_smoke.py (CI).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from spicepy.errors import SpiceError

Target = Callable[[bytes], None]

#: Small enough that one input never takes long, large enough for real images.
MAX_PIXELS = 1 << 20
PALETTE = list(range(0, 256 * 0x010101, 0x010101))
_LZ4 = struct.Struct("<HH")  # width, height
_ZLIB_GLZ = struct.Struct("<I")  # glz_size
_JPEG_ALPHA = struct.Struct("<IB")  # jpeg_size, top_down
_IMAGE = struct.Struct("<BHHI")  # image type index, width, height, size field
_WIRE = struct.Struct("<BHB")  # channel type, message type, from_server
_BITMAP = struct.Struct("<BBHHIB")  # format, flags, width, height, stride, palette n
_CURSOR = struct.Struct("<BHHHH")  # cursor type, width, height, hot_x, hot_y
IMAGE_TYPES = (1, 100, 101, 102, 105, 107, 108, 109)


def _quic(data: bytes) -> None:
    from spicepy.codecs import quic

    quic.decode(data, max_pixels=MAX_PIXELS)


def _lz(data: bytes) -> None:
    from spicepy.codecs import lz

    lz.decode(data, palette=PALETTE, max_pixels=MAX_PIXELS)


def _glz(data: bytes) -> None:
    from spicepy.codecs import glz

    d = glz.Dictionary()
    # twice through one dictionary: the second decode may refer to the first
    for _ in range(2):
        img = glz.decode(data, dictionary=d, palette=PALETTE, max_pixels=MAX_PIXELS)
        assert img.dtype == np.uint8


def _zlib_glz(data: bytes) -> None:
    from spicepy.codecs import glz, zlib_glz

    if len(data) < _ZLIB_GLZ.size:
        return
    (size,) = _ZLIB_GLZ.unpack_from(data)
    zlib_glz.decode(
        data[_ZLIB_GLZ.size :],
        glz_size=size,
        dictionary=glz.Dictionary(),
        palette=PALETTE,
        max_pixels=MAX_PIXELS,
    )


def _lz4(data: bytes) -> None:
    from spicepy.codecs import lz4

    if len(data) < _LZ4.size:
        return
    w, h = _LZ4.unpack_from(data)
    lz4.decode(data[_LZ4.size :], width=w, height=h, max_pixels=MAX_PIXELS)


def _jpeg(data: bytes) -> None:
    from spicepy.codecs import jpeg

    jpeg.decode(data, max_pixels=MAX_PIXELS)


def _jpeg_alpha(data: bytes) -> None:
    from spicepy.codecs import jpeg_alpha

    if len(data) < _JPEG_ALPHA.size:
        return
    size, top_down = _JPEG_ALPHA.unpack_from(data)
    jpeg_alpha.decode(
        data[_JPEG_ALPHA.size :],
        jpeg_size=size,
        top_down=bool(top_down & 1),
        max_pixels=MAX_PIXELS,
    )


def _decode_image(data: bytes) -> None:
    from spicepy.codecs import glz
    from spicepy.codecs.image import decode_image

    if len(data) < _IMAGE.size:
        return
    kind, w, h, field = _IMAGE.unpack_from(data)
    decode_image(
        IMAGE_TYPES[kind % len(IMAGE_TYPES)],
        data[_IMAGE.size :],
        width=w,
        height=h,
        palette=PALETTE,
        dictionary=glz.Dictionary(),
        jpeg_size=field,
        glz_size=field,
        top_down=bool(kind & 0x80),
        max_pixels=MAX_PIXELS,
    )


def _bitmap(data: bytes) -> None:
    """An uncompressed BITMAP: header fields, ``n`` palette entries (none: no
    palette), then the pixel rows."""
    from spicepy.canvas.bitmap import bitmap_to_pixels
    from spicepy.wire.types import BitmapData, Palette

    if len(data) < _BITMAP.size:
        return
    fmt, flags, w, h, stride, n = _BITMAP.unpack_from(data)
    n = min(n, (len(data) - _BITMAP.size) // 4)
    ents = struct.unpack_from(f"<{n}I", data, _BITMAP.size) if n else ()
    rest = data[_BITMAP.size + 4 * len(ents) :]
    palette = Palette(1, n, ents) if n else None
    bitmap = BitmapData(fmt, flags, w, h, stride, palette=palette, data=rest)
    bitmap_to_pixels(bitmap, palette)


def _cursor(data: bytes) -> None:
    from spicepy.canvas.cursor import decode_cursor

    if len(data) < _CURSOR.size:
        return
    decode_cursor(*_CURSOR.unpack_from(data), data[_CURSOR.size :])


def _wire(data: bytes) -> None:
    from spicepy.wire.messages import decode_message

    if len(data) < _WIRE.size:
        return
    channel, msg, from_server = _WIRE.unpack_from(data)
    decode_message(channel, msg, data[_WIRE.size :], from_server=bool(from_server & 1))


#: the server's link reply and link result per (channel index, full headers)
_LINK_REPLIES: dict[tuple[int, bool], tuple[bytes, bytes]] = {}


def _linked_channel(index: int, full_headers: bool) -> Any:
    """A new channel machine right after its link. The server side of the link
    (FakeServer: RSA decryption of the ticket, ~4 ms) runs once per channel and
    header kind; each input replays its recorded reply and result (the client
    side only encrypts, ~0.2 ms). A replay rather than a copy of one linked
    machine: it holds compiled objects that cannot be copied."""
    from spicepy.channels import CHANNEL_CLASSES
    from spicepy.testing.fake_server import FakeServer
    from spicepy.wire.enums import CommonCap

    cls = CHANNEL_CLASSES[sorted(CHANNEL_CLASSES)[index % len(CHANNEL_CLASSES)]]
    ch = cls(max_message_size=1 << 16)
    key = (index, full_headers)
    if key not in _LINK_REPLIES:
        caps = {CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE}
        if not full_headers:
            caps.add(CommonCap.MINI_HEADER)
        server = FakeServer(common_caps=frozenset(caps))
        reply = server.reply_to(ch.data_to_send())
        ch.receive_data(reply)
        _LINK_REPLIES[key] = (reply, server.result_for(ch.data_to_send()))
        ch = cls(max_message_size=1 << 16)
    for server_bytes in _LINK_REPLIES[key]:
        ch.data_to_send()
        ch.receive_data(server_bytes)
    while ch.next_event() is not None:
        pass
    ch.data_to_send()
    return ch


def _split(data: bytes, sixteenths: int) -> list[bytes]:
    """``data`` in two chunks cut at ``sixteenths``/16 of its length (a message
    split across reads), then b"" (EOF); never an empty chunk before EOF."""
    cut = len(data) * (sixteenths & 15) // 16
    return [c for c in (data[:cut], data[cut:]) if c] + [b""]


def _channel(data: bytes) -> None:
    """Bytes after a completed link into a channel machine; data[0] picks it:
    bits 0-2 the channel (sorted CHANNEL_CLASSES), bit 3 full 18-byte headers
    (the server did not offer MINI_HEADER), bits 4-7 where the input is cut."""
    from spicepy.channels import CHANNEL_CLASSES

    if not data:
        return
    ch = _linked_channel(data[0] % len(CHANNEL_CLASSES), bool(data[0] & 8))
    for chunk in _split(data[1:], data[0] >> 4):
        ch.receive_data(chunk)
        while ch.next_event() is not None:
            pass
        ch.data_to_send()


def _agent(data: bytes) -> None:
    """AGENT_DATA payloads into a started agent machine: data[0] bits 0-3 pick
    the chunk size (64 << n bytes, capped at 2048 as VD_AGENT_MAX_DATA_SIZE),
    bit 4 starts a file transfer first (so FILE_XFER_STATUS has one to match)."""
    from spicepy.channels.agent import AgentMachine
    from spicepy.wire.enums import AgentCap

    if not data:
        return
    machine = AgentMachine(max_message_size=1 << 16)
    machine.start(tokens=10)
    size = min(64 << (data[0] & 15), 2048)
    xfer = bool(data[0] & 0x10)
    for pos in range(1, len(data), size):
        machine.receive_chunk(data[pos : pos + size])
        while machine.next_event() is not None:
            pass
        if xfer and machine.agent_caps is not None:
            xfer = False
            if not machine.has_cap(AgentCap.FILE_XFER_DISABLED):
                machine.send_file("f", b"x")
    machine.take_chunks()


def _usbredir(data: bytes) -> None:
    """A usbredir byte stream into one side of a connection: data[0] bit 0 the
    host side (else the guest side), bit 1 a device connected first (host),
    bits 4-7 where the input is cut; then EOF."""
    from spicepy.channels.usbredir import UsbredirConnection

    if not data:
        return
    conn = UsbredirConnection(host=bool(data[0] & 1), max_packet_size=1 << 16)
    if data[0] & 3 == 3:
        conn.connect_device(_usb_keyboard())
    conn.data_to_send()
    for chunk in _split(data[1:], data[0] >> 4):
        conn.receive_data(chunk)
        while conn.next_event() is not None:
            pass
        conn.data_to_send()


def _usb_keyboard() -> Any:
    from spicepy.channels.usbredir import UsbDeviceInfo, UsbEndpoint, UsbInterface
    from spicepy.wire.usbredir import UsbTransferType

    ep = UsbEndpoint(0x81, UsbTransferType.INTERRUPT, 8, 10)
    return UsbDeviceInfo(0x1234, 0x5678, (UsbInterface(0, 3, 1, 1, (ep,)),))


def _pcap(data: bytes) -> None:
    from spicepy.capture.streams import iter_data_messages, read_channels

    for ch in read_channels(data):
        for _ in iter_data_messages(ch.server_data, ch.mini_header, strict=False):
            pass


TARGETS: dict[str, Target] = {
    "quic": _quic,
    "lz": _lz,
    "glz": _glz,
    "zlib_glz": _zlib_glz,
    "lz4": _lz4,
    "jpeg": _jpeg,
    "jpeg_alpha": _jpeg_alpha,
    "decode_image": _decode_image,
    "bitmap": _bitmap,
    "cursor": _cursor,
    "wire": _wire,
    "channel": _channel,
    "agent": _agent,
    "usbredir": _usbredir,
    "pcap": _pcap,
}


_CODEC_TARGETS = ("quic", "lz", "glz", "zlib_glz", "lz4", "jpeg", "jpeg_alpha")
_SCHEMA = ("spicepy.wire.schema", "spicepy.wire.twins", "spicepy.wire.buffer")
#: The spicepy packages/modules whose Python code each target runs per input:
#: run.py instruments only these for coverage (the rest runs at full speed).
INSTRUMENT: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((*_CODEC_TARGETS, "decode_image"), ("spicepy.codecs",)),
    "bitmap": ("spicepy.canvas.bitmap",),
    "cursor": ("spicepy.canvas.cursor",),
    "wire": ("spicepy.wire",),
    "channel": ("spicepy.channels", "spicepy.wire"),
    "agent": ("spicepy.channels.agent", "spicepy.wire.agent", *_SCHEMA),
    "usbredir": ("spicepy.channels.usbredir", "spicepy.wire.usbredir", *_SCHEMA),
    "pcap": ("spicepy.capture", "spicepy.wire.headers", "spicepy.channels.base"),
}
#: What run.py imports (inside its instrumentation block) before fuzzing.
IMPORTS = (
    *(f"spicepy.codecs.{c}" for c in (*_CODEC_TARGETS, "image")),
    "spicepy.canvas.bitmap",
    "spicepy.canvas.cursor",
    "spicepy.wire.messages",
    "spicepy.channels",
    "spicepy.testing.fake_server",
    "spicepy.capture.streams",
)
#: libFuzzer -max_len per target (default 64 KiB): the stream targets spend
#: their time per input byte, and a few KiB hold dozens of messages.
MAX_LEN: dict[str, int] = {"channel": 8192, "pcap": 8192, "usbredir": 8192}


def run_one(name: str, data: bytes) -> None:
    """Run one input; a SpiceError is an accepted outcome."""
    try:
        TARGETS[name](data)
    except SpiceError:
        pass


# --------------------------------------------------------------------- seeds


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(12)
    y, x = np.mgrid[0:24, 0:40]
    smooth = np.stack([x * 6, y * 10, (x + y) * 4, x * y], axis=-1).astype(np.uint8)
    noise = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    flat = np.zeros((5, 70, 4), dtype=np.uint8)
    flat[:, 30:] = 200
    return [smooth, noise, flat]


def synthetic_seeds(name: str) -> Iterator[bytes]:
    """Valid inputs for ``name`` made with spicepy's own encoders (no files)."""
    from spicepy.codecs import glz, jpeg, jpeg_alpha, lz, lz4, quic, zlib_glz

    images = _images()
    if name == "quic":
        for img in images:
            for t in ("RGB32", "RGBA", "GRAY", "RGB16"):
                yield quic.encode(img, image_type=t)
    elif name == "lz":
        for img in images:
            yield lz.encode(img, image_type="RGB32")
            yield lz.encode(img, image_type="RGBA", top_down=False)
            yield lz.encode(img[:, :, 0] % 2, image_type="PLT1_BE")
            yield lz.encode(img[:, :, 1], image_type="PLT8")
    elif name in ("glz", "zlib_glz"):
        enc = glz.Encoder()
        for img in images:
            for t in ("RGB32", "RGBA"):
                if name == "glz":
                    yield enc.encode(img, t, True)
                else:
                    data, size = zlib_glz.encode(img, encoder=enc, image_type=t)
                    yield _ZLIB_GLZ.pack(size) + data
    elif name == "lz4":
        for img in images:
            h, w = img.shape[:2]
            for fmt in (8, 9):
                yield _LZ4.pack(w, h) + lz4.encode(
                    img, bitmap_format=fmt, rows_per_block=2
                )
    elif name == "jpeg":
        for img in images:
            yield jpeg.encode(img, quality=50)
    elif name == "jpeg_alpha":
        for img in images:
            data, size = jpeg_alpha.encode(img, quality=50)
            yield _JPEG_ALPHA.pack(size, 1) + data
    elif name == "decode_image":
        img = images[0]
        h, w = img.shape[:2]
        yield _IMAGE.pack(0, w, h, 0) + quic.encode(img)
        yield _IMAGE.pack(2, w, h, 0) + lz.encode(img)
        yield _IMAGE.pack(3, w, h, 0) + glz.Encoder().encode(img, "RGB32", True)
        yield _IMAGE.pack(4, w, h, 0) + jpeg.encode(img)
        data, size = zlib_glz.encode(img, encoder=glz.Encoder())
        yield _IMAGE.pack(5, w, h, size) + data
        data, size = jpeg_alpha.encode(img)
        yield _IMAGE.pack(6 | 0x80, w, h, size) + data
        yield _IMAGE.pack(7, w, h, 0) + lz4.encode(img)
    elif name == "bitmap":
        yield from _bitmap_seeds(images)
    elif name == "cursor":
        yield from _cursor_seeds(images)
    elif name == "wire":
        yield from _wire_seeds()
    elif name == "channel":
        yield from _channel_seeds()
    elif name == "agent":
        yield from _agent_seeds()
    elif name == "usbredir":
        yield from _usbredir_seeds()
    elif name == "pcap":
        yield b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\xff\xff\0\0\1\0\0\0"


def _bitmap_seeds(images: list[np.ndarray]) -> Iterator[bytes]:
    from spicepy.wire.enums import BitmapFlags, BitmapFmt

    top = BitmapFlags.TOP_DOWN
    for img in images:
        h, w = img.shape[:2]
        rgba = img.tobytes()
        yield _BITMAP.pack(BitmapFmt.FMT_32BIT, top, w, h, w * 4, 0) + rgba
        yield _BITMAP.pack(BitmapFmt.FMT_RGBA, 0, w, h, w * 4, 0) + rgba
        yield (
            _BITMAP.pack(BitmapFmt.FMT_24BIT, top, w, h, w * 3, 0)
            + img[:, :, :3].tobytes()
        )
        yield _BITMAP.pack(BitmapFmt.FMT_16BIT, 0, w, h, w * 2, 0) + rgba[: w * h * 2]
        yield (
            _BITMAP.pack(BitmapFmt.FMT_8BIT_A, top, w, h, w, 0) + img[:, :, 3].tobytes()
        )
        pal = struct.pack("<16I", *PALETTE[::16])
        for fmt, bits in ((BitmapFmt.FMT_8BIT, 8), (BitmapFmt.FMT_4BIT_BE, 4)):
            stride = (w * bits + 7) // 8
            rows = img[:, :stride, 0].tobytes()
            yield _BITMAP.pack(fmt, top, w, h, stride, 16) + pal + rows
        stride = (w + 7) // 8
        rows = img[:, :stride, 1].tobytes()
        yield _BITMAP.pack(BitmapFmt.FMT_1BIT_LE, 0, w, h, stride, 2) + pal[:8] + rows


def _cursor_seeds(images: list[np.ndarray]) -> Iterator[bytes]:
    from spicepy.canvas.cursor import cursor_data_size

    raw = b"".join(img.tobytes() for img in images)
    for kind in range(7):  # every CursorType
        for w, h in ((32, 32), (17, 5)):
            head = _CURSOR.pack(kind, w, h, w // 2, h // 3)
            yield head + raw[: cursor_data_size(kind, w, h)]


def _wire_seeds() -> Iterator[bytes]:
    """Every known message type with an empty and a short body."""
    from spicepy.wire import all_messages

    for cls in all_messages():
        channel = getattr(cls, "CHANNEL", 0) or 0
        for body in (b"", bytes(range(24))):
            yield _WIRE.pack(int(channel) & 0xFF, cls.MSG_TYPE, int(cls.FROM_SERVER))
            yield _WIRE.pack(int(channel) & 0xFF, cls.MSG_TYPE, 1) + body


def _channel_seeds() -> Iterator[bytes]:
    from spicepy.channels import CHANNEL_CLASSES
    from spicepy.wire import all_messages
    from spicepy.wire.enums import CommonMsg

    # not MIGRATE, MIGRATE_DATA, DISCONNECTING: they end what a seed can show
    skip = {CommonMsg.MIGRATE, CommonMsg.MIGRATE_DATA, CommonMsg.DISCONNECTING}
    known = sorted({c.MSG_TYPE for c in all_messages() if c.FROM_SERVER} - skip)
    mini = b"".join(struct.pack("<HI", t, 16) + bytes(16) for t in known[:12])
    # full header: serial u64, type u16, size u32, sub_list u32
    full = b"".join(
        struct.pack("<QHII", i + 1, t, 16, 0) + bytes(16)
        for i, t in enumerate(known[:12])
    )
    for i in range(len(CHANNEL_CLASSES)):
        yield bytes([i | 0x70]) + mini
        yield bytes([i | 8 | 0x50]) + full


def _agent_seeds() -> Iterator[bytes]:
    from spicepy.wire import agent as a
    from spicepy.wire.enums import AgentCap

    caps = a.caps_to_words(frozenset(AgentCap) - {AgentCap.FILE_XFER_DISABLED})
    stream = b"".join(
        a.encode_agent_message(m, selection_cap=True, grab_serial_cap=True)
        for m in (
            a.AnnounceCapabilities(0, caps),
            a.ClipboardGrab((1, 2), selection=1, serial=1),
            a.ClipboardRequest(1),
            a.Clipboard(1, b"text", selection=1),
            a.ClipboardRelease(selection=1),
            a.Reply(6, 0),
            a.FileXferStatusMessage(1, 0),
            a.FileXferStatusMessage(1, 2, b"detail"),
            a.MaxClipboard(1 << 20),
            a.AudioVolumeSync(1, 0, 2, (100, 200)),
            a.GraphicsDeviceInfo(1, (a.DeviceDisplayInfo(0, 0, 1, 3, b"pci"),)),
        )
    )
    yield b"\x13" + stream
    yield b"\x00" + stream


def _usbredir_seeds() -> Iterator[bytes]:
    from pathlib import Path

    from spicepy.channels.usbredir import UsbredirConnection

    guest = UsbredirConnection(host=False)
    host = UsbredirConnection(host=True)
    hello = host.data_to_send()
    host.receive_data(guest.data_to_send())
    host.connect_device(_usb_keyboard())
    to_guest = hello + host.data_to_send()
    guest.receive_data(to_guest)
    yield b"\xa0" + to_guest  # what a guest side reads
    yield b"\x51" + UsbredirConnection(host=False).data_to_send()  # a host reads
    data = Path(__file__).resolve().parents[1] / "data"
    for name in ("usbredir_qemu_guest.bin", "usbredir_qemu_storage.bin"):
        if (data / name).exists():  # QEMU's guest side, recorded
            yield b"\x33" + (data / name).read_bytes()


def seeds(name: str) -> list[bytes]:
    """The seeds the smoke test runs: valid inputs and some cut or flipped ones."""
    out: list[bytes] = []
    for data in synthetic_seeds(name):
        out.append(data)
        out.append(data[: len(data) // 2])
        flipped = bytearray(data)
        for pos in range(len(_IMAGE.pack(0, 0, 0, 0)), len(flipped), 97):
            flipped[pos] ^= 0x55
        out.append(bytes(flipped))
    return out
