"""The look-ahead's worker starts as the display links (``start_worker``).

One worker at most, none after ``close()``, the first job runs on the thread
started ahead (no second thread made for it), and a session starts it when it
opens its display connection, before any display data."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, cast

import pytest
from test_session import FakeSpice, run, serve

import spicepy
from spicepy.session import lookahead
from spicepy.session.lookahead import DecodeAhead, _Job
from spicepy.wire.enums import ChannelType

DISPLAY = int(ChannelType.DISPLAY)


def ahead() -> DecodeAhead:
    return DecodeAhead(lambda: None, deque(), 1 << 20, 1 << 20)


def test_one_worker_started_ahead_runs_the_first_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lookahead, "IDLE_SECONDS", 30.0)
    a = ahead()
    assert a._thread is None
    a.start_worker()
    first = a._thread
    assert first is not None and first.is_alive() and first.daemon
    a.start_worker()  # already running: the same one
    assert a._thread is first
    ran: list[threading.Thread] = []
    monkeypatch.setattr(
        lookahead, "_decode_job", lambda job: ran.append(threading.current_thread())
    )
    job = _Job(object(), cast(Any, None), [], 4)  # (no decode: patched out)
    a._waiting.append(job)
    a._submit()
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        time.sleep(0.005)
    assert ran == [first] and a._thread is first
    a.close()
    first.join(10)
    assert not first.is_alive()


def test_no_worker_after_close() -> None:
    a = ahead()
    a.close()
    a.start_worker()
    assert a._thread is None


def test_a_session_starts_it_when_the_display_is_opened() -> None:
    if not lookahead.available():
        pytest.skip("no look-ahead without the compiled QUIC codec")
    fake = FakeSpice(channels=[(DISPLAY, 0)])
    seen: list[threading.Thread | None] = []

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=10) as s:
                conn = s.connections[(DISPLAY, 0)]
                prepare = conn._prepare
                ahead = getattr(prepare, "ahead", None)
                assert ahead is not None
                machine: Any = conn.machine
                assert machine.messages_received == 0  # (before any data)
                seen.append(ahead._thread)

    run(main())
    assert seen and seen[0] is not None
    assert seen[0].name == "spicepy-decode-ahead"
