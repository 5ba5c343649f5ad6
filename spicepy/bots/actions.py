"""Screen assertions and waits for bots, on the public Session API.

Every wait follows one loop (``_watch``): check the current screen; if the
check fails, wait for the next primary-surface change after the screenshot
(``wait_for_change(since=...)``, so a change that lands while the check runs
is not lost) and check again, until the deadline.  Checks run in a worker
thread (numpy and Tesseract release the GIL), so the session keeps reading.
A timed-out wait raises ``ScreenMismatchError`` whose ``report`` has the best
score, where, and PNGs of the last screen, the reference and their diff.

    await expect(s, "login.png", timeout=30)
    m = await click_on(s, "needles/ok-button.json")
    await wait_for_text(s, "login:", region=(0, 0, 800, 200))
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from spicepy.bots import ocr
from spicepy.bots.match import Match, match_needle
from spicepy.bots.needles import Needle, load_png
from spicepy.bots.report import (
    FailureReport,
    ScreenMismatchError,
    write_report,
    write_screen_report,
)
from spicepy.errors import SpiceTimeoutError

if TYPE_CHECKING:
    from spicepy.session.session import ChangedRect, Session

Image = npt.NDArray[np.uint8]
Rect = tuple[int, int, int, int]
T = TypeVar("T")
NeedleLike = Needle | str | Path

__all__ = [
    "ExpectResult",
    "click_on",
    "click_text",
    "expect",
    "find",
    "find_text",
    "wait_change",
    "wait_for_needle",
    "wait_for_text",
    "wait_settled",
]


@dataclass(frozen=True, slots=True)
class _Checked(Generic[T]):
    ok: bool
    value: T


async def _watch(
    session: Session,
    check: Callable[[Image], _Checked[T]],
    timeout: float,
) -> tuple[_Checked[T], Image, bool]:
    """Check the screen now and after every change; (last result, its screen,
    whether the deadline passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await session.wait_for_frame(max(timeout, 0.001))
    while True:
        since = session.change_count
        screen = session.screenshot()
        result = await asyncio.to_thread(check, screen)
        if result.ok:
            return result, screen, False
        remaining = deadline - loop.time()
        if remaining <= 0:
            return result, screen, True
        try:
            await session.wait_for_change(remaining, since=since)
        except SpiceTimeoutError:
            return result, screen, True


def _needle(needle: NeedleLike) -> Needle:
    return needle if isinstance(needle, Needle) else Needle.load(needle)


# -- expect: the screen (or a region) equals a reference image -------------------


@dataclass(frozen=True, slots=True)
class ExpectResult:
    """How far a screen was from the reference: the largest channel difference
    and the number of pixels over ``max_diff`` (-1: the sizes differ)."""

    max_delta: int
    bad_pixels: int


def compare(
    screen: Image, reference: Image, at: tuple[int, int], max_diff: int
) -> ExpectResult:
    """Compare ``reference`` with the screen at ``at`` (its top-left corner)."""
    h, w = reference.shape[:2]
    x, y = at
    if x < 0 or y < 0 or y + h > screen.shape[0] or x + w > screen.shape[1]:
        return ExpectResult(255, -1)
    delta = np.abs(screen[y : y + h, x : x + w].astype(np.int16) - reference).max(
        axis=2
    )
    return ExpectResult(int(delta.max(initial=0)), int((delta > max_diff).sum()))


async def expect(
    session: Session,
    reference: str | Path | Image,
    *,
    region: tuple[int, int] | Rect | None = None,
    max_diff: int = 0,
    timeout: float = 10.0,
    report_dir: str | Path | None = None,
) -> None:
    """Wait until the screen shows ``reference`` (a PNG path or an RGB array).

    Args:
        region: where the reference sits: (x, y) or (x, y, w, h) with w, h the
            reference's size; None: the reference is the whole screen.
        max_diff: the largest difference allowed in any channel of any pixel
            (0 = exact).
        timeout: seconds.
        report_dir: where the failure report goes (default $SPICEPY_REPORT_DIR
            or a new temporary directory).

    Raises:
        ScreenMismatchError: no match in time; ``.report`` says how far off.
        NeedleError: the reference cannot be read.
        ValueError: a region whose size is not the reference's.
    """
    name = Path(reference).stem if isinstance(reference, str | Path) else "expect"
    ref = load_png(reference) if isinstance(reference, str | Path) else reference
    if not 0 <= max_diff <= 255:
        raise ValueError(f"max_diff {max_diff} outside 0..255")
    at = (0, 0) if region is None else (int(region[0]), int(region[1]))
    if region is not None and len(region) == 4:
        if (region[3], region[2]) != ref.shape[:2]:
            raise ValueError(
                f"region {region[2]}x{region[3]} is not the reference's size "
                f"{ref.shape[1]}x{ref.shape[0]}"
            )

    def check(screen: Image) -> _Checked[ExpectResult]:
        if region is None and screen.shape != ref.shape:
            return _Checked(False, ExpectResult(255, -1))
        result = compare(screen, ref, at, max_diff)
        return _Checked(result.bad_pixels == 0, result)

    last, screen, _ = await _watch(session, check, timeout)
    if last.ok:
        return
    r = last.value
    if r.bad_pixels < 0:
        detail = (
            f"the {ref.shape[1]}x{ref.shape[0]} reference does not fit the "
            f"{screen.shape[1]}x{screen.shape[0]} screen at {at}"
        )
    else:
        detail = (
            f"{r.bad_pixels} pixel(s) differ by more than {max_diff} "
            f"(max {r.max_delta})"
        )
    rep = write_report(
        f"screen did not match {name} within {timeout}s",
        screen,
        ref,
        at,
        name=name,
        directory=report_dir,
        detail=detail,
    )
    raise ScreenMismatchError(rep)


# -- needles -------------------------------------------------------------------


def _ocr_ok(screen: Image, needle: Needle, m: Match) -> bool:
    """openQA's OCR areas: the text read where the area landed is close enough
    to its ``refstr`` (areas without one are not checked)."""
    dx, dy = m.x - needle.match_areas[0].x, m.y - needle.match_areas[0].y
    for a in needle.ocr_areas:
        if a.refstr is None:
            continue
        text = ocr.read_text(screen, (a.x + dx, a.y + dy, a.width, a.height))
        if ocr.similarity(" ".join(text.split()), " ".join(a.refstr.split())) < a.level:
            return False
    return True


def _check_needle(
    needle: Needle, region: Rect | None
) -> Callable[[Image], _Checked[Match]]:
    def check(screen: Image) -> _Checked[Match]:
        m = match_needle(screen, needle, region=region)
        return _Checked(m.ok and _ocr_ok(screen, needle, m), m)

    return check


async def find(
    session: Session, needle: NeedleLike, *, region: Rect | None = None
) -> Match | None:
    """The needle on the current screen (no waiting), or None when some area
    stays under its level.  (``wait_for_needle`` waits.)"""
    n = _needle(needle)
    await session.wait_for_frame()
    result = await asyncio.to_thread(_check_needle(n, region), session.screenshot())
    return result.value if result.ok else None


async def wait_for_needle(
    session: Session,
    needle: NeedleLike,
    *,
    region: Rect | None = None,
    timeout: float = 30.0,
    report_dir: str | Path | None = None,
) -> Match:
    """Wait until ``needle`` (a Needle, or a .json/.png path) is on the screen.

    Raises:
        ScreenMismatchError: not found in time; the report has the best score
            and where, and screen/needle/diff PNGs.
        NeedleError: the needle files cannot be used.
    """
    n = _needle(needle)
    last, screen, _ = await _watch(session, _check_needle(n, region), timeout)
    if last.ok:
        return last.value
    m = last.value
    worst = min(m.areas, key=lambda a: a.score - a.area.level)
    a = worst.area
    need = ", ".join(f"{x.area.match:g}%" for x in m.areas)
    rep = write_report(
        f"needle {n.name!r} not found within {timeout}s",
        screen,
        n.crop(a),
        (worst.x, worst.y),
        name=n.name,
        directory=report_dir,
        score=m.score,
        detail=f"needs {need}",
    )
    raise ScreenMismatchError(rep)


async def click_on(
    session: Session,
    needle: NeedleLike,
    *,
    button: int = 1,
    region: Rect | None = None,
    timeout: float = 30.0,
    report_dir: str | Path | None = None,
) -> Match:
    """Wait for ``needle``, then click its click point (``Match.click``)."""
    m = await wait_for_needle(
        session, needle, region=region, timeout=timeout, report_dir=report_dir
    )
    await session.click(m.click[0], m.click[1], button)
    return m


# -- text ------------------------------------------------------------------------


def find_text(
    screen: Image, text: str, region: Rect | None = None
) -> ocr.TextMatch | None:
    """``text`` read on ``screen`` (case ignored), or None."""
    return ocr.find_text(ocr.read_words(screen, region), text)


async def wait_for_text(
    session: Session,
    text: str,
    *,
    region: Rect | None = None,
    timeout: float = 30.0,
    report_dir: str | Path | None = None,
) -> ocr.TextMatch:
    """Wait until OCR reads ``text`` on the screen (or in ``region``).

    Raises:
        ScreenMismatchError: not read in time; the report has the last screen
            and what was read instead.
        OcrError: OCR is not available.
    """
    reason = ocr.unavailable()
    if reason is not None:
        raise ocr.OcrError(reason)

    def check(screen: Image) -> _Checked[tuple[ocr.TextMatch | None, list[ocr.Word]]]:
        words = ocr.read_words(screen, region)
        hit = ocr.find_text(words, text)
        return _Checked(hit is not None, (hit, words))

    last, screen, _ = await _watch(session, check, timeout)
    hit, words = last.value
    if hit is not None:
        return hit
    seen = " | ".join(" ".join(w.text for w in ln) for ln in ocr.lines(words))
    rep = write_screen_report(
        f"text {text!r} not read within {timeout}s",
        screen,
        name=f"text-{text[:24]}",
        directory=report_dir,
        detail=f"read: {seen[:300]!r}",
    )
    raise ScreenMismatchError(rep)


async def click_text(
    session: Session,
    text: str,
    *,
    button: int = 1,
    region: Rect | None = None,
    timeout: float = 30.0,
    report_dir: str | Path | None = None,
) -> ocr.TextMatch:
    """Wait for ``text`` and click the centre of its box."""
    hit = await wait_for_text(
        session, text, region=region, timeout=timeout, report_dir=report_dir
    )
    await session.click(*hit.center, button)
    return hit


# -- changes ---------------------------------------------------------------------


def _touches(rect: ChangedRect, region: Rect) -> bool:
    rx, ry, rw, rh = region
    return (
        rect.left < rx + rw
        and rect.right > rx
        and rect.top < ry + rh
        and rect.bottom > ry
    )


async def wait_change(
    session: Session, *, region: Rect | None = None, timeout: float = 30.0
) -> None:
    """Wait for the next screen change after this call (in ``region`` if given).

    Raises:
        SpiceTimeoutError: nothing changed (there) in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    since = session.change_count
    while True:
        rects = await session.wait_for_change(
            max(0.0, deadline - loop.time()), since=since
        )
        if region is None or any(_touches(r, region) for r in rects):
            return
        since = session.change_count


async def wait_settled(
    session: Session,
    *,
    quiet: float = 0.5,
    timeout: float = 30.0,
    region: Rect | None = None,
    max_diff: int | None = None,
) -> None:
    """Wait until the screen stays still for ``quiet`` seconds.

    Without ``region`` and ``max_diff``: nothing was drawn at all (the server
    says what it draws).  With them (vncdo's ``stable``/``rstable``): no pixel
    of ``region`` (default: the whole screen) differs by more than
    ``max_diff`` (default 0) in any channel from the window's first picture;
    a bigger difference restarts the window.

    Raises:
        SpiceTimeoutError: never that still within ``timeout``.
        ValueError: ``region`` is off the screen.
    """
    if region is None and max_diff is None:
        await session.wait_until_settled(quiet=quiet, timeout=timeout)
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def picture() -> Image:
        screen = session.screenshot()
        if region is None:
            return screen
        x, y, w, h = region
        if x < 0 or y < 0 or x + w > screen.shape[1] or y + h > screen.shape[0]:
            raise ValueError(
                f"region {w}x{h}+{x}+{y} is off the "
                f"{screen.shape[1]}x{screen.shape[0]} screen"
            )
        return screen[y : y + h, x : x + w].copy()

    await session.wait_for_frame(max(0.0, deadline - loop.time()))
    since, start, first = session.change_count, loop.time(), picture()
    while True:
        now = loop.time()
        if now - start >= quiet:
            return
        if now >= deadline:
            raise SpiceTimeoutError(
                f"the screen{'' if region is None else f' region {region}'} "
                f"was not still for {quiet} s within {timeout} s"
            )
        try:
            rects = await session.wait_for_change(
                min(start + quiet, deadline) - now, since=since
            )
        except SpiceTimeoutError:
            continue  # no change until the window ended (or the deadline)
        since = session.change_count
        if region is not None and not any(_touches(r, region) for r in rects):
            continue
        now_picture = picture()
        diff = np.abs(now_picture.astype(np.int16) - first).max(initial=0)
        if diff > (max_diff or 0):
            start, first = loop.time(), now_picture


def failure_report(exc: BaseException) -> FailureReport | None:
    """The report a failed wait carried (for test-report hooks)."""
    return exc.report if isinstance(exc, ScreenMismatchError) else None
