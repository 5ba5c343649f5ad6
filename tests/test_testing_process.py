"""spicepy.testing's one way of stopping a test server's process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from spicepy.testing._process import stop_process

#: a child that says it is ready, then ignores SIGTERM (or not) and sleeps
CHILD = (
    "import signal, sys, time\n"
    "if sys.argv[1] == 'stubborn':\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def _child(kind: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return proc


def test_sigterm_first() -> None:
    proc = _child("polite")
    stop_process(proc, grace=5.0)
    assert proc.returncode == -signal.SIGTERM


def test_sigkill_after_the_grace_period() -> None:
    proc = _child("stubborn")
    started = time.monotonic()
    stop_process(proc, grace=0.5)
    assert proc.returncode == -signal.SIGKILL
    assert time.monotonic() - started >= 0.5


def test_gone_or_absent_is_a_no_op() -> None:
    stop_process(None)
    proc = _child("polite")
    proc.kill()
    proc.wait()
    stop_process(proc)  # must not signal a reaped pid
    assert proc.returncode == -signal.SIGKILL
