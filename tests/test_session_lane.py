"""The display lane (``session/_lane.pyx``): lane on == lane off, in effect.

With a lane attached, the display machine's compiled reader applies solid
fills, cached/surface copies and COPY_BITS in C; everything observable must be
what the general path (``MessageReceived`` -> core -> driver -> canvas) gives:
pixels of every surface, ``pixels_drawn``, ``counts``, ``image_types``, the
change list, the machine's counts and the bytes it queued (ACKs, PONGs), and
the order of a channel's messages (held ones, events read by someone).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from _canvas_build import NO_MASK, Bitmap, Image, Rect, base, solid
from _channel_helpers import events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wire_layout import LANE_IMAGE_TYPES, LANE_STREAM_TYPES, draws, shape_of

from spicepy.capture import replay as replay_mod
from spicepy.channels.base import Channel
from spicepy.channels.display import DisplayChannel
from spicepy.channels.events import ChannelClosed, MessageReceived, PingAnswered
from spicepy.errors import SpiceError, WireError
from spicepy.session import core as core_mod
from spicepy.session.core import DisplayDriver, SessionCore
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import (
    BitmapFmt,
    BrushType,
    ChannelType,
    ClipType,
    DisplayMsg,
    ImageFlags,
    ImageType,
    RopDescriptor,
    SurfaceFmt,
)
from spicepy.wire.layout import layout
from spicepy.wire.msg_common import Ping, SetAck
from spicepy.wire.schema import decode_struct, encode_struct

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)

DISPLAY = int(ChannelType.DISPLAY)
W, H = 40, 30
PUT, OR, XOR = RopDescriptor.OP_PUT, RopDescriptor.OP_OR, RopDescriptor.OP_XOR


# -- a display machine and a core, driven as connection.py / replay.py drive them --


class Rig:
    """One linked display machine (channel ``cid``) feeding ``core``."""

    def __init__(self, core: SessionCore, lane: bool, cid: int = 0) -> None:
        self.core, self.key = core, (DISPLAY, cid)
        self.server = FakeServer()
        self.machine = DisplayChannel(cid)
        link_pair(self.machine, self.server)
        for ev in events(self.machine):
            core.handle_event(self.key, ev, 0.0)
        self.machine.data_to_send()
        self.lane = core.display_lane(cid) if lane else None
        self.machine.set_lane(self.lane)
        self.sent = bytearray()
        self.seen: list[object] = []

    def pack(self, msg: Any) -> bytes:
        return self.server.pack(msg)

    def feed(self, data: bytes, now: float = 1.0) -> None:
        if self.lane is not None:
            self.lane.now = now
        self.machine.receive_data(data)
        self.drain(now)

    def drain(self, now: float = 1.0) -> None:
        while True:
            while (ev := self.machine.next_event()) is not None:
                self.seen.append(ev)
                self.core.handle_event(self.key, ev, now)
            if not self.machine.resume():
                break
        self.sent += self.machine.data_to_send()


def state(core: SessionCore, machines: list[Channel], sent: list[bytes]) -> Any:
    drivers = {
        cid: (
            {sid: s.pixels.tobytes() for sid, s in d.canvas.surfaces.items()},
            dict(d.counts),
            dict(d.image_types),
            d.canvas.pixels_drawn,
            d.marks,
            d.canvas.images.decoded_pixels,
        )
        for cid, d in core.drivers.items()
    }
    cache = core.shared.cache if core.shared is not None else None
    return (
        drivers,
        list(core._changes),
        core.change_count,
        dict(core.dropped),
        core.last_display_activity,
        [(m.messages_received, dict(m.message_counts), m.state) for m in machines],
        sent,
        # the pixmap cache: what each id holds, the bytes counted
        None
        if cache is None
        else (
            [
                (i, zlib.crc32(e.pixels), e.pixels.shape, e.has_alpha, e.lossy)
                for i, e in cache.entries.items()
            ],
            cache.bytes,
        ),
    )


# -- messages ------------------------------------------------------------------------


def _rect(x: int, y: int, w: int, h: int) -> wt.Rect:
    return Rect(x, y, x + w, y + h)


def _clip(kind: int, x: int, y: int) -> list[wt.Rect] | None:
    if kind == 0:
        return None
    if kind == 1:
        return [_rect(x, y, 12, 9)]
    return [_rect(x, y, 5, 5), _rect(x + 8, y + 3, 5, 5)]  # several: region path


def _fill(sid: int, x: int, y: int, color: int, rop: int, clip: int) -> md.DrawFill:
    return md.DrawFill(
        base(sid, _rect(x, y, 10, 7), _clip(clip, x + 2, y + 1)),
        md.Fill(solid(color), rop, NO_MASK),
    )


def _bitmap(image_id: int, color: int, w: int = 6, h: int = 4) -> wt.Image:
    data = b"".join(
        struct.pack("<I", (color + 77 * i) & 0xFFFFFF) for i in range(w * h)
    )
    bitmap = Bitmap(BitmapFmt.FMT_32BIT, 0, w, h, 4 * w, data)
    return Image(image_id, ImageType.BITMAP, ImageFlags.CACHE_ME, w, h, bitmap=bitmap)


def _copy(
    sid: int,
    x: int,
    y: int,
    image: wt.Image,
    rop: int,
    clip: int,
    cls: type = md.DrawCopy,
) -> Any:
    w, h = image.descriptor.width, image.descriptor.height
    return cls(
        base(sid, _rect(x, y, w, h), _clip(clip, x + 1, y)),
        md.Copy(image, _rect(0, 0, w, h), rop, 0, NO_MASK),
    )


def _cached(image_id: int, kind: int = ImageType.FROM_CACHE) -> wt.Image:
    return Image(image_id, kind, 0, 6, 4)


def _surface_image(sid: int) -> wt.Image:
    return Image(0, ImageType.SURFACE, 0, 8, 6, surface_id=sid)


def _create(sid: int, w: int = W, h: int = H) -> md.SurfaceCreate:
    return md.SurfaceCreate(sid, w, h, SurfaceFmt.FMT_32_xRGB, 0)


OPS = st.one_of(
    st.tuples(st.just("fill"), st.integers(0, 1), st.integers(-6, W),
              st.integers(-4, H), st.integers(0, 0xFFFFFF),
              st.sampled_from([PUT, OR, XOR]), st.integers(0, 2)),
    st.tuples(st.just("put"), st.integers(0, 4), st.integers(-3, W),
              st.integers(-2, H), st.integers(0, 0xFFFFFF)),
    st.tuples(st.just("cached"), st.integers(0, 5), st.integers(-3, W),
              st.integers(-2, H), st.sampled_from([PUT, OR]), st.integers(0, 2),
              st.booleans()),
    st.tuples(st.just("surface"), st.integers(0, 1), st.integers(-3, W),
              st.integers(-2, H), st.integers(0, 2)),
    st.tuples(st.just("bits"), st.integers(-8, W), st.integers(-8, H),
              st.integers(-8, 8), st.integers(-8, 8), st.integers(0, 2)),
    st.tuples(st.just("create1")),
    st.tuples(st.just("destroy1")),
    st.tuples(st.just("ack"), st.integers(1, 4)),
    st.tuples(st.just("ping"), st.integers(0, 1000)),
    st.tuples(st.just("mark")),
)  # fmt: skip


def _message(op: tuple[Any, ...]) -> Any:
    kind = op[0]
    if kind == "fill":
        return _fill(*op[1:])
    if kind == "put":
        return _copy(0, op[2], op[3], _bitmap(op[1], op[4]), PUT, 0)
    if kind == "cached":
        _, image_id, x, y, rop, clip, blend = op
        cls = md.DrawBlend if blend else md.DrawCopy
        return _copy(0, x, y, _cached(image_id), rop, clip, cls)
    if kind == "surface":
        return _copy(op[1], op[2], op[3], _surface_image(1 - op[1]), PUT, op[4])
    if kind == "bits":
        _, x, y, dx, dy, clip = op
        return md.CopyBits(
            base(0, _rect(x, y, 9, 8), _clip(clip, x, y)), wt.Point(x - dx, y - dy)
        )
    if kind == "create1":
        return _create(1, 16, 12)
    if kind == "destroy1":
        return md.SurfaceDestroy(1)
    if kind == "ack":
        return SetAck(7, op[1])
    if kind == "ping":
        return Ping(op[1], 99, b"")
    return md.DisplayMark()


def _stream(rig: Rig, ops: list[tuple[Any, ...]]) -> bytes:
    return rig.pack(_create(0)) + b"".join(rig.pack(_message(op)) for op in ops)


def _run(ops: list[tuple[Any, ...]], cuts: list[int], lane: bool) -> tuple[Any, Rig]:
    core = SessionCore()
    rig = Rig(core, lane)
    data = _stream(rig, ops)
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for n, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        rig.feed(data[a:b], now=float(n))
    rig.feed(b"", now=99.0)
    return state(core, [rig.machine], [bytes(rig.sent)]), rig


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=40), st.lists(st.integers(0, 1 << 16), max_size=12))
def test_lane_on_equals_lane_off_on_random_streams(
    ops: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    off, _ = _run(ops, cuts, lane=False)
    on, rig = _run(ops, cuts, lane=True)
    assert on == off
    assert isinstance(rig.seen[-1], ChannelClosed) and rig.seen[-1].clean


def test_lane_takes_the_common_draws_and_splits_at_every_byte() -> None:
    ops: list[tuple[Any, ...]] = [
        ("put", 1, 0, 0, 0x123456),
        ("ack", 3),
        ("fill", 0, 3, 4, 0xABCDEF, PUT, 0),
        ("cached", 1, 10, 5, PUT, 1, False),
        ("cached", 1, 12, 9, PUT, 0, True),
        ("ping", 5),
        ("bits", 4, 4, 3, -2, 0),
        ("fill", 0, 20, 10, 0x00FF00, PUT, 1),
        ("mark",),
    ]
    off, _ = _run(ops, [], lane=False)
    on, rig = _run(ops, [], lane=True)
    assert on == off
    assert rig.lane is not None and rig.lane.taken == 5  # fill, 2 cached, bits, fill
    assert not [e for e in rig.seen if type(e) is MessageReceived
                and type(e.message) in (md.DrawFill, md.CopyBits)]  # fmt: skip
    data_len = len(_stream(Rig(SessionCore(), False), ops))
    for cut in range(1, data_len):
        assert _run(ops, [cut], lane=True)[0] == _run(ops, [cut], lane=False)[0], cut


def test_eof_after_a_held_rest_delivers_every_message() -> None:
    """The reader stops before a lane message while an event waits; EOF before
    ``resume`` turns the rest into events, in order."""
    core = SessionCore()
    rig = Rig(core, lane=True)
    fill = _fill(0, 0, 0, 0xFF, PUT, 0)
    rig.feed(rig.pack(_create(0)) + rig.pack(fill))  # the lane learns nothing new
    data = rig.pack(Ping(1, 2, b"")) + rig.pack(fill) + rig.pack(fill)
    rig.machine.receive_data(data)
    assert type(rig.machine.next_event()) is PingAnswered
    rig.machine.receive_data(b"")
    got = events(rig.machine)
    assert [type(e) for e in got] == [MessageReceived, MessageReceived, ChannelClosed]
    assert got[-1].clean  # type: ignore[attr-defined]
    assert rig.machine.messages_received == 5


def test_a_held_message_keeps_its_channel_order() -> None:
    """Channel 1 copies an image channel 0 has not sent yet (held), then fills
    the same pixels: the fill must land after the copy, lane or not."""
    results = []
    for lane in (False, True):
        core = SessionCore()
        core.channels_list = [(DISPLAY, 0), (DISPLAY, 1)]
        zero, one = Rig(core, lane, 0), Rig(core, lane, 1)
        one.feed(one.pack(_create(0)))
        one.feed(one.pack(_fill(0, 0, 0, 0x0000FF, PUT, 0)))  # learns PUT
        one.feed(
            one.pack(_copy(0, 0, 0, _cached(9), PUT, 0))
            + one.pack(_fill(0, 0, 0, 0x00FF00, PUT, 0))
        )
        assert core.held[1]  # the copy waits, the fill behind it
        assert one.machine.next_event() is None
        zero.feed(
            zero.pack(_create(0)) + zero.pack(_copy(0, 0, 0, _bitmap(9, 5), PUT, 0))
        )
        assert not core.held[1]
        pixels = core.drivers[1].canvas.primary.pixels  # type: ignore[union-attr]
        assert pixels[0, 0, :3].tolist() == [0, 0xFF, 0]  # the fill, last
        results.append(state(core, [zero.machine, one.machine], []))
    assert results[0][:4] == results[1][:4]


def test_an_event_reader_sees_every_display_message() -> None:
    """While the observer (the live session) has ``events()`` readers, every
    message is an event; without, the lane takes them (its connect backlog,
    bounded and meant for links, does not stop the lane)."""
    observer = SimpleNamespace(_readers={1}, _backlog=None)
    core = SessionCore()
    rig = Rig(core, lane=True)
    assert rig.lane is not None
    rig.lane.observer = observer
    fills = [rig.pack(_fill(0, i, i, 0xFF * i, PUT, 0)) for i in range(6)]
    rig.feed(rig.pack(_create(0)) + b"".join(fills))
    assert sum(type(e) is MessageReceived for e in rig.seen) == 7
    observer._readers, observer._backlog = set(), [object()]
    rig.feed(b"".join(fills))
    assert sum(type(e) is MessageReceived for e in rig.seen) == 7
    assert rig.lane.taken == 6
    observer._readers = {2}
    rig.feed(b"".join(fills))
    assert sum(type(e) is MessageReceived for e in rig.seen) == 13
    assert rig.lane.taken == 6


def test_a_display_handler_of_its_own_turns_the_lane_off() -> None:
    core = SessionCore()
    rig = Rig(core, lane=True)
    got: list[object] = []
    rig.feed(rig.pack(_create(0)) + rig.pack(_fill(0, 0, 0, 1, PUT, 0)))
    assert rig.lane is not None
    before = rig.lane.taken  # (1 once the canvas resolved PUT: earlier tests)
    core.on_message(DISPLAY, lambda key, msg, now: got.append(msg))
    rig.feed(rig.pack(_fill(0, 0, 0, 1, PUT, 0)) * 3)
    assert len(got) == 3 and rig.lane.taken == before
    core.on_message(DISPLAY, core._on_display_message)
    rig.feed(rig.pack(_fill(0, 0, 0, 1, PUT, 0)) * 3)
    assert len(got) == 3 and rig.lane.taken == before + 3


# -- every capture: replay with and without the lane ----------------------------------


def _recorded_replay(path: Path, lane: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``replay`` with the surfaces' CRCs at every DISPLAY_MARK and the bytes the
    machines queued."""
    marks: list[tuple[int, ...]] = []
    sent: list[bytes] = []
    mark = DisplayDriver._mark
    out = Channel.data_to_send

    def recording_mark(self: DisplayDriver, msg: Any, mm: Any) -> None:
        mark(self, msg, mm)
        marks.append(tuple(zlib.crc32(s.pixels) for s in self.canvas.surfaces.values()))

    def recording_out(self: Channel) -> bytes:
        data = out(self)
        sent.append(data)
        return data

    with monkeypatch.context() as m:
        m.setattr(DisplayDriver, "_mark", recording_mark)
        m.setattr(Channel, "data_to_send", recording_out)
        result = replay_mod.replay(path, lane=lane)
    return result, marks, b"".join(sent)


def _corpus() -> list[str]:
    from test_replay import _entries

    return _entries()


@pytest.mark.parametrize("name", _corpus())
def test_every_capture_replays_the_same_with_the_lane(
    captures_dir: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = captures_dir / f"{name}.pcap"
    off, off_marks, off_sent = _recorded_replay(path, False, monkeypatch)
    on, on_marks, on_sent = _recorded_replay(path, True, monkeypatch)
    assert on_marks == off_marks
    assert on_sent == off_sent
    assert on.messages == off.messages and on.errors == off.errors
    machines: list[Channel] = []
    assert state(on.core, machines, []) == state(off.core, machines, [])
    for cid, driver in off.drivers.items():
        for sid, surface in driver.canvas.surfaces.items():
            assert np.array_equal(
                on.drivers[cid].canvas.surfaces[sid].pixels, surface.pixels
            )


# -- the connection reads on where a lane stopped its machine -------------------------


class StoppingMachine:
    """A line machine with a stand-in lane: lines starting with "L" are applied
    at once (logged, no event) while no event waits; before one, with events
    waiting, reading stops until ``resume`` (``Channel``'s contract)."""

    def __init__(self, log: list[object]) -> None:
        self.log = log
        self._pending = b""
        self._events: list[object] = []
        self.resumed_while_parked = 0
        self.conn: Any = None

    def _read(self) -> None:
        while b"\n" in self._pending:
            line, rest = self._pending.split(b"\n", 1)
            text = line.decode()
            if text.startswith("L"):
                if self._events:
                    return  # older events first
                self.log.append(text)
            else:
                self._events.append(text)
            self._pending = rest

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._events.append("EOF")
            return
        self._pending += data
        self._read()

    def resume(self) -> bool:
        if self.conn is not None and self.conn._parked is not None:
            self.resumed_while_parked += 1
        if self._events or b"\n" not in self._pending:
            return False
        self._read()
        return True

    def next_event(self) -> object | None:
        return self._events.pop(0) if self._events else None

    def data_to_send(self) -> bytes:
        return b""

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def _pump_lines(
    lines: bytes, slow: bool
) -> tuple[list[object], list[object], StoppingMachine]:
    import asyncio
    import threading

    from spicepy.session.connection import ChannelConnection
    from spicepy.session.transport import open_stream

    limit = 10.0
    release = threading.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(lines)
        await w.drain()
        await asyncio.sleep(limit)

    def prepare(event: object) -> Any:
        return (lambda: release.wait(limit)) if slow and event == "SLOW" else None

    async def main() -> tuple[list[object], list[object], StoppingMachine]:
        server = await asyncio.start_server(script, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=limit)
        log: list[object] = []
        machine = StoppingMachine(log)
        conn = ChannelConnection(
            "t", machine, reader, writer, lambda c, e: log.append(e), prepare=prepare
        )
        machine.conn = conn
        conn.start()
        want = lines.count(b"\n")
        try:
            async with asyncio.timeout(2.0):
                while len(log) < (1 if slow else want):
                    await asyncio.sleep(0.001)
            await asyncio.sleep(0.05)  # (time for a wrong resume while parked)
            while_parked = list(log)
            release.set()
            async with asyncio.timeout(2.0):
                while len(log) < want:
                    await asyncio.sleep(0.001)
        finally:
            release.set()
            await conn.close()
            server.close()
        return while_parked, log, machine

    return asyncio.run(main())


def test_the_connection_resumes_a_stopped_machine_in_order() -> None:
    _, log, _ = _pump_lines(b"a\nL1\nL2\nb\nL3\nc\n", slow=False)
    assert log == ["a", "L1", "L2", "b", "L3", "c"]


def test_the_connection_does_not_resume_behind_a_parked_event() -> None:
    while_parked, log, machine = _pump_lines(b"a\nSLOW\nL1\nb\nL2\n", slow=True)
    assert while_parked == ["a"]
    assert log == ["a", "SLOW", "L1", "b", "L2"]
    assert machine.resumed_while_parked == 0


# -- a whole session (in-process fake server) ---------------------------------------


def _session_fills(with_reader: bool) -> tuple[bytes, int, int]:
    """A session whose display sends SURFACE_CREATE and 12 solid fills; with an
    ``events()`` iterator it counts the fills it sees.  Returns the primary's
    bytes, the fills seen as events and the fills the lane took."""
    import asyncio
    import time

    from test_session import LIMIT, FakeSpice, run, serve

    import spicepy
    from spicepy.wire.messages import encode_message
    from spicepy.wire.types import CLIP_NONE, QMASK_NONE, DisplayBase
    from spicepy.wire.types import Rect as WireRect

    fills = [
        md.DrawFill(
            DisplayBase(0, WireRect(0, i % 8, 8, i % 8 + 1 + i // 8), CLIP_NONE),
            md.Fill(solid(0x102030 * (i + 1)), PUT, QMASK_NONE),
        )
        for i in range(12)
    ]

    async def display(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # after connect() returned (the iterator made then gets every fill)
        await asyncio.sleep(0.3)
        for msg in [md.SurfaceCreate(0, 8, 8, SurfaceFmt.FMT_32_xRGB, 1), *fills]:
            kind, body = encode_message(msg)
            w.write(struct.pack("<HI", kind, len(body)) + body)
        await w.drain()
        await r.read()

    fake = FakeSpice(channels=[(1, 0), (2, 0)], peers={2: display})

    async def main() -> tuple[bytes, int, int]:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                seen = 0
                async with asyncio.timeout(LIMIT):
                    if with_reader:
                        async for event in s.events():
                            if type(event) is MessageReceived and type(
                                event.message
                            ) is type(fills[0]):
                                seen += 1
                                if seen == len(fills):
                                    break
                    while 0 not in s.core.drivers or s.core.drivers[0].counts[
                        md.DrawFill
                    ] < len(fills):
                        await asyncio.sleep(0.01)
                primary = s.core.drivers[0].canvas.primary
                assert primary is not None
                lane = s.connections[(DISPLAY, 0)].machine._lane
                # the lane reads the loop's clock (time.monotonic) in C
                age = time.monotonic() - s.core.last_display_activity
                assert 0 <= age < LIMIT, age
                return primary.pixels.tobytes(), seen, lane.taken

    return cast_result(run(main()))


def cast_result(value: object) -> tuple[bytes, int, int]:
    assert isinstance(value, tuple)
    return value


def test_a_session_applies_fills_in_the_lane_unless_events_are_read() -> None:
    read_pixels, seen, taken_read = _session_fills(with_reader=True)
    pixels, none_seen, taken = _session_fills(with_reader=False)
    assert seen == 12 and taken_read == 0  # every fill reached the iterator
    assert none_seen == 0 and taken == 12  # (PUT resolved by the first session)
    assert pixels == read_pixels


def test_a_lane_that_is_not_ready_does_not_stop_the_reader() -> None:
    """With an ``events()`` reader the lane takes nothing: the reader must then
    read the whole chunk at once (stopping before each draw cost a resume and
    a pump per message)."""
    core = SessionCore()
    rig = Rig(core, lane=True)
    assert rig.lane is not None
    rig.feed(rig.pack(_create(0)) + rig.pack(_fill(0, 0, 0, 1, PUT, 0)))
    rig.lane.observer = SimpleNamespace(_readers={1}, _backlog=None)
    fill = rig.pack(_fill(0, 1, 1, 2, PUT, 0))
    rig.machine.receive_data(rig.pack(Ping(1, 2, b"")) + fill * 4)
    got = events(rig.machine)
    assert [type(e) for e in got] == [PingAnswered] + [MessageReceived] * 4
    assert not rig.machine.resume()


# -- the lane reads a draw from its bytes, only as the decoder would -----------------

_lane = core_mod._lane  # (None: every test here is skipped)
NUMBERS = {
    md.DrawFill: DisplayMsg.DRAW_FILL,
    md.DrawCopy: DisplayMsg.DRAW_COPY,
    md.DrawBlend: DisplayMsg.DRAW_BLEND,
    md.CopyBits: DisplayMsg.COPY_BITS,
}


def _sides(r: wt.Rect) -> tuple[int, int, int, int]:
    return (r.top, r.left, r.bottom, r.right)


def expected_read(msg: Any) -> dict[str, Any] | None:
    """What the lane must read from a decoded draw, or None where it must
    decline (several clip rectangles, an unknown clip type, a mask, a brush
    that is not solid, no image, one of another type or a stream no cache
    keeps)."""
    clip = msg.base.clip
    if clip.type == ClipType.NONE:
        rects = None
    elif clip.type == ClipType.RECTS and len(clip.rects) <= 1:
        rects = tuple(_sides(r) for r in clip.rects)
    else:
        return None
    out: dict[str, Any] = {
        "surface_id": msg.base.surface_id,
        "box": _sides(msg.base.box),
        "clip": rects,
    }
    if type(msg) is md.CopyBits:
        out["src_pos"] = (msg.src_pos.x, msg.src_pos.y)
        return out
    d = msg.data
    if d.mask.bitmap is not None:
        return None
    out["rop"] = d.rop_descriptor
    if type(msg) is md.DrawFill:
        if d.brush.type != BrushType.SOLID:
            return None
        out["color"] = d.brush.color
        return out
    image = d.src_bitmap
    if image is None or image.descriptor.type not in LANE_IMAGE_TYPES:
        return None
    out["src_area"] = _sides(d.src_area)
    d = image.descriptor
    kind = d.type
    surface = image.surface.surface_id if kind == ImageType.SURFACE else None
    out["image"] = (kind, d.id, surface)
    if kind in LANE_STREAM_TYPES:
        if not d.flags & (ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME):
            return None
        out["stream"] = (d.flags, d.width, d.height, bytes(image.binary.data))
    return out


SPECIAL_U32 = st.sampled_from([0, 1, 2, 17, 18, 21, 22, 0x7FFFFFFF, 0xFFFFFFFF])


@st.composite
def lying(draw: Any, msgs: Any = None) -> tuple[type, bytes]:
    """A draw's body with lies told: u32 fields (pointers, counts) and bytes
    (clip, brush and image types) overwritten, cut short or lengthened."""
    msg = draw(msgs if msgs is not None else draws())
    body = bytearray(encode_struct(msg))
    words = [s for s in layout(type(msg), shape_of(msg)).slots.values() if s.width == 4]
    for _ in range(draw(st.integers(0, 2))):
        slot = draw(st.sampled_from(words))
        value = draw(st.one_of(SPECIAL_U32, st.integers(0, len(body) + 4)))
        body[slot.offset : slot.offset + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(body) - 1))
        body[at] = draw(st.sampled_from([0, 1, 2, 3, 102, 103, 104, 105, 106, 255]))
    cut = draw(
        st.integers(0, len(body)) | st.integers(max(0, len(body) - 6), len(body))
    )
    body = body[:cut] if draw(st.booleans()) else body + draw(st.binary(max_size=6))
    return type(msg), bytes(body)


@settings(max_examples=600, deadline=None)
@given(st.one_of(draws().map(lambda m: (type(m), encode_struct(m))), lying()))
def test_the_lane_reads_a_body_only_as_the_decoder_does(
    case: tuple[type, bytes],
) -> None:
    """``_lane.parse`` takes a body iff the decoder reads it without error into
    a draw the lane may take, and then reads the decoder's values."""
    cls, body = case
    got = _lane.parse(NUMBERS[cls], body)
    try:
        msg: Any = decode_struct(cls, body)
    except WireError:
        assert got is None
        return
    assert got == expected_read(msg)


def test_the_lane_reads_at_the_schemas_offsets() -> None:
    """The offsets compiled into the lane are ``wire.layout``'s, for each class
    and clip shape; an SURFACE image's reference right after its descriptor."""
    shapes, images = _lane.offsets()
    clips: list[dict[str, int]] = [
        {"base.clip.type": ClipType.NONE},
        {"base.clip.type": ClipType.RECTS, "base.clip.num_rects": 0},
        {"base.clip.type": ClipType.RECTS, "base.clip.num_rects": 1},
    ]
    for row, cls in zip(shapes, NUMBERS, strict=True):
        for shape, clip in zip(row, clips, strict=True):
            given = dict(clip)
            if cls is md.DrawFill:
                given["data.brush.type"] = BrushType.SOLID
            lay = layout(cls, given)
            assert shape["size"] == lay.size
            assert shape["box"]["left"] == lay.slots["base.box.left"].offset
            assert shape["surface_id"] == lay.slots["base.surface_id"].offset
            if "data.rop_descriptor" in lay.slots:
                assert shape["rop"] == lay.slots["data.rop_descriptor"].offset
                assert shape["mask_bitmap"] == lay.slots["data.mask.bitmap"].offset
            if given.get("base.clip.num_rects") == 1:
                assert (
                    shape["clip"]["right"]
                    == lay.slots["base.clip.rects.0.right"].offset
                )
    for image, kind in zip(images, LANE_IMAGE_TYPES, strict=True):
        stream = kind in LANE_STREAM_TYPES
        # a stream's fixed part: up to its bytes
        lay = layout(wt.Image, {"descriptor.type": kind, "binary.data_size": 0})
        if stream:
            assert lay.starts["binary.data"] == image["size"]
            assert image["data_size"] == lay.slots["binary.data_size"].offset
        assert (
            image["size"] == lay.size
            and image["id"] == lay.slots["descriptor.id"].offset
            and image["flags"] == lay.slots["descriptor.flags"].offset
            and image["width"] == lay.slots["descriptor.width"].offset
            and image["height"] == lay.slots["descriptor.height"].offset
        )
    assert images[2]["surface_id"] == 18 and images[0]["surface_id"] == -1
    assert images[0]["data_size"] == -1 and images[3]["data_size"] == 18


def test_a_reader_refuses_a_lane_that_reads_its_numbers_as_other_classes() -> None:
    from spicepy.wire._decode import MessageReader

    core = SessionCore()
    lane = core.display_lane(0)
    table = {
        int(DisplayMsg.DRAW_FILL): md.DrawOpaque,
        int(DisplayMsg.DRAW_COPY): md.DrawCopy,
    }
    reader = MessageReader(table, DISPLAY, MessageReceived, [], {})
    with pytest.raises(ValueError, match="reads message 302 as DrawFill"):
        reader.lane = lane
    assert reader.lane is None


LANE_OPS = st.one_of(
    st.tuples(st.just("fill"), st.just(0), st.integers(-6, W), st.integers(-4, H),
              st.integers(0, 0xFFFFFF), st.sampled_from([PUT, OR]), st.integers(0, 1)),
    st.tuples(st.just("cached"), st.integers(0, 2), st.integers(-3, W),
              st.integers(-2, H), st.just(PUT), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("surface"), st.just(0), st.integers(-3, W),
              st.integers(-2, H), st.integers(0, 1)),
    st.tuples(st.just("bits"), st.integers(-8, W), st.integers(-8, H),
              st.integers(-8, 8), st.integers(-8, 8), st.integers(0, 1)),
)  # fmt: skip


def _outcome(
    ops: list[tuple[Any, ...]], hostile: tuple[type, bytes], lane: bool
) -> Any:
    """A stream that teaches the canvas its ROPs, images and surface 1, then
    ``hostile`` framed as its own number, then the ops again."""
    core = SessionCore()
    rig = Rig(core, lane)
    setup = [("create1",), ("put", 0, 0, 0, 1), ("put", 1, 4, 4, 2),
             ("put", 2, 8, 8, 3), ("fill", 0, 0, 0, 5, PUT, 0),
             ("fill", 0, 0, 0, 5, OR, 0)]  # fmt: skip
    data = _stream(rig, setup + ops)
    cls, body = hostile
    data += rig.server.pack_raw(NUMBERS[cls], body)
    data += b"".join(rig.pack(_message(op)) for op in ops)
    error = None
    try:
        rig.feed(data)
    except SpiceError as exc:  # the events before it still count, as replay has it
        error = (type(exc), str(exc))
        while (ev := rig.machine.next_event()) is not None:
            rig.seen.append(ev)
            core.handle_event(rig.key, ev, 1.0)
    others = [repr(e) for e in rig.seen if type(e) is not MessageReceived]
    return state(core, [rig.machine], [bytes(rig.sent)]), error, others


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LANE_OPS, max_size=4), st.data())
def test_a_lying_draw_in_a_stream_ends_as_without_the_lane(
    ops: list[tuple[Any, ...]], data: Any
) -> None:
    """A draw the lane could take, then told lies (or not): lane on == off,
    pixels, counts, changes, bytes queued and the error raised, if any."""
    msg = _message(data.draw(LANE_OPS))
    hostile = data.draw(st.one_of(st.just((type(msg), encode_struct(msg))),
                                  lying(st.just(msg))))  # fmt: skip
    assert _outcome(ops, hostile, True) == _outcome(ops, hostile, False)
