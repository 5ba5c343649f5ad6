"""``../shared/tools/replay-server`` for the benchmarks that run a client
against a recorded capture (bench_window, bench_stream_frames,
bench_instructions ``--live``): where the tools and captures are, and one
server per client run.

The benchmarks that use it are also run as ``python -P benchmarks/X.py``
(nothing beside the script on ``sys.path``); they put this folder on the path
before importing it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the server's first line: "replay-server: NAME on spice://127.0.0.1:PORT (...)"
_URI = re.compile(r"spice://127\.0\.0\.1:(\d+)")


def captures_dir() -> Path:
    """$SPICEPY_CAPTURES, else ../shared/captures beside the checkout."""
    env = os.environ.get("SPICEPY_CAPTURES")
    return Path(env) if env else HERE.parents[1] / "shared" / "captures"


def tools_dir() -> Path:
    """$SPICEPY_TOOLS, else ../shared/tools beside the checkout."""
    env = os.environ.get("SPICEPY_TOOLS")
    return Path(env) if env else HERE.parents[1] / "shared" / "tools"


@contextmanager
def replay_server(name: str, timeout: float) -> Iterator[str]:
    """Serve capture ``name`` to one client session; yields its ``spice://``
    URI and stops the server on exit.  ``timeout``: replay-server's own limit
    from a connection's data phase to its close (seconds)."""
    server = subprocess.Popen(
        [str(tools_dir() / "replay-server"), str(captures_dir() / f"{name}.pcap")]
        + ["--port", "0", "--sessions", "1", "--timeout", f"{timeout:g}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        found = _URI.search(server.stdout.readline())
        if found is None:
            raise RuntimeError("replay-server did not say its port")
        yield f"spice://127.0.0.1:{found.group(1)}"
    finally:
        server.terminate()
        server.wait(10)
