"""Failure reports a person can read: what was wanted, the best found, and PNGs.

When an ``expect`` or a needle/text wait times out, the error carries a
``FailureReport``: the best score and where, and the files written to the
report directory: the last screen, the reference, a diff image, and the three
side by side (``NAME-report.png``: screen crop | reference | diff).  The diff
shows the reference in grey with every differing pixel in red (brighter =
further off), so a one-pixel difference is still visible.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from spicepy.errors import SpiceTimeoutError

Image = npt.NDArray[np.uint8]
#: where reports go when the caller names no directory
REPORT_DIR_ENV = "SPICEPY_REPORT_DIR"
GAP = 8  # pixels between the side-by-side panels


@dataclass(frozen=True, slots=True)
class FailureReport:
    """What a failed wait found, and the PNG files that show it."""

    what: str
    score: float | None = None
    where: tuple[int, int] | None = None
    files: dict[str, Path] = field(default_factory=dict)
    detail: str = ""

    def summary(self) -> str:
        parts = [self.what]
        if self.score is not None:
            parts.append(f"best score {self.score:.4f}")
        if self.where is not None:
            parts.append(f"at {self.where}")
        if self.detail:
            parts.append(self.detail)
        if "report" in self.files:
            parts.append(f"report: {self.files['report']}")
        return "; ".join(parts)


class ScreenMismatchError(SpiceTimeoutError):
    """An expect / needle / text wait timed out; ``report`` says what was seen."""

    def __init__(self, report: FailureReport) -> None:
        super().__init__(report.summary())
        self.report = report


def diff_image(screen: Image, reference: Image) -> Image:
    """Reference in dim grey, differing pixels in red scaled by the difference."""
    if screen.shape != reference.shape:
        raise ValueError(f"shapes differ: {screen.shape} vs {reference.shape}")
    delta = np.abs(screen.astype(np.int16) - reference).max(axis=2)
    grey = (reference.mean(axis=2) * 0.35).astype(np.uint8)
    out = np.repeat(grey[..., None], 3, axis=2)
    hit = delta > 0
    out[hit, 0] = np.clip(128 + delta[hit], 0, 255).astype(np.uint8)
    out[hit, 1] = 0
    out[hit, 2] = 0
    return out


def side_by_side(*panels: Image) -> Image:
    """Panels left to right on a dark background, tops aligned."""
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1)
    out = np.full((height, width, 3), 40, np.uint8)
    x = 0
    for p in panels:
        out[: p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + GAP
    return out


def report_dir(directory: str | Path | None) -> Path:
    """The directory to write into: the argument, $SPICEPY_REPORT_DIR, or a
    fresh temporary directory."""
    if directory is None:
        env = os.environ.get(REPORT_DIR_ENV)
        if not env:
            return Path(tempfile.mkdtemp(prefix="spicepy-report-"))
        directory = env
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "report"


def write_report(
    what: str,
    screen: Image,
    reference: Image,
    at: tuple[int, int],
    *,
    name: str,
    directory: str | Path | None = None,
    score: float | None = None,
    detail: str = "",
) -> FailureReport:
    """Write the screen, the reference, the diff at ``at`` (the reference's
    top-left corner on the screen) and the three side by side.

    The crop of the screen is the reference's size at ``at`` (clipped to the
    screen; what falls off it is black).
    """
    from PIL import Image as PILImage

    out = report_dir(directory)
    base = _slug(name)
    h, w = reference.shape[:2]
    x, y = at
    crop = np.zeros_like(reference)
    sy0, sx0 = max(0, y), max(0, x)
    sy1, sx1 = min(screen.shape[0], y + h), min(screen.shape[1], x + w)
    if sy0 < sy1 and sx0 < sx1:
        crop[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = screen[sy0:sy1, sx0:sx1]
    diff = diff_image(crop, reference)
    files = {
        "screen": out / f"{base}-screen.png",
        "reference": out / f"{base}-reference.png",
        "diff": out / f"{base}-diff.png",
        "report": out / f"{base}-report.png",
    }
    PILImage.fromarray(screen, "RGB").save(files["screen"])
    PILImage.fromarray(reference, "RGB").save(files["reference"])
    PILImage.fromarray(diff, "RGB").save(files["diff"])
    PILImage.fromarray(side_by_side(crop, reference, diff), "RGB").save(files["report"])
    return FailureReport(what, score, at, files, detail)


def write_screen_report(
    what: str,
    screen: Image,
    *,
    name: str,
    directory: str | Path | None = None,
    detail: str = "",
) -> FailureReport:
    """A report with only the last screen (text waits have no reference image)."""
    from PIL import Image as PILImage

    out = report_dir(directory)
    path = out / f"{_slug(name)}-screen.png"
    PILImage.fromarray(screen, "RGB").save(path)
    return FailureReport(what, None, None, {"screen": path, "report": path}, detail)
