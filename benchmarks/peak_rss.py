"""Run one command and write its peak resident set size (kB) to a file.

Usage::

    python benchmarks/peak_rss.py RSS_FILE -- COMMAND [ARG...]

The benchmark tools (``replay-bench``, ``gtk-replay-bench``) start the client as
their own child process, so its memory cannot be read from the outside once it
has exited. Put in front of the client command, this wrapper starts the client
(stdin, stdout and stderr inherited, so the tools' protocol with the client is
unchanged) and reaps it with ``os.wait4``: the kernel's ``ru_maxrss`` of exactly
that process (the largest of it and any child it waited for, never a sum), in
kB on Linux, the same number GNU time prints as ``%M``. The wrapper itself only
waits; its own memory is not in the figure. Exit status: the client's.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # a tool that SIGKILLs the wrapper must not leave the client running
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run(rss_file: str, command: list[str]) -> int:
    """Run ``command``, write its peak RSS in kB to ``rss_file``; its exit status."""
    child = subprocess.Popen(command, preexec_fn=_die_with_parent)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            _pid, status, usage = os.wait4(child.pid, 0)
            break
        except ChildProcessError:  # pragma: no cover - reaped elsewhere: nothing to say
            return 1
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap again
    with open(rss_file, "w") as f:
        f.write(f"{usage.ru_maxrss}\n")
    code = child.returncode
    return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return run(args[0], args[2:])


if __name__ == "__main__":
    sys.exit(main())
