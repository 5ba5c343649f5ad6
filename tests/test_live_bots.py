"""spicepy.bots end to end on a real Xspice with an xterm and an xmessage dialog.

The harness starts xterm (DejaVu Sans Mono, PS1="$ ") and gives it the input
focus (there is no window manager); everything after that goes through
``spicepy do``: typing a command, waiting for a needle, clicking it, reading
the command's output with OCR, and comparing the final terminal with a
reference.  tests/data/bots holds the needle and the reference, made from a
live run of the same flow (README there).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _bots_desktop import DATA, running_desktop, spicepy_do
from _bots_desktop import pytestmark as pytestmark
from PIL import Image

from spicepy.bots import ocr
from spicepy.testing.xspice import Xspice


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Xspice]:
    with running_desktop(tmp_path) as server:
        yield server


SCRIPT = """\
# type a command that opens a dialog and prints its exit status
type "xmessage -buttons Apply:3,Cancel:4 -geometry +400+300 Proceed?; echo EXIT=$?"
key enter
wait-needle {data}/xmessage-apply.json --timeout 60
click-needle {data}/xmessage-apply.json     # Apply exits with status 3
wait-text EXIT=3 --timeout 90
wait-settled
expect {data}/xterm-exit3.png --region 20 20 606 234 --timeout 30
capture final.png
"""


def test_script_types_reads_clicks_and_expects(
    desktop: Xspice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "flow.txt"
    script.write_text(SCRIPT.format(data=DATA))
    monkeypatch.chdir(tmp_path)
    status = spicepy_do(
        ["--timeout", "60", "--report-dir", str(tmp_path / "reports"), "-f",
         str(script), desktop.uri]
    )  # fmt: skip
    assert status == 0, sorted(p.name for p in (tmp_path / "reports").glob("*"))
    final = np.asarray(Image.open(tmp_path / "final.png").convert("RGB"))
    reference = np.asarray(Image.open(DATA / "xterm-exit3.png").convert("RGB"))
    assert np.array_equal(final[20:254, 20:626], reference)


VNCDO_SCRIPT = """\
# a vncdotool script: vncdo -s 127.0.0.1::5900 this-file
type 'echo vncdo'
kdown shift key x kup shift
key minus
type '$((6*7))'
key enter
sleep 2
rcapture shot.png 20 20 606 234
"""


def test_vncdo_script_runs_unchanged(
    desktop: Xspice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "login.vdo").write_text(VNCDO_SCRIPT)
    monkeypatch.chdir(tmp_path)  # vncdo reads a script named in command position
    assert spicepy_do(["--timeout", "60", desktop.uri, "login.vdo"]) == 0
    shot = np.asarray(Image.open(tmp_path / "shot.png").convert("RGB"))
    assert shot.shape == (234, 606, 3)
    words = ocr.read_words(shot)
    assert ocr.find_text(words, "vncdoX-42") is not None, ocr.read_text(shot)


def test_failed_expect_exits_1_with_a_report(
    desktop: Xspice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = np.zeros((50, 60, 3), np.uint8)
    wrong[:] = (255, 0, 0)
    Image.fromarray(wrong).save(tmp_path / "red.png")
    monkeypatch.chdir(tmp_path)
    status = spicepy_do(
        ["--report-dir", str(tmp_path / "r"), desktop.uri,
         "expect", "red.png", "--region", "30", "30", "60", "50", "--timeout", "2"]
    )  # fmt: skip
    assert status == 1
    diff = np.asarray(Image.open(tmp_path / "r" / "red-diff.png").convert("RGB"))
    assert diff.shape == (50, 60, 3) and (diff[..., 0] >= 128).all()
    assert (tmp_path / "r" / "red-report.png").is_file()
