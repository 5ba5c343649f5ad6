"""A hostile SPICE server on 127.0.0.1, for fault-injection tests.

Theory of operation: ``HostileServer(scenario)`` listens on a free port and
serves every connection on a thread of its own with blocking sockets, so the
client may run in this process (asyncio) or in another one (the CLI).  Each
connection is linked by ``fake_server.FakeServer`` (any password), unless the
scenario's ``before_link`` misbehaves first; the main channel then sends
MAIN_INIT and a CHANNELS_LIST of main, ``displays`` display channels and
(``cursor``) a cursor channel, and each channel plays the scenario's feed for
its type: an iterator of byte strings sent in order.  When a feed ends the
connection stays open and silent (``end="stall"``) or is closed (``"close"``).

``SCENARIOS`` names every scenario (``HostileServer("draw-flood")``); each is
one way a malicious server tries to freeze the client or make it hold memory.
"""

from __future__ import annotations

import functools
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from spicepy.testing.fake_server import FakeServer
from spicepy.wire import msg_display as md
from spicepy.wire.agent import Clipboard, chunk_agent_message, encode_agent_message
from spicepy.wire.enums import (
    BitmapFlags,
    BitmapFmt,
    ChannelType,
    CursorFlags,
    CursorType,
    ImageType,
    SurfaceFmt,
    VideoCodecType,
)
from spicepy.wire.headers import pack_header
from spicepy.wire.link import LINK_HEADER_SIZE, LinkHeader
from spicepy.wire.msg_common import MainAgentData, MainChannelsList, MainInit
from spicepy.wire.msg_other import CursorSet
from spicepy.wire.types import (
    CLIP_NONE,
    QMASK_NONE,
    BinaryData,
    BitmapData,
    ChannelId,
    Cursor,
    CursorHeader,
    DisplayBase,
    Image,
    ImageDescriptor,
    Point16,
    Rect,
    StreamDataHeader,
)

__all__ = [
    "SCENARIOS",
    "HostileServer",
    "Scenario",
    "bitmap_copy",
    "noise_quic",
    "primary",
]

MAIN, DISPLAY, CURSOR = ChannelType.MAIN, ChannelType.DISPLAY, ChannelType.CURSOR
#: seconds a stalled connection waits for the client to leave (tests end sooner)
STALL_LIMIT = 120.0

#: feed(server, channel id) -> the bytes to send, in order
Feed = Callable[[FakeServer, int], Iterator[bytes]]


@dataclass(frozen=True)
class Scenario:
    """What a hostile server does.

    Attributes:
        doc: one line: the attack.
        displays / cursor / agent: channels listed; whether MAIN_INIT says an
            agent is connected.
        before_link: misbehaves on the raw socket instead of linking (then the
            connection ends).
        main / display / cursor_feed: what each channel sends after linking
            (main: after MAIN_INIT and CHANNELS_LIST).
        end: "stall" keeps a channel whose feed ended open and silent, "close"
            closes it (channels without a feed always stall).
        link_delay: seconds before each link reply (a slow server whose
            connect still succeeds, to test deadlines that span connect).
    """

    doc: str
    displays: int = 1
    cursor: bool = False
    agent: bool = False
    before_link: Callable[[socket.socket], None] | None = None
    main: Feed | None = None
    display: Feed | None = None
    cursor_feed: Feed | None = None
    end: Literal["stall", "close"] = "stall"
    link_delay: float = 0.0


# -- message builders ----------------------------------------------------------------


def primary(server: FakeServer, width: int = 1024, height: int = 768) -> bytes:
    """SURFACE_CREATE of the primary surface (32-bit xRGB)."""
    return server.pack(md.SurfaceCreate(0, width, height, SurfaceFmt.FMT_32_xRGB, 1))


def bitmap_copy(
    server: FakeServer,
    image_id: int,
    width: int,
    height: int,
    *,
    flags: int = 0,
    area: tuple[int, int] = (1024, 768),
) -> bytes:
    """DRAW_COPY of a raw 32-bit BITMAP of ``width`` x ``height`` (4 bytes a
    pixel on the wire) onto the primary's top-left ``area``."""
    w, h = min(area[0], width), min(area[1], height)
    image = Image(
        ImageDescriptor(image_id, ImageType.BITMAP, flags, width, height),
        bitmap=BitmapData(
            BitmapFmt.FMT_32BIT,
            BitmapFlags.TOP_DOWN,
            width,
            height,
            width * 4,
            data=bytes(width * height * 4),
        ),
    )
    return server.pack(_copy(image, w, h))


def cached_copy(server: FakeServer, image_id: int, width: int, height: int) -> bytes:
    """DRAW_COPY of a FROM_CACHE image (no pixels on the wire)."""
    image = Image(ImageDescriptor(image_id, ImageType.FROM_CACHE, 0, width, height))
    return server.pack(_copy(image, width, height))


def _copy(image: Image, width: int, height: int) -> md.DrawCopy:
    box = Rect(0, 0, height, width)
    return md.DrawCopy(
        DisplayBase(0, box, CLIP_NONE), md.Copy(image, box, 8, 0, QMASK_NONE)
    )


# -- scenarios -----------------------------------------------------------------------

#: a DRAW_COPY just under the 64 MiB message limit: 4000 x 3900 x 4 = 62.4 MB
BIG_W, BIG_H = 4000, 3900
FLOOD = 20
#: clipboard messages of 4 MiB (600 MiB), cursor shapes of 4 MiB (600 MiB raw,
#: as much again decoded): without budgets the client would keep them all
AGENT_FLOOD = 150
CURSOR_FLOOD = 150
#: streams x 64 queued frames of 1 MiB (1 GiB): what the per-stream frame count
#: (64) alone would let a client keep
VIDEO_STREAMS = 16


def _draw_flood(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server)
    big = bitmap_copy(server, 1, BIG_W, BIG_H)
    for _ in range(FLOOD):
        yield big
    yield server.pack(md.DisplayMark())


def _held_flood(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server)
    yield server.pack(md.DisplayMark())
    if channel_id == 0:
        return  # never delivers image 0x77 that display 1 asks for
    yield cached_copy(server, 0x77, 64, 64)  # held: another channel may send it
    big = bitmap_copy(server, 1, BIG_W, BIG_H)
    for _ in range(FLOOD):
        yield big  # held behind it, in order


def _agent_flood(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    data = bytes(4 * 1024 * 1024)
    for n in range(AGENT_FLOOD):  # each of its own type
        encoded = encode_agent_message(Clipboard(1000 + n, data))
        for chunk in chunk_agent_message(encoded, 1 << 20):
            yield server.pack(MainAgentData(chunk))


def _cursor_flood(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    side = 1024  # ALPHA: 4 MiB a shape
    data = bytes(side * side * 4)
    for unique in range(1, CURSOR_FLOOD + 1):  # each CACHE_ME
        header = CursorHeader(unique, CursorType.ALPHA, side, side, 0, 0)
        cursor = Cursor(CursorFlags.CACHE_ME, header=header, data=data)
        yield server.pack(CursorSet(Point16(10, 10), 1, cursor))


def _video_flood(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server)
    box = Rect(0, 0, 64, 64)
    frame = bytes(1 << 20)  # never shown, so never decoded: any bytes will do
    for sid in range(VIDEO_STREAMS):
        yield server.pack(
            md.StreamCreate(
                0, sid, 0, VideoCodecType.MJPEG, 0, 64, 64, 64, 64, box, CLIP_NONE
            )
        )
    for n in range(64):  # spice-gtk's queue: each frame 1000 s ahead, waits
        for sid in range(VIDEO_STREAMS):
            header = StreamDataHeader(sid, 1_000_000 + n)
            yield server.pack(md.StreamData(header, len(frame), frame))
    yield server.pack(md.DisplayMark())


def _oversized_surfaces(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    for _ in range(40):
        yield server.pack(md.SurfaceCreate(0, 65535, 65535, SurfaceFmt.FMT_32_xRGB, 1))
        yield server.pack(md.DisplayMark())


def _surface_budget(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    for sid in range(40):  # 40 x 64 MiB surfaces (8192 x 2048)
        yield server.pack(md.SurfaceCreate(sid, 8192, 2048, SurfaceFmt.FMT_32_xRGB, 0))


def _lying_length(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server)
    # a header announcing 60 MB, then a few bytes of body, then nothing
    yield pack_header(md.DisplayMark.MSG_TYPE, 60_000_000, mini=server.mini) + b"xx"


def _slowloris(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server)
    yield pack_header(md.DisplayMark.MSG_TYPE, 1_000_000, mini=server.mini)
    while True:  # one byte every 50 ms: a message that never ends
        time.sleep(0.05)
        yield b"\0"


def _unknown_flood(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    junk = b"".join(server.pack_raw(0xBEEF, bytes(200)) for _ in range(1000))
    for _ in range(200):  # 200,000 messages of an unknown type
        yield junk


def _close_mid_message(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server)
    yield pack_header(md.DisplayMark.MSG_TYPE, 1000, mini=server.mini) + bytes(10)


@functools.cache
def noise_quic(side: int) -> bytes:
    """A ``side`` x ``side`` QUIC RGB32 stream of noise (made once per side: a
    test may then swap in the slow pure-Python twin for the client alone)."""
    import numpy as np

    from spicepy.codecs import quic

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (side, side, 4), np.uint8)
    return bytes(quic.encode(pixels, image_type="RGB32"))


def _slow_image(side: int) -> Feed:
    """A ``side`` x ``side`` QUIC image of noise: the pure-Python QUIC twin
    decodes ~0.1 Mpix/s (seconds), the Cython one ~100x faster."""

    def feed(server: FakeServer, channel_id: int) -> Iterator[bytes]:
        stream = noise_quic(side)
        image = Image(
            ImageDescriptor(9, ImageType.QUIC, 0, side, side),
            binary=BinaryData(len(stream), stream),
        )
        yield primary(server, side, side)
        yield server.pack(_copy(image, side, side))
        yield server.pack(md.DisplayMark())

    return feed


def _close_at_once(sock: socket.socket) -> None:
    sock.close()


def _reset_at_once(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST


def _garbage_reply(sock: socket.socket) -> None:
    sock.recv(4096)
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + bytes(64))
    _stall(sock)


def _huge_reply(sock: socket.socket) -> None:
    sock.recv(4096)
    # a well-formed link header announcing a 2 GiB SpiceLinkReply
    sock.sendall(b"REDQ" + struct.pack("<III", 2, 2, 1 << 31))
    _stall(sock)


def _stall_before_link(sock: socket.socket) -> None:
    _stall(sock)


def _stall(sock: socket.socket) -> None:
    """Keep the connection open and silent until the client leaves."""
    sock.settimeout(STALL_LIMIT)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def _stall_after_link(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    return iter(())


SCENARIOS: dict[str, Scenario] = {
    "draw-flood": Scenario(
        f"{FLOOD} DRAW_COPY messages of a {BIG_W}x{BIG_H} bitmap (62.4 MB each)",
        display=_draw_flood,
    ),
    "held-flood": Scenario(
        f"display 1 asks for an image display 0 never sends, then {FLOOD} "
        "62.4 MB draws held behind it",
        displays=2,
        display=_held_flood,
    ),
    "agent-flood": Scenario(
        f"{AGENT_FLOOD} clipboard messages of 4 MiB, each of its own type",
        agent=True,
        main=_agent_flood,
    ),
    "cursor-flood": Scenario(
        f"{CURSOR_FLOOD} cursor SETs of a 1024x1024 ALPHA shape (4 MiB), CACHE_ME",
        cursor=True,
        cursor_feed=_cursor_flood,
    ),
    "video-flood": Scenario(
        f"{VIDEO_STREAMS} MJPEG streams x 64 frames of 1 MiB, all 1000 s ahead",
        display=_video_flood,
    ),
    "oversized-surfaces": Scenario(
        "40 primary SURFACE_CREATEs of 65535x65535, each with a MARK",
        display=_oversized_surfaces,
    ),
    "surface-budget": Scenario(
        "40 surfaces of 8192x2048 (64 MiB each, 2.5 GiB)", display=_surface_budget
    ),
    "lying-length": Scenario(
        "a message header announcing 60 MB, then 2 bytes and silence",
        display=_lying_length,
    ),
    "slowloris": Scenario("a 1 MB message trickled at 20 bytes/s", display=_slowloris),
    "unknown-flood": Scenario(
        "200,000 messages of an unknown type", display=_unknown_flood
    ),
    "close-mid-message": Scenario(
        "the display channel closes inside a message",
        display=_close_mid_message,
        end="close",
    ),
    "stall-after-link": Scenario(
        "links the display channel, then sends nothing", display=_stall_after_link
    ),
    "close-on-accept": Scenario(
        "closes every connection at once", before_link=_close_at_once
    ),
    "reset-on-accept": Scenario(
        "resets every connection at once (RST)", before_link=_reset_at_once
    ),
    "garbage-link-reply": Scenario(
        "answers the link with an HTTP error", before_link=_garbage_reply
    ),
    "huge-link-reply": Scenario(
        "announces a 2 GiB link reply", before_link=_huge_reply
    ),
    "stall-before-link": Scenario(
        "accepts, then never answers the link", before_link=_stall_before_link
    ),
    "slow-image": Scenario(
        "a 2048x2048 QUIC image (above the default inline-decode size; a "
        "pure-Python decode takes a minute), then a MARK",
        display=_slow_image(2048),
    ),
    "slow-image-small": Scenario(
        "a 1024x1024 QUIC image (a pure-Python decode takes seconds), then a MARK",
        display=_slow_image(1024),
    ),
}


class HostileServer:
    """Serve ``scenario`` (a ``Scenario`` or a ``SCENARIOS`` name) on 127.0.0.1.

    A context manager; ``uri`` is where to connect, ``errors`` what went wrong on
    the server's side (a client that hangs up mid-feed is not an error).
    """

    def __init__(self, scenario: Scenario | str) -> None:
        self.scenario = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self.errors: list[BaseException] = []
        #: monotonic times: the first connection accepted, and each connection's
        #: end (the client hung up, or the scenario closed it)
        self.first_accept: float | None = None
        self.ended: list[float] = []
        #: bytes sent per channel type
        self.sent: dict[int, int] = {}

    @property
    def uri(self) -> str:
        return f"spice://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._socks.append(sock)
                if self.first_accept is None:
                    self.first_accept = time.monotonic()
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self.scenario.before_link is not None:
                self.scenario.before_link(sock)
                return
            self._link_and_feed(sock)
        except (ConnectionError, BrokenPipeError, TimeoutError):
            pass  # the client left: what hostile tests expect
        except OSError as exc:
            if not self._closed:
                self.errors.append(exc)
        except Exception as exc:  # a bug in a scenario: the test reports it
            self.errors.append(exc)
        finally:
            sock.close()
            self.ended.append(time.monotonic())

    def client_seconds(self) -> float:
        """From the first connection to the last one's end: how long the client
        stayed, without its process start-up and exit."""
        assert self.first_accept is not None and self.ended
        return max(self.ended) - self.first_accept

    def _link_and_feed(self, sock: socket.socket) -> None:
        s = self.scenario
        server = FakeServer()
        head = _read(sock, LINK_HEADER_SIZE)
        mess = _read(sock, LinkHeader.parse(head).size)
        time.sleep(s.link_delay)
        sock.sendall(server.reply_to(head + mess))
        auth = _read(sock, 4 + 128)
        server.password = ""
        server.result_for(auth)
        sock.sendall(struct.pack("<I", 0))  # any password is fine
        assert server.link_mess is not None
        ctype, cid = server.link_mess.channel_type, server.link_mess.channel_id
        feed: Feed | None = None
        if ctype == MAIN:
            listed = [ChannelId(MAIN, 0)]
            listed += [ChannelId(DISPLAY, n) for n in range(s.displays)]
            if s.cursor:
                listed.append(ChannelId(CURSOR, 0))
            init = MainInit(1, s.displays, 3, 2, int(s.agent), 10, 0, 0)
            sock.sendall(
                server.pack(init)
                + server.pack(MainChannelsList(len(listed), tuple(listed)))
            )
            feed = s.main
        elif ctype == DISPLAY:
            feed = s.display
        elif ctype == CURSOR:
            feed = s.cursor_feed
        if feed is not None:
            for chunk in feed(server, cid):
                if self._closed:
                    return
                sock.sendall(chunk)
                self.sent[ctype] = self.sent.get(ctype, 0) + len(chunk)
        if feed is None or s.end == "stall":
            _stall(sock)


def _read(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("client closed")
        out += chunk
    return bytes(out)
