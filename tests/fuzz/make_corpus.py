"""Build seed corpora for every fuzz target (one folder per target).

    python tests/fuzz/make_corpus.py OUT [--shared ../shared]

Seeds: inputs made with spicepy's own encoders (targets.synthetic_seeds), the
codec payloads of the captures in SHARED/captures (at most 16 KiB each, in the
targets' input layout), the vectors in SHARED/vectors that are small enough,
one message body per (channel, type) seen in the captures, the first 64 KiB of
each channel's server bytes after the link, the main channels' agent streams,
and the first 64 KiB of each pcap (the usbredir seeds, QEMU's recorded guest
streams in tests/data, come with targets.synthetic_seeds).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fuzz import targets as T  # noqa: E402

MAX_SEED = 16 << 10


def _write(out: Path, name: str, data: bytes) -> None:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def _capture_seeds(out: Path, captures: Path) -> None:
    from spicepy.capture.images import extract_images
    from spicepy.capture.streams import iter_data_messages, read_channels
    from spicepy.channels import CHANNEL_CLASSES
    from spicepy.wire.enums import ChannelType, MainMsg

    kinds = {t: i for i, t in enumerate(T.IMAGE_TYPES)}
    types = sorted(CHANNEL_CLASSES)
    for pcap in sorted(captures.glob("*.pcap")):
        raw = pcap.read_bytes()
        _write(out, "pcap", raw[: 64 << 10])
        seen: set[tuple[int, int]] = set()
        for ch in read_channels(pcap):
            data = ch.server_data
            if ch.channel_type in types and data:
                # targets._channel's selector: bits 0-2 channel, bit 3 full headers
                sel = types.index(ch.channel_type) | (0 if ch.mini_header else 8)
                _write(out, "channel", bytes([sel]) + data[: 64 << 10])
            agent = bytearray()
            for msg in iter_data_messages(data, ch.mini_header, strict=False):
                if (
                    ch.channel_type == ChannelType.MAIN
                    and msg.type == MainMsg.AGENT_DATA
                ):
                    agent += msg.body
                key = (ch.channel_type, msg.type)
                if key in seen or len(msg.body) > MAX_SEED:
                    continue
                seen.add(key)
                head = T._WIRE.pack(ch.channel_type, msg.type, 1)
                _write(out, "wire", head + bytes(msg.body))
            if agent:  # the guest agent's stream, in 512-byte chunks
                _write(out, "agent", b"\x13" + bytes(agent[:MAX_SEED]))
        for p in extract_images(pcap):
            stream = p.image.payload
            if stream is None or len(stream) > MAX_SEED or p.type not in kinds:
                continue
            ja, zg = p.image.jpeg_alpha, p.image.zlib_glz
            field = ja.jpeg_size if ja else zg.glz_data_size if zg else 0
            _write(
                out,
                "decode_image",
                T._IMAGE.pack(kinds[p.type], p.width, p.height, field) + bytes(stream),
            )
            codec = {1: "quic", 100: "lz", 101: "lz", 102: "glz", 105: "jpeg"}
            if p.type in codec:
                _write(out, codec[p.type], bytes(stream))
            elif p.type == 107 and zg is not None:
                _write(out, "zlib_glz", T._ZLIB_GLZ.pack(field) + bytes(stream))
            elif p.type == 108:
                _write(out, "jpeg_alpha", T._JPEG_ALPHA.pack(field, 1) + bytes(stream))
            elif p.type == 109:
                _write(out, "lz4", T._LZ4.pack(p.width, p.height) + bytes(stream))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared")
    args = ap.parse_args()
    for name in T.TARGETS:
        for data in T.synthetic_seeds(name):
            _write(args.out, name, data)
    vectors = args.shared / "vectors"
    for vec in sorted(vectors.glob("*.bin")) if vectors.is_dir() else []:
        if vec.stat().st_size <= MAX_SEED:
            for name in ("quic", "lz", "glz"):
                if f".{name}" in vec.name:
                    _write(args.out, name, vec.read_bytes())
    captures = args.shared / "captures"
    if captures.is_dir():
        _capture_seeds(args.out, captures)
    for folder in sorted(args.out.iterdir()):
        print(f"{folder.name}: {sum(1 for _ in folder.iterdir())} seeds")


if __name__ == "__main__":
    main()
