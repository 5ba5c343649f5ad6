"""README.md's Python examples run as written against a real Xspice (issue 14).

The blocks are taken from README.md itself (not copied here), so an edit that
breaks an example breaks this test. Only what a reader must change is
substituted: the example's address and password become the test server's, and
file paths land in a temp dir.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spicepy.testing import xspice as xs
from spicepy.testing.xdraw import XDraw

REPO = Path(__file__).resolve().parent.parent
REASON = xs.available()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
        reason=f"Xspice not available: {REASON}",
    ),
]


def _python_block(starting_with: str) -> str:
    """The README's ```python block whose code contains ``starting_with``."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    found = [b for b in blocks if starting_with in b]
    assert len(found) == 1, f"README: {len(found)} python blocks with {starting_with!r}"
    return found[0]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


#: An X client for the example to act on (Xspice has no window manager or
#: apps): a full-screen window that paints a 20x20 green square where it is
#: clicked, so the example's click has an effect for wait_for_change to see.
CLICK_APP = """
import sys
from Xlib import X, display
d = display.Display(sys.argv[1])
s = d.screen()
w = s.root.create_window(0, 0, s.width_in_pixels, s.height_in_pixels, 0, s.root_depth,
                         background_pixel=0x102030, override_redirect=True,
                         event_mask=X.ButtonPressMask | X.ExposureMask)
gc = w.create_gc(foreground=0x00C800)
w.map()
d.sync()
print("ready", flush=True)
while True:
    e = d.next_event()
    if e.type == X.ButtonPress:
        w.fill_rectangle(gc, e.event_x - 10, e.event_y - 10, 20, 20)
        d.flush()
"""


def test_python_api_example(tmp_path: Path) -> None:
    code = _python_block("async def main()")
    assert 'spicepy.connect("spice://127.0.0.1:5900", password="secret"' in code
    assert "await s.click(100, 200)" in code
    with xs.Xspice(xs.XspiceOptions(password="secret")) as server:
        app = subprocess.Popen(
            [sys.executable, "-c", CLICK_APP, server.display],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert app.stdout is not None and app.stdout.readline() == "ready\n"
            code = code.replace("spice://127.0.0.1:5900", server.uri)
            done = _run(code, tmp_path)
            assert done.returncode == 0, done.stderr
            with XDraw(server.display) as draw:
                truth = draw.framebuffer()
        finally:
            app.kill()
            app.wait()
    saved = np.asarray(Image.open(tmp_path / "screen.png").convert("RGB"))
    assert tuple(truth[200, 100]) == (0, 200, 0)  # the click landed at (100, 200)
    assert np.array_equal(saved, truth)  # ... and the screenshot came after it


def test_test_server_example(tmp_path: Path) -> None:
    code = _python_block("XspiceOptions(image_compression=")
    code = code.replace("/tmp/pki", str(tmp_path / "pki"))
    code += textwrap.dedent(
        """
        import numpy as np
        assert truth.shape[2] == 3 and (truth[10:60, 10:110] == (255, 0, 0)).all()
        assert server.uri.startswith("spice://127.0.0.1:") and "tls-port=" in server.uri
        """
    )
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "spice://127.0.0.1:" in done.stdout
