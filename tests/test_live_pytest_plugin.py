"""The pytest plugin (spicepy.bots.pytest_plugin) run by pytester on Xspice:
a passing and a deliberately failing GUI test; the failure's report names the
last screen and the expect's diff image, and the files are there."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest
from _bots_desktop import pytestmark as pytestmark

from spicepy.testing.xspice import Xspice, XspiceOptions

pytest_plugins = ["pytester"]

INNER = """
import numpy as np

def test_sees_the_screen(spice):
    assert spice.screenshot().shape == (768, 1024, 3)

def test_fails_on_purpose(spice):
    red = np.zeros((40, 50, 3), np.uint8)
    red[..., 0] = 255
    spice.expect(red, region=(10, 20, 50, 40), timeout=1)
"""


@pytest.fixture
def server() -> Iterator[Xspice]:
    with Xspice(XspiceOptions(image_compression="off")) as srv:
        yield srv


def plugin_args() -> list[str]:
    """-p the plugin unless the installed entry point already loads it."""
    names = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    return (
        []
        if "spicepy.bots.pytest_plugin" in names
        else ["-p", "spicepy.bots.pytest_plugin"]
    )


def test_failure_report_shows_screen_and_diff(
    pytester: pytest.Pytester, server: Xspice, tmp_path: Path
) -> None:
    pytester.makepyfile(test_gui=INNER)
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        *plugin_args(), "--spice-uri", server.uri, "--spice-report-dir", str(reports),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- spicepy -*",
            "last screen: *last-screen.png",
            "screen did not match expect within 1s;*2000 pixel(s) differ*",
            "diff: *expect-diff.png",
        ]
    )
    (failed_dir,) = [p for p in reports.iterdir() if "fails_on_purpose" in p.name]
    assert (failed_dir / "last-screen.png").is_file()
    assert (failed_dir / "expect-diff.png").is_file()
    assert (failed_dir / "expect-report.png").is_file()


def test_without_uri_the_fixture_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_gui=INNER)
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
