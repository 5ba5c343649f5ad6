"""Stopping the test servers' child processes, one way for all of them."""

from __future__ import annotations

import signal
import subprocess


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM ``proc`` if it still runs, SIGKILL it after ``grace`` seconds, reap it.

    SIGTERM first so a server can drop its clients and sockets cleanly; SIGKILL
    only for one that hangs on the way out (the Xspice wrapper does, COMPONENTS.md).
    """
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
