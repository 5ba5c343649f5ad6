"""Session.mouse (session/mouse.py) without sockets: a real InputsChannel machine
whose bytes a FakeServer decodes, a guest pointer that accelerates relative
motion like X does, and mode switches announced by the server."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from _channel_helpers import linked
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels.events import CursorMoved, MouseModeChanged
from spicepy.channels.inputs import InputsChannel
from spicepy.errors import SessionError
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri
from spicepy.wire.enums import ChannelType, MouseMode
from spicepy.wire.msg_common import MainMouseModeRequest
from spicepy.wire.msg_other import (
    MouseMotion,
    MouseMotionAck,
    MousePosition,
    MousePress,
    MouseRelease,
)

INPUTS = (int(ChannelType.INPUTS), 0)
CURSOR = (int(ChannelType.CURSOR), 0)
MAIN = (int(ChannelType.MAIN), 0)


class FakeConn:
    """What the session uses of a ChannelConnection: ``machine`` and ``call``."""

    def __init__(self, machine: Any, after: Any = None) -> None:
        self.machine = machine
        self.after = after
        self.closed = asyncio.Event()  # what Session.wait_for watches
        self.error = None
        self.name = "fake"

    def call(self, method: Any, *args: Any) -> Any:
        result = method(*args)
        if self.after is not None:
            self.after()
        return result


class Guest:
    """The guest's pointer: relative motion above 4 px is doubled (X's default
    acceleration: threshold 4, factor 2), clamped to the screen, and reported
    back through the cursor channel on the next loop turn."""

    def __init__(self, session: Session, server: Any, machine: Any) -> None:
        self.session, self.server, self.machine = session, server, machine
        self.x, self.y = 500, 300
        self.factor, self.threshold = 2, 4
        self.silent = False  # a guest whose cursor channel reports no moves
        self.sent: list[Any] = []
        self.moves = 0

    def pump(self) -> None:
        for msg in self.server.client_messages(self.machine.data_to_send(), 3):
            self.sent.append(msg)
            if isinstance(msg, MouseMotion | MousePosition):
                self.moves += 1
                if self.moves % 4 == 0:  # the server acks every 4 moves
                    self.machine.receive_data(self.server.pack(MouseMotionAck()))
                    while self.machine.next_event() is not None:
                        pass
            if isinstance(msg, MouseMotion):
                fx = self.factor if abs(msg.dx) > self.threshold else 1
                fy = self.factor if abs(msg.dy) > self.threshold else 1
                self.x = min(1023, max(0, self.x + fx * msg.dx))
                self.y = min(767, max(0, self.y + fy * msg.dy))
                if not self.silent:
                    asyncio.get_running_loop().call_soon(self.report)

    def report(self) -> None:
        self.session._on_event(CURSOR, None, CursorMoved(self.x, self.y))  # type: ignore[arg-type]
        self.session._after_pump()


def make(
    mode: int, *, cursor: bool = True, start: tuple[int, int] = (500, 300)
) -> tuple[Session, Guest]:
    session = Session(SpiceUri("127.0.0.1", port=1))
    machine, server = linked(InputsChannel)
    guest = Guest(session, server, machine)
    session.connections[INPUTS] = FakeConn(machine, guest.pump)  # type: ignore[assignment]
    if cursor:
        session.connections[CURSOR] = FakeConn(None)  # type: ignore[assignment]
    session.core.mouse_mode = mode
    session.mouse.settle = 0.005  # this guest reports each motion once, at once
    guest.x, guest.y = start
    session._on_event(CURSOR, None, CursorMoved(*start))  # type: ignore[arg-type]
    return session, guest


def test_server_mode_click_lands_despite_acceleration() -> None:
    async def main() -> Guest:
        session, guest = make(MouseMode.SERVER)
        await session.click(100, 50)
        await session.click(103, 52, button=3)
        return guest

    guest = asyncio.run(main())
    assert (guest.x, guest.y) == (103, 52)
    motions = [m for m in guest.sent if isinstance(m, MouseMotion)]
    # from the reported position, at most one PS/2 packet (127) per axis
    assert motions[0] == MouseMotion(-127, -127, 0)
    assert len(motions) > 2  # corrections after the overshoot
    assert [m for m in guest.sent if not isinstance(m, MouseMotion)] == [
        MousePress(1, 1),
        MouseRelease(1, 0),
        MousePress(3, 4),
        MouseRelease(3, 0),
    ]


def test_server_mode_without_cursor_channel_is_open_loop() -> None:
    async def main() -> Guest:
        session, guest = make(MouseMode.SERVER, cursor=False)
        with pytest.raises(SessionError, match="no cursor channel"):
            await session.mouse_move(3, 4)  # exact by default: cannot be seen
        assert guest.sent == []
        session.mouse.exact = False
        await session.mouse_move(3, 4)
        await session.mouse_move(1, 1)
        return guest

    guest = asyncio.run(main())
    assert guest.sent == [MouseMotion(3, 4, 0), MouseMotion(-2, -3, 0)]


def test_server_mode_guest_that_never_reports_falls_back_to_open_loop() -> None:
    async def main() -> Guest:
        session, guest = make(MouseMode.SERVER, start=(0, 0))
        guest.silent, guest.factor = True, 1
        with pytest.raises(SessionError, match="did not report its pointer"):
            await session.mouse_move(60, 40)  # waits for a report, in vain
        assert not session.mouse.guest_reports
        session.mouse.exact = False
        await session.mouse_move(60, 40)  # blind at once: no second wait
        await session.mouse_move(260, 40)
        return guest

    guest = asyncio.run(main())
    assert guest.sent == [
        MouseMotion(60, 40, 0),  # the exact attempt's motion
        MouseMotion(60, 40, 0),
        MouseMotion(200, 0, 0),
    ]


def test_server_mode_pointer_stopping_short_is_an_error_and_targets_clamp() -> None:
    """A guest pointer pinned at its edge (1023) never reaches 2000: a clear
    error, not a silent miss; with the primary surface known (1024 wide) the
    same target is clamped and reached."""

    async def main() -> Guest:
        session, guest = make(MouseMode.SERVER, start=(1000, 300))
        with pytest.raises(SessionError, match=r"at \(1023, 300\).*not \(2000, 300\)"):
            await session.mouse_move(2000, 300)

        class Driver:
            def primary_pixels(self) -> np.ndarray:
                return np.zeros((768, 1024, 4), np.uint8)

        session.core.drivers[0] = Driver()  # type: ignore[assignment]
        await session.mouse_move(2000, 900)
        return guest

    guest = asyncio.run(main())
    assert (guest.x, guest.y) == (1023, 767)


def test_client_mode_positions_wheel_drag_and_middle_button() -> None:
    async def main() -> Guest:
        session, guest = make(MouseMode.CLIENT)
        await session.click(10, 20, button=2)
        await session.wheel(2)
        await session.wheel(-1)
        await session.drag(0, 0, 80, 40)
        assert session.cursor.position == (80, 40)
        return guest

    sent = asyncio.run(main()).sent
    assert sent[:8] == [
        MousePosition(10, 20, 0, 0),
        MousePress(2, 2),
        MouseRelease(2, 0),
        MousePress(4, 8),
        MouseRelease(4, 0),
        MousePress(4, 8),
        MouseRelease(4, 0),
        MousePress(5, 16),
    ]
    assert sent[8] == MouseRelease(5, 0)
    drag = sent[9:]
    assert drag[0] == MousePosition(0, 0, 0, 0) and drag[1] == MousePress(1, 1)
    assert drag[2:-1] == [
        MousePosition(80 * i // 8, 40 * i // 8, 1, 0) for i in range(1, 9)
    ]
    assert drag[-1] == MouseRelease(1, 0)


def test_mode_announcements_switch_and_ask_for_client_once() -> None:
    async def main() -> tuple[list[Any], Guest]:
        session, guest = make(MouseMode.SERVER, cursor=False)
        session.mouse.exact = False  # no cursor channel: blind server moves
        core = session.core
        # the agent connected: CLIENT is offered, the session asks for it once
        both = MouseMode.SERVER | MouseMode.CLIENT
        session._on_event(MAIN, None, MouseModeChanged(both, MouseMode.SERVER))  # type: ignore[arg-type]
        session._on_event(MAIN, None, MouseModeChanged(both, MouseMode.SERVER))  # type: ignore[arg-type]
        asked = core.messages_to_send()
        session._on_event(MAIN, None, MouseModeChanged(both, MouseMode.CLIENT))  # type: ignore[arg-type]
        await session.mouse_move(7, 9)
        server_only = MouseModeChanged(MouseMode.SERVER, MouseMode.SERVER)
        session._on_event(MAIN, None, server_only)  # type: ignore[arg-type]
        await session.mouse_move(8, 9)
        assert core.messages_to_send() == [] and session.mouse.mode == MouseMode.SERVER
        return asked, guest

    asked, guest = asyncio.run(main())
    assert asked == [(MAIN, MainMouseModeRequest(MouseMode.CLIENT))]
    assert guest.sent == [MousePosition(7, 9, 0, 0), MouseMotion(1, 0, 0)]


def test_bad_button_is_refused() -> None:
    async def main() -> None:
        session, _ = make(MouseMode.CLIENT)
        with pytest.raises(ValueError):
            await session.mouse_down(8)

    asyncio.run(main())


@settings(max_examples=60, deadline=None)
@given(
    start=st.tuples(st.integers(0, 1023), st.integers(0, 767)),
    target=st.tuples(st.integers(0, 1023), st.integers(0, 767)),
    factor=st.integers(1, 4),
    threshold=st.integers(1, 10),  # 0: odd offsets unreachable by any client
)
def test_server_mode_lands_for_any_acceleration(
    start: tuple[int, int], target: tuple[int, int], factor: int, threshold: int
) -> None:
    async def main() -> Guest:
        session, guest = make(MouseMode.SERVER, start=start)
        guest.factor, guest.threshold = factor, threshold
        await session.mouse_move(*target)
        return guest

    guest = asyncio.run(main())
    assert (guest.x, guest.y) == target


def test_move_by_replays_relative_motion_as_sent() -> None:
    """``move-by`` (what the recording proxy writes for server mode): one
    MOUSE_MOTION as given, no closed loop; in client mode a position."""
    from spicepy.bots.runner import Runner
    from spicepy.bots.script import parse

    async def main() -> tuple[Guest, Guest]:
        server, sguest = make(MouseMode.SERVER, start=(100, 100))
        await Runner(server).run(parse("move-by 7 -3 move-by 2 2 click"))
        client, cguest = make(MouseMode.CLIENT)
        await client.mouse_move(10, 20)
        await client.mouse.move_by(5, -25)
        return sguest, cguest

    sguest, cguest = asyncio.run(main())
    assert sguest.sent == [  # the click stays where the motion put the pointer
        MouseMotion(7, -3, 0),
        MouseMotion(2, 2, 0),
        MousePress(1, 1),
        MouseRelease(1, 0),
    ]
    assert (sguest.x, sguest.y) == (100 + 14 + 2, 100 - 3 + 2)  # 7 > 4: doubled
    assert cguest.sent == [MousePosition(10, 20, 0, 0), MousePosition(15, 0, 0, 0)]


def test_button_masks_track_what_is_held() -> None:
    """MOUSE_PRESS/RELEASE carry the mask of the buttons held after the event;
    releasing a button that is not held leaves the mask as it was."""

    async def main() -> tuple[list[Any], int]:
        session, guest = make(MouseMode.CLIENT)
        await session.mouse_up(3)  # not held
        await session.mouse_down(1)
        await session.mouse_down(3)
        await session.mouse_up(1)
        await session.mouse_up(1)  # again: still not held
        await session.mouse_up(3)
        return guest.sent, session.mouse.buttons

    sent, held = asyncio.run(main())
    assert sent == [
        MouseRelease(3, 0),
        MousePress(1, 1),
        MousePress(3, 5),
        MouseRelease(1, 4),
        MouseRelease(1, 4),
        MouseRelease(3, 0),
    ]
    assert held == 0


@pytest.mark.parametrize(
    ("supported", "current", "asked"),
    [
        (MouseMode.SERVER | MouseMode.CLIENT, MouseMode.SERVER, True),
        (MouseMode.SERVER | MouseMode.CLIENT, MouseMode.CLIENT, False),
        (MouseMode.SERVER, MouseMode.SERVER, False),
    ],
)
def test_main_init_asks_for_client_mode_only_when_offered_and_not_current(
    supported: int, current: int, asked: bool
) -> None:
    from spicepy.channels.events import MainInitReceived
    from spicepy.session.core import SessionCore

    core = SessionCore()
    init = MainInitReceived(1, 1, supported, current, False, 0, 10_000, 1 << 20)
    core.handle_event(MAIN, init, 0.0)
    expect = [(MAIN, MainMouseModeRequest(MouseMode.CLIENT))] if asked else []
    assert core.messages_to_send() == expect
    assert (core.mouse_modes, core.mouse_mode) == (supported, current)
