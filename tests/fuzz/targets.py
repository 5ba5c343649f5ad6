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


def _wire(data: bytes) -> None:
    from spicepy.wire.messages import decode_message

    if len(data) < _WIRE.size:
        return
    channel, msg, from_server = _WIRE.unpack_from(data)
    decode_message(channel, msg, data[_WIRE.size :], from_server=bool(from_server & 1))


def _channel(data: bytes) -> None:
    """Bytes after a completed link into the channel machine of data[0]."""
    from spicepy.channels import CHANNEL_CLASSES
    from spicepy.testing.fake_server import FakeServer, link_pair

    if not data:
        return
    types = sorted(CHANNEL_CLASSES)
    ch = CHANNEL_CLASSES[types[data[0] % len(types)]](max_message_size=1 << 16)
    link_pair(ch, FakeServer())
    while ch.next_event() is not None:
        pass
    ch.data_to_send()
    for chunk in (data[1:], b""):  # then EOF
        ch.receive_data(chunk)
        while ch.next_event() is not None:
            pass
        ch.data_to_send()


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
    "wire": _wire,
    "channel": _channel,
    "pcap": _pcap,
}


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
    elif name == "wire":
        yield from _wire_seeds()
    elif name == "channel":
        yield from _channel_seeds()
    elif name == "pcap":
        yield b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\xff\xff\0\0\1\0\0\0"


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

    types = sorted(CHANNEL_CLASSES)
    known = sorted({c.MSG_TYPE for c in all_messages() if c.FROM_SERVER})
    for i in range(len(types)):
        yield bytes([i]) + b"".join(
            struct.pack("<HI", t, 8) + bytes(8) for t in known[:12]
        )


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
