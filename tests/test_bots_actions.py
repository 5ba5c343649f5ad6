"""spicepy.bots.actions on a scripted screen (no server): waits, reports, clicks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from PIL import Image

from spicepy.bots import actions
from spicepy.bots.needles import Area, Needle
from spicepy.bots.report import ScreenMismatchError
from spicepy.errors import SpiceTimeoutError
from spicepy.session.core import ChangedRect
from spicepy.session.session import Session


class FakeScreen:
    """The part of Session the actions use, with a screen the test changes."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self.change_count = 0
        self.rects: list[ChangedRect] = []
        self.clicks: list[tuple[int, int, int]] = []
        self._changed = asyncio.Event()

    async def wait_for_frame(self, timeout: float = 30.0) -> None:
        return None

    def screenshot(self) -> np.ndarray:
        return self.image.copy()

    def show(self, image: np.ndarray, rect: ChangedRect | None = None) -> None:
        self.image = image
        self.change_count += 1
        self.rects.append(rect or ChangedRect(0, 0, image.shape[1], image.shape[0]))
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(
        self, timeout: float = 30.0, *, since: int | None = None
    ) -> list[ChangedRect]:
        start = self.change_count if since is None else since
        try:
            async with asyncio.timeout(timeout):
                while self.change_count <= start:
                    await self._changed.wait()
        except TimeoutError:
            raise SpiceTimeoutError("no change") from None
        return self.rects[start:]

    async def click(self, x: int, y: int, button: int = 1) -> None:
        self.clicks.append((x, y, button))


def S(fake: FakeScreen) -> Session:
    return cast(Session, fake)


def scene(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (60, 80, 3), dtype=np.uint8)


def later(delay: float, fn: Any, *args: Any) -> None:
    asyncio.get_running_loop().call_later(delay, fn, *args)


def test_expect_waits_for_the_reference(tmp_path: Path) -> None:
    start, goal = scene(1), scene(2)
    Image.fromarray(goal).save(tmp_path / "goal.png")

    async def go() -> None:
        s = FakeScreen(start)
        later(0.05, s.show, scene(3))
        later(0.1, s.show, goal)
        await actions.expect(S(s), tmp_path / "goal.png", timeout=5)
        assert s.change_count == 2

    asyncio.run(go())


def test_expect_region_and_max_diff() -> None:
    screen = scene(4)
    ref = np.clip(screen[10:30, 20:50].astype(np.int16) + 3, 0, 255).astype(np.uint8)

    async def go() -> None:
        s = FakeScreen(screen)
        await actions.expect(S(s), ref, region=(20, 10), max_diff=3, timeout=0)
        with pytest.raises(ScreenMismatchError):
            await actions.expect(
                S(s), ref, region=(20, 10, 30, 20), max_diff=2, timeout=0
            )

    asyncio.run(go())


def test_expect_timeout_writes_a_readable_report(tmp_path: Path) -> None:
    screen = scene(5)
    ref = screen.copy()
    ref[7, 9] = (ref[7, 9].astype(np.int16) + 40) % 256  # one pixel off

    async def go() -> ScreenMismatchError:
        s = FakeScreen(screen)
        with pytest.raises(ScreenMismatchError) as info:
            await actions.expect(S(s), ref, timeout=0.1, report_dir=tmp_path)
        return info.value

    err = asyncio.run(go())
    assert "1 pixel(s) differ by more than 0" in str(err)
    files = err.report.files
    assert np.array_equal(np.asarray(Image.open(files["screen"])), screen)
    assert np.array_equal(np.asarray(Image.open(files["reference"])), ref)
    diff = np.asarray(Image.open(files["diff"]))
    red = (diff[..., 0] > 128) & (diff[..., 1] == 0)
    assert list(zip(*np.nonzero(red), strict=True)) == [(7, 9)]
    report = np.asarray(Image.open(files["report"]))
    assert report.shape == (60, 3 * 80 + 2 * 8, 3)


def test_wait_for_needle_and_click_on(tmp_path: Path) -> None:
    base = scene(6)
    button = scene(7)[:12, :20]
    shown = base.copy()
    shown[30:42, 40:60] = button
    needle = Needle.from_image(button, "button")
    with_point = needle.with_areas(
        (Area(0, 0, 20, 12, margin=None, click_point=(2, 3)),)
    )

    async def go() -> None:
        s = FakeScreen(base)
        assert await actions.find(S(s), needle) is None
        later(0.05, s.show, shown)
        m = await actions.click_on(S(s), with_point, timeout=5)
        assert (m.x, m.y, m.score) == (40, 30, 1.0)
        assert s.clicks == [(42, 33, 1)]
        with pytest.raises(ScreenMismatchError) as info:
            await actions.wait_for_needle(
                S(s),
                Needle.from_image(scene(8)[:10, :10], "gone"),
                timeout=0.05,
                report_dir=tmp_path,
            )
        assert info.value.report.score is not None and info.value.report.score < 0.96
        assert "needle 'gone' not found" in str(info.value)
        assert info.value.report.files["report"].is_file()

    asyncio.run(go())


def test_wait_change_in_region() -> None:
    async def go() -> None:
        s = FakeScreen(scene(9))
        later(0.02, s.show, scene(9), ChangedRect(0, 0, 5, 5))
        later(0.06, s.show, scene(9), ChangedRect(50, 40, 60, 50))
        await actions.wait_change(S(s), region=(45, 35, 20, 20), timeout=5)
        assert s.change_count == 2
        with pytest.raises(SpiceTimeoutError):
            await actions.wait_change(S(s), timeout=0.05)

    asyncio.run(go())


def test_wait_settled_in_a_region_with_fuzz() -> None:
    """vncdo's rstable: only changes in the region that move a pixel by more
    than the fuzz restart the quiet window."""

    async def go() -> None:
        base = scene(10)
        s = FakeScreen(base.copy())
        loop = asyncio.get_running_loop()
        region = (0, 0, 10, 10)
        # 8 changes 50 ms apart: outside the region, or inside by at most 3
        for i in range(8):
            img = base.copy()
            if i % 2:
                img[30:40, 30:40] = 255 - img[30:40, 30:40]  # outside
                rect = ChangedRect(30, 30, 40, 40)
            else:
                img[0:10, 0:10] = np.clip(img[0:10, 0:10].astype(int) + 3, 0, 255)
                rect = ChangedRect(0, 0, 10, 10)
            later(0.05 * (i + 1), s.show, img, rect)
        start = loop.time()
        await actions.wait_settled(
            S(s), quiet=0.2, timeout=5, region=region, max_diff=3
        )
        assert s.change_count < 8  # still while the screen kept changing
        assert loop.time() - start >= 0.2
        # the same changes with fuzz 2: the region moves by 3, so only once
        # the changes stop (the last at 0.4 s) and 0.2 s pass is it still
        s2 = FakeScreen(base.copy())
        for i in range(8):
            img = base.copy()
            img[0:10, 0:10] = (img[0:10, 0:10].astype(int) + 3 * (i + 1)) % 256
            later(0.05 * (i + 1), s2.show, img, ChangedRect(0, 0, 10, 10))
        start = loop.time()
        await actions.wait_settled(
            S(s2), quiet=0.2, timeout=5, region=region, max_diff=2
        )
        assert s2.change_count == 8
        assert loop.time() - start >= 0.4 + 0.2
        # never still: a timeout; a region off the screen: a ValueError
        for i in range(1, 20):
            later(0.02 * i, s2.show, scene(i), ChangedRect(0, 0, 80, 60))
        with pytest.raises(SpiceTimeoutError, match="not still"):
            await actions.wait_settled(S(s2), quiet=0.1, timeout=0.3, max_diff=0)
        with pytest.raises(ValueError, match="off the"):
            await actions.wait_settled(S(s2), quiet=0.1, region=(70, 0, 20, 10))

    asyncio.run(go())


def test_a_needle_whose_ocr_area_reads_otherwise_is_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """openQA: every OCR area of a needle must read its refstr (within the
    area's level) for the needle to match, however well the pixels match."""
    from spicepy.bots import ocr

    screen = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    needle = Needle(
        "n",
        screen.copy(),
        (Area(0, 0, 40, 30), Area(40, 30, 30, 20, "ocr", 90.0, refstr="Login:")),
    )
    read: list[tuple[int, int, int, int]] = []

    def reads(text: str) -> None:
        def fake(image: object, rect: tuple[int, int, int, int]) -> str:
            read.append(rect)
            return text

        monkeypatch.setattr(ocr, "read_text", fake)

    reads("Password:")
    assert not actions._check_needle(needle, None)(screen).ok
    reads("Login:")
    assert actions._check_needle(needle, None)(screen).ok
    assert read == [(40, 30, 30, 20)] * 2  # where the OCR area lies on the screen
