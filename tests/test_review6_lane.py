"""Review of the display lane (``session/_lane.pyx``): cases the lane's own
tests (``test_session_lane``) let through when a bug was planted in it."""

from __future__ import annotations

import functools
import struct
from pathlib import Path
from typing import Any, cast

import pytest
from _canvas_build import NO_MASK, Bitmap, Brush, Image, base, solid
from test_session_lane import (
    DISPLAY,
    PUT,
    H,
    Rig,
    StoppingMachine,
    W,
    _bitmap,
    _cached,
    _copy,
    _create,
    _fill,
    _rect,
    _surface_image,
    state,
)

from spicepy.capture import replay as replay_mod
from spicepy.errors import SpiceError, WireError
from spicepy.session import core as core_mod
from spicepy.session.core import SessionCore
from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import BitmapFmt, BrushType, ImageType, SurfaceFmt

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)


def test_the_lane_stamps_activity_with_its_clock() -> None:
    """A live lane reads ``now`` from the connection's clock at each message it
    takes (its ``now`` attribute is only for offline replay)."""
    core = SessionCore()
    rig = Rig(core, lane=False)
    rig.lane = core.display_lane(0, clock=lambda: 42.5)
    rig.machine.set_lane(rig.lane)
    rig.feed(rig.pack(_create(0)) + rig.pack(_fill(0, 0, 0, 1, PUT, 0)), now=1.0)
    rig.feed(rig.pack(_fill(0, 2, 2, 3, PUT, 0)), now=1.0)
    assert rig.lane.taken >= 1
    assert core.last_display_activity == 42.5


def test_a_live_session_stamps_lane_draws_with_its_clock() -> None:
    """Through ``spicepy.connect``: the fills the lane takes set
    ``last_display_activity`` to the connection's clock, as the general path
    does (a lane made without the clock left it at 0.0)."""
    import asyncio

    from test_session import LIMIT, FakeSpice, run, serve

    import spicepy
    from spicepy.wire.enums import SurfaceFmt
    from spicepy.wire.messages import encode_message
    from spicepy.wire.types import CLIP_NONE, QMASK_NONE, DisplayBase
    from spicepy.wire.types import Rect as WireRect

    fills = [
        md.DrawFill(
            DisplayBase(0, WireRect(0, i, 8, i + 1), CLIP_NONE),
            md.Fill(solid(0x112233 * (i + 1)), PUT, QMASK_NONE),
        )
        for i in range(6)
    ]
    sent_at: list[float] = []

    async def display(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.3)  # after connect() returned
        sent_at.append(asyncio.get_running_loop().time())
        for msg in [md.SurfaceCreate(0, 8, 8, SurfaceFmt.FMT_32_xRGB, 1), *fills]:
            kind, body = encode_message(msg)
            w.write(struct.pack("<HI", kind, len(body)) + body)
        await w.drain()
        await r.read()

    fake = FakeSpice(channels=[(1, 0), (2, 0)], peers={2: display})

    async def main() -> tuple[float, int]:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                async with asyncio.timeout(LIMIT):
                    while 0 not in s.core.drivers or s.core.drivers[0].counts[
                        md.DrawFill
                    ] < len(fills):
                        await asyncio.sleep(0.01)
                machine: Any = s.connections[(DISPLAY, 0)].machine
                lane = machine._lane
                return s.core.last_display_activity, lane.taken

    got = run(main())
    assert isinstance(got, tuple)
    activity, taken = got
    assert taken >= len(fills) - 1  # (the first may teach the canvas PUT)
    assert activity >= sent_at[0]


# -- lane on == lane off on draws the lane must decline or take exactly -------------


def _mask() -> wt.QMask:
    bitmap = Bitmap(BitmapFmt.FMT_1BIT_BE, 0, 8, 4, 1, bytes([0xA5, 0x5A, 0xF0, 0x0F]))
    return wt.QMask(
        0, wt.Point(0, 0), Image(77, ImageType.BITMAP, 0, 8, 4, bitmap=bitmap)
    )


def _masked_fill(x: int, y: int) -> md.DrawFill:
    return md.DrawFill(
        base(0, _rect(x, y, 8, 4), None), md.Fill(solid(0x445566), PUT, _mask())
    )


def _pattern_fill(x: int, y: int) -> md.DrawFill:
    brush = Brush(BrushType.PATTERN, pattern=_bitmap(0, 0x102030, 3, 2))
    return md.DrawFill(base(0, _rect(x, y, 9, 5), None), md.Fill(brush, PUT, NO_MASK))


def _masked_copy(x: int, y: int) -> md.DrawCopy:
    return md.DrawCopy(
        base(0, _rect(x, y, 6, 4), None),
        md.Copy(_cached(3), _rect(0, 0, 6, 4), PUT, 0, _mask()),
    )


def _bits(x: int, y: int, sx: int, sy: int) -> md.CopyBits:
    return md.CopyBits(base(0, _rect(x, y, 9, 8), None), wt.Point(sx, sy))


BARE = 0  # a descriptor without an operation: ropd_to_rop reads it as COPY
CASES: dict[str, list[Any]] = {
    # a 16-bit primary is re-quantised after each draw (Canvas._finish)
    "quantised surface": [
        md.SurfaceCreate(0, W, H, SurfaceFmt.FMT_16_565, 0),
        *[_fill(0, 2 * i, i, 0x123456 * (i + 1), PUT, 0) for i in range(3)],
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        _copy(0, 9, 5, _cached(3), PUT, 0),
        _copy(0, 3, 8, _cached(3), PUT, 0),
        _bits(5, 5, 2, 1),
        _bits(6, 2, 1, 4),
    ],
    "fills and copies with a bare descriptor": [
        _create(0),
        _fill(0, 0, 0, 0x223344, PUT, 0),
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        *[_fill(0, i, i, 0x998877, BARE, 0) for i in range(3)],
        *[_copy(0, 2 * i, i, _cached(3), BARE, 0) for i in range(3)],
    ],
    "masked fills and copies": [
        _create(0),
        _fill(0, 0, 0, 0x223344, PUT, 0),
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        *[_masked_fill(3 * i, i) for i in range(3)],
        *[_masked_copy(2 * i, 3 + i) for i in range(3)],
    ],
    "pattern fills": [
        _create(0),
        _fill(0, 0, 0, 0x223344, PUT, 0),
        *[_pattern_fill(3 * i, 2 * i) for i in range(3)],
    ],
    "COPY_BITS that does not move": [
        _create(0),
        _fill(0, 0, 0, 0x223344, PUT, 0),
        *[_bits(2 * i, i, 2 * i, i) for i in range(3)],
        _bits(3, 3, 1, 2),
    ],
    "copies from another surface": [
        _create(0),
        md.SurfaceCreate(1, 16, 12, SurfaceFmt.FMT_32_ARGB, 0),
        _fill(1, 0, 0, 0x80FF00FF, PUT, 0),
        _fill(0, 0, 0, 0x223344, PUT, 0),
        *[_copy(0, 3 * i, i, _surface_image(1), PUT, 0) for i in range(3)],
        *[_copy(1, i, i, _surface_image(0), PUT, 0) for i in range(2)],
    ],
}


def _note(heard: list[tuple[int, Any]], channel_id: int, rect: Any) -> None:
    heard.append((channel_id, rect))


def _both(msgs: list[Any], cid: int = 0) -> list[Any]:
    """``msgs`` through a core without and with the lane: the core's state,
    the change listener's calls and what the lane took."""
    out = []
    for lane in (False, True):
        core = SessionCore()
        heard: list[tuple[int, Any]] = []
        core.on_change(functools.partial(_note, heard))
        rig = Rig(core, lane, cid)
        for msg in msgs:
            rig.feed(rig.pack(msg))
        rig.feed(b"", now=9.0)
        taken = rig.lane.taken if rig.lane is not None else 0
        out.append((state(core, [rig.machine], [bytes(rig.sent)]), heard, taken))
    assert out[0][0] == out[1][0]
    assert out[0][1] == out[1][1]
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_lane_on_equals_lane_off_on_draws_it_must_decline(case: str) -> None:
    _both(CASES[case])


def test_change_listeners_hear_the_lane_draws_with_their_channel() -> None:
    msgs = [_create(0), *[_fill(0, i, 2 * i, 0x010203 * i, PUT, 0) for i in range(5)]]
    msgs += [_bits(4, 4, 1, 1), _create(1, 16, 12), _fill(1, 0, 0, 5, PUT, 0)]
    (_, heard, _), (_, lane_heard, taken) = _both(msgs, cid=1)
    assert taken >= 5
    assert len(lane_heard) == 7 and {c for c, _ in lane_heard} == {1}


def test_the_change_list_is_cut_alike_past_max_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core_mod, "MAX_CHANGES", 6)
    msgs = [_create(0), *[_fill(0, i % 20, i % 9, i, PUT, 0) for i in range(17)]]
    (off, _, _), (on, _, taken) = _both(msgs)
    assert taken >= 15
    assert len(on[1]) <= 6 and on[2] == 18  # (change list, change_count)


# -- the connection: a lane dropped on detach, a resume error fails the channel ------


class LaneLines(StoppingMachine):
    """``StoppingMachine`` that records ``set_lane`` and whose ``resume``
    meets malformed bytes (WireError) where it would read on."""

    def __init__(self, log: list[object]) -> None:
        super().__init__(log)
        self.lanes: list[object] = ["lane"]

    def set_lane(self, lane: object) -> None:
        self.lanes.append(lane)

    def resume(self) -> bool:
        if not self._events and b"\n" in self._pending:
            raise WireError("a malformed message after the lane stopped")
        return super().resume()


def _connection(lines: bytes, detach: bool) -> tuple[Any, LaneLines, list[object]]:
    import asyncio

    from spicepy.session.connection import ChannelConnection
    from spicepy.session.transport import open_stream

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(lines)
        await w.drain()
        await r.read()  # until the client hangs up

    async def main() -> tuple[Any, LaneLines, list[object]]:
        server = await asyncio.start_server(script, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=10)
        log: list[object] = []
        machine = LaneLines(log)
        conn = ChannelConnection(
            "t", cast(Any, machine), reader, writer, lambda c, e: log.append(e)
        )
        conn.start()
        try:
            async with asyncio.timeout(2.0):
                if detach:
                    conn.detach(hang_up=False)
                else:
                    await conn.closed.wait()
        finally:
            await conn.close()
            server.close()
        return conn, machine, log

    got = asyncio.run(main())
    assert isinstance(got, tuple)
    return got


def test_detach_takes_the_lane_off_the_machine() -> None:
    """After a migration the old server's draws must reach no canvas."""
    _, machine, _ = _connection(b"a\n", detach=True)
    assert machine.lanes[-1] is None


def test_a_resume_error_fails_the_connection() -> None:
    """Malformed bytes met by ``resume`` (after a lane stop) close the channel
    with that error, as the same bytes met by ``receive_data`` do."""
    conn, _, log = _connection(b"a\nL1\nb\n", detach=False)
    assert log == ["a"]
    assert isinstance(conn.error, SpiceError)
    assert "malformed message after the lane" in str(conn.error)


# -- offline replay: the lane's "now" is each segment's capture time -----------------


def _batch_stamps(
    path: Path, lane: bool, monkeypatch: pytest.MonkeyPatch
) -> list[float]:
    """``core.last_display_activity`` after each batch of a replay."""
    cores: list[SessionCore] = []
    stamps: list[float] = []
    init = SessionCore.__init__

    def made(self: SessionCore, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        cores.append(self)

    def batch(driver: Any, n: int) -> None:
        stamps.append(cores[-1].last_display_activity)

    with monkeypatch.context() as m:
        m.setattr(SessionCore, "__init__", made)
        replay_mod.replay(path, on_batch=batch, lane=lane)
    return stamps


@pytest.mark.parametrize("name", ["text-lz", "winmove-lz4", "mixed-defaults"])
def test_replay_stamps_lane_draws_with_the_capture_time(
    captures_dir: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``last_display_activity`` after each batch that changed the primary is
    the same with the lane as without (the lane's ``now`` set per segment)."""
    path = captures_dir / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"{name} capture missing")
    off = _batch_stamps(path, False, monkeypatch)
    on = _batch_stamps(path, True, monkeypatch)
    assert on == off
    assert len(on) > 3 and on[-1] > 0


def test_a_draw_with_an_unknown_clip_type_is_dropped_alike() -> None:
    """The clipped kernels refuse a clip type they do not know (CanvasError):
    the lane declines it and the canvas drops the message; the channel goes
    on."""
    odd = wt.DisplayBase(0, _rect(1, 1, 6, 5), wt.Clip(7))
    msgs = [
        _create(0),
        _fill(0, 0, 0, 0x223344, PUT, 0),
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        md.DrawFill(odd, md.Fill(solid(0x998877), PUT, NO_MASK)),
        md.DrawCopy(odd, md.Copy(_cached(3), _rect(0, 0, 5, 4), PUT, 0, NO_MASK)),
        md.CopyBits(odd, wt.Point(0, 0)),
        _fill(0, 4, 4, 0x445566, PUT, 0),
    ]
    (off, _, _), (on, _, taken) = _both(msgs)
    assert taken >= 1  # the last fill: the channel read on
    assert sum(off[3].values()) == 3  # (the dropped counts)
