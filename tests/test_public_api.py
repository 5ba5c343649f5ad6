"""The public API gaps the viewer found (issue 9): what an app needs without
reaching into spicepy's internals."""

from __future__ import annotations

import asyncio
import struct
from typing import Any, cast

import pytest
from test_session import KEY_DOWN, KEY_UP, LIMIT, FakeSpice, run, serve
from test_session_media import KEY, FakeSession

import spicepy
from spicepy.channels.agent import ClipboardGrabbed, ClipboardReleased
from spicepy.channels.agent import Monitor as AgentMonitor
from spicepy.channels.events import AgentDisconnected
from spicepy.cli import build_parser
from spicepy.errors import ConnectionClosedError, SessionError, SpiceTimeoutError
from spicepy.session.keymap import PAUSE_BYTES
from spicepy.session.media import AgentControl
from spicepy.session.wakeup import Wakeup
from spicepy.wire.enums import ClipboardSelection, ClipboardType, InputsCap, InputsMsgc

KEY_SCANCODE = InputsMsgc.KEY_SCANCODE


def test_view_has_no_quiet_time_but_the_input_commands_do() -> None:
    parser = build_parser()
    args = parser.parse_args(["view", "spice://h:1"])
    assert not hasattr(args, "quiet_time")
    args = parser.parse_args(["wait", "spice://h:1", "--quiet-time", "2"])
    assert args.quiet_time == 2.0


# --- keys by name: every key of a USB keyboard, Pause as spice-gtk sends it ----
def _press(key: str, *, raw_cap: bool) -> list[tuple[int, bytes]]:
    fake = FakeSpice(channels=[(1, 0), (3, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                if raw_cap:  # the fake links without channel caps: give it one
                    machine: Any = s.connections[(3, 0)].machine
                    machine.server_channel_caps = frozenset({InputsCap.KEY_SCANCODE})
                await s.key_press(key, modifiers=("ctrl",))
                async with asyncio.timeout(LIMIT):
                    while len(fake.inputs_sent) < 3:
                        await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)  # nothing more may follow

    run(main())
    return fake.inputs_sent


def _u32(data: bytes) -> int:
    return int(struct.unpack("<I", data)[0])


def test_pause_goes_as_its_raw_make_sequence_when_the_server_takes_it() -> None:
    sent = _press("Pause", raw_cap=True)
    assert [t for t, _ in sent] == [KEY_DOWN, KEY_SCANCODE, KEY_UP]
    assert sent[1][1] == PAUSE_BYTES  # make only: no break follows
    assert (_u32(sent[0][1]), _u32(sent[2][1])) == (0x1D, 0x9D)


def test_pause_without_raw_scancodes_is_its_e0_code() -> None:
    sent = _press("pause", raw_cap=False)
    assert [(t, _u32(b)) for t, b in sent] == [
        (KEY_DOWN, 0x1D), (KEY_DOWN, 0x46E0), (KEY_UP, 0xC6E0), (KEY_UP, 0x9D),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "code"),
    [("printscreen", 0x54), ("f13", 0x5D), ("f24", 0x6F), ("mute", 0x20E0),
     ("nonus_backslash", 0x56), ("ro", 0x73)],
)  # fmt: skip
def test_keys_beyond_the_us_layout_have_names(name: str, code: int) -> None:
    sent = _press(name, raw_cap=True)
    assert (sent[1][0], _u32(sent[1][1])) == (KEY_DOWN, code)


def test_raw_scancodes_need_the_servers_cap() -> None:
    fake = FakeSpice(channels=[(1, 0), (3, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                with pytest.raises(SessionError, match="raw scancodes"):
                    await s.key_scancodes(PAUSE_BYTES)
                machine: Any = s.connections[(3, 0)].machine
                machine.server_channel_caps = frozenset({InputsCap.KEY_SCANCODE})
                await s.key_scancodes(b"\x1e\x9e")
                async with asyncio.timeout(LIMIT):
                    while not fake.inputs_sent:
                        await asyncio.sleep(0.01)

    run(main())
    assert fake.inputs_sent == [(KEY_SCANCODE, b"\x1e\x9e")]


# --- the session's end, polled or awaited ---------------------------------------
def test_closed_and_error_say_when_and_why_the_session_ended() -> None:
    fake = FakeSpice(channels=[(1, 0), (2, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)
            assert not s.closed and s.error is None
            ended = asyncio.ensure_future(s.wait_closed())
            await asyncio.sleep(0.05)
            assert not ended.done()
            s.connections[(2, 0)]._writer.transport.abort()  # the server hangs up
            async with asyncio.timeout(LIMIT):
                error = await ended
            assert isinstance(error, ConnectionClosedError)
            assert s.closed and s.error is error
            await s.close()
            assert s.closed  # and a closed session stays closed

    run(main())


def test_a_session_closed_by_the_app_says_so() -> None:
    async def main() -> None:
        async with serve(FakeSpice()) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)
            await s.close()
            assert s.closed and isinstance(s.error, SessionError)
            assert isinstance(await s.wait_closed(), SessionError)

    run(main())


# --- Monitor beside the agent API -------------------------------------------------
def test_monitor_is_public_where_the_session_is() -> None:
    from spicepy.session import Monitor as SessionMonitor

    assert spicepy.Monitor is SessionMonitor is AgentMonitor
    assert "Monitor" in spicepy.__all__


# --- waits: a waiter is woken by its own source, not by every pump ---------------
def test_audio_waiter_sleeps_through_unrelated_pumps_and_wakes_at_the_end() -> None:
    async def main() -> tuple[int, int]:
        async with serve(FakeSpice()) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)
            checks = {"audio": 0, "any": 0}
            ready = s.audio._ready

            def audio_ready() -> bool:
                checks["audio"] += 1
                return ready()

            def never() -> bool:
                checks["any"] += 1
                return False

            s.audio._ready = audio_ready  # type: ignore[method-assign]

            async def listen() -> None:
                async for _ in s.audio.frames():
                    pass

            audio = asyncio.ensure_future(listen())
            generic = asyncio.ensure_future(s.wait_for(never, None, "never"))
            await asyncio.sleep(0.05)
            before = dict(checks)
            for _ in range(50):  # what every pump of unrelated events does
                s._after_pump()
                await asyncio.sleep(0)
            woken = checks["audio"] - before["audio"], checks["any"] - before["any"]
            await s.close()  # the end wakes every kind of waiter
            async with asyncio.timeout(LIMIT):
                for task in (audio, generic):
                    with pytest.raises(SessionError):
                        await task
            return woken

    woken = cast(tuple[int, int], run(main()))
    audio_woken, generic_woken = woken
    assert audio_woken == 0
    assert generic_woken == 50  # wait_for's arbitrary predicate: every pump


def test_kind_waits_still_time_out_and_leave_no_waiter() -> None:
    async def main() -> None:
        async with serve(FakeSpice()) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                wakeup = s._wakeup_for()
                start = asyncio.get_running_loop().time()
                with pytest.raises(SpiceTimeoutError, match="0.1s"):
                    await s._wait(lambda: False, 0.1, "x", wakeup=wakeup)
                assert asyncio.get_running_loop().time() - start >= 0.1
                assert not wakeup._waiters  # the timed-out wait left nothing
                with pytest.raises(SpiceTimeoutError):
                    await s.wait_for(lambda: False, 0.05, "y")
                assert not s._changed._waiters

    run(main())


def test_wakeup_wakes_only_its_current_waiters() -> None:
    async def main() -> list[int]:
        wakeup, woken = Wakeup(), []

        async def waiter(n: int) -> None:
            await wakeup.wait()
            woken.append(n)

        first = [asyncio.ensure_future(waiter(n)) for n in range(3)]
        await asyncio.sleep(0)
        wakeup.fire()
        later = asyncio.ensure_future(waiter(9))  # waits for the next fire
        await asyncio.sleep(0)
        await asyncio.gather(*first)
        assert not later.done()
        later.cancel()
        await asyncio.gather(later, return_exceptions=True)
        assert not wakeup._waiters
        return woken

    assert run(main()) == [0, 1, 2]


def test_a_connection_failing_outside_a_pump_wakes_the_waiters() -> None:
    async def main() -> None:
        async with serve(FakeSpice()) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                waiter = asyncio.ensure_future(s.wait_for(lambda: False, None))
                events = s.events()
                reader = asyncio.ensure_future(events.__anext__())
                await asyncio.sleep(0.05)
                # a socket error, as the transport reports it: the connection
                # fails, no pump
                main_conn = s.connections[(1, 0)]
                protocol = main_conn._writer.transport.get_protocol()
                protocol.connection_lost(ConnectionResetError("reset"))
                async with asyncio.timeout(1.0):  # far below LIMIT: no hang
                    with pytest.raises(ConnectionClosedError, match="reset"):
                        await waiter
                    while not reader.done():  # drains what was queued, then ends
                        try:
                            await reader
                        except StopAsyncIteration:
                            break
                        reader = asyncio.ensure_future(events.__anext__())
                assert s.closed

    run(main())


# --- the guest's clipboard offers, pushed ------------------------------------------
def test_clipboard_offers_reach_a_callback_and_a_counter() -> None:
    s = FakeSession()
    agent = AgentControl(s)  # type: ignore[arg-type]
    seen: list[tuple[int, tuple[int, ...]]] = []
    remove = agent.on_clipboard(lambda sel, types: seen.append((sel, types)))
    board, primary = ClipboardSelection.CLIPBOARD, ClipboardSelection.PRIMARY
    text, png = ClipboardType.UTF8_TEXT, ClipboardType.IMAGE_PNG
    s.core.handle_event(KEY, ClipboardGrabbed(board, (text,)), 0.0)
    s.core.handle_event(KEY, ClipboardGrabbed(board, (text, png)), 0.0)  # new copy
    s.core.handle_event(KEY, ClipboardGrabbed(primary, (text,)), 0.0)
    s.core.handle_event(KEY, ClipboardReleased(board), 0.0)
    s.core.handle_event(KEY, ClipboardReleased(board), 0.0)  # nothing left: no news
    assert agent.clipboard_changes == 4
    s.core.handle_event(KEY, AgentDisconnected(0), 0.0)  # its offers go with it
    assert seen == [
        (board, (text,)),
        (board, (text, png)),
        (primary, (text,)),
        (board, ()),
        (primary, ()),
    ]
    assert agent.clipboard_changes == 5 and agent.guest_offers == {}
    remove()
    s.core.handle_event(KEY, ClipboardGrabbed(board, (text,)), 0.0)
    assert len(seen) == 5 and agent.clipboard_changes == 6


class CountingWakeup(Wakeup):
    __slots__ = ("woken",)

    def __init__(self) -> None:
        super().__init__()
        self.woken = 0

    async def wait(self) -> None:
        await super().wait()
        self.woken += 1


def test_screen_updates_wake_for_display_changes_only() -> None:
    from test_session_frames import _draw, _session, create, fill

    async def main() -> tuple[int, int, list[object]]:
        session = _session()
        made: list[CountingWakeup] = []

        def wakeup_for() -> Wakeup:
            made.append(CountingWakeup())
            session._kinds.add(made[-1])
            return made[-1]

        assert session.screen._wakeup_for == session._wakeup_for  # wired
        session.screen._wakeup_for = wakeup_for  # the same, counting
        _draw(session, create(16, 16))
        got: list[object] = []

        async def reader() -> None:
            async for event in session.screen.updates(timeout=5):
                got.append(event)

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0.01)
        (wakeup,) = made
        for _ in range(30):  # pumps of other channels' events
            session._after_pump()
            await asyncio.sleep(0)
        idle = wakeup.woken
        _draw(session, fill(1, 1, 3, 3))
        await asyncio.sleep(0.01)
        drawn = wakeup.woken
        await session.close()
        await asyncio.wait_for(task, 2)  # the end wakes it too
        return idle, drawn, got

    idle, drawn, got = asyncio.run(main())
    assert idle == 0 and drawn == 1
    assert [type(e).__name__ for e in got] == ["FrameUpdate"]
