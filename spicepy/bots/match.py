"""Find a template (or an openQA needle) on a screen, with numpy only.

Score: ``1 - sqrt(MSE) / 255`` over the RGB values of the pixels that count
(a mask drops exclude areas), so 1.0 is an exact match and 0.0 is black
against white everywhere.  A needle area matches when its score reaches its
level (``match`` percent / 100), as in openQA.

Search is the sum of squared differences at every position of a window,
computed in three FFT correlations (``SSD = sum(M*I^2) - 2*sum(M*T*I) +
sum(M*T^2)``), so its cost does not grow with the template's size.  The
position with the least SSD is then re-scored exactly, so the reported score
never carries FFT rounding.  Before any search, the area is tried where the
needle recorded it: on a screen that still shows it there, a match costs one
subtraction, which is what makes matching on every screen update cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spicepy.bots.needles import Area, Needle

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
#: (x, y, width, height) on the screen
Rect = tuple[int, int, int, int]
#: windows with more pixels than this are searched coarse-to-fine
COARSE_ABOVE = 640 * 480
#: coarse search on POOL x POOL block means, refined at the best CANDIDATES spots
POOL = 4
CANDIDATES = 16


@dataclass(frozen=True, slots=True)
class Found:
    """The best position of a template: its top-left corner and its score."""

    x: int
    y: int
    score: float


@dataclass(frozen=True, slots=True)
class AreaMatch:
    """Where one match area of a needle scored best."""

    area: Area
    x: int
    y: int
    score: float

    @property
    def ok(self) -> bool:
        return self.score >= self.area.level


@dataclass(frozen=True, slots=True)
class Match:
    """A needle's best position on a screen.

    ``x, y`` is the top-left corner of the needle's first match area on the
    screen, ``score`` the lowest area score, ``ok`` whether every area reached
    its level; ``click`` is where ``click_on`` clicks (the area's
    ``click_point``, else the centre of the first match area).
    """

    needle: str
    x: int
    y: int
    width: int
    height: int
    score: float
    ok: bool
    click: tuple[int, int]
    areas: tuple[AreaMatch, ...]


def score_at(
    screen: Image, template: Image, mask: Mask | None, x: int, y: int
) -> float:
    """The score of ``template`` with its top-left corner at (x, y) of ``screen``.

    Raises:
        ValueError: the template does not lie on the screen there.
    """
    h, w = template.shape[:2]
    if x < 0 or y < 0 or y + h > screen.shape[0] or x + w > screen.shape[1]:
        raise ValueError(f"{w}x{h} at ({x}, {y}) is off the screen")
    diff = screen[y : y + h, x : x + w].astype(np.int32) - template
    sq = (diff * diff).sum(axis=2, dtype=np.int64)
    if mask is None:
        count, ssd = h * w, int(sq.sum())
    else:
        count, ssd = int(mask.sum()), int(sq[mask].sum())
    return _score(ssd, count)


def _score(ssd: float, count: int) -> float:
    if count == 0:
        return 1.0
    return max(0.0, 1.0 - float(np.sqrt(max(ssd, 0.0) / (3 * count))) / 255.0)


def _smooth_size(n: int) -> int:
    """The least 2^a 3^b 5^c >= n (sizes pocketfft transforms fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def search(
    screen: Image,
    template: Image,
    mask: Mask | None = None,
    *,
    window: Rect | None = None,
) -> Found:
    """The position inside ``window`` (default: the whole screen) where
    ``template`` fits best.

    Raises:
        ValueError: the template does not fit in the window.
    """
    sh, sw = screen.shape[:2]
    wx, wy, ww, wh = window if window is not None else (0, 0, sw, sh)
    x0, y0 = max(0, wx), max(0, wy)
    x1, y1 = min(sw, wx + ww), min(sh, wy + wh)
    h, w = template.shape[:2]
    if x1 - x0 < w or y1 - y0 < h:
        raise ValueError(f"a {w}x{h} template does not fit in {ww}x{wh}+{wx}+{wy}")
    if (x1 - x0) * (y1 - y0) > COARSE_ABOVE and min(h, w) >= 4 * POOL:
        return _search_coarse(screen, template, mask, (x0, y0, x1 - x0, y1 - y0))
    return _search_exact(screen, template, mask, (x0, y0, x1 - x0, y1 - y0))


def _search_exact(
    screen: Image, template: Image, mask: Mask | None, win: Rect
) -> Found:
    """Every position of a window (already clipped to the screen)."""
    x0, y0, ww, wh = win
    h, w = template.shape[:2]
    if ww == w and wh == h:
        return Found(x0, y0, score_at(screen, template, mask, x0, y0))
    win_px = screen[y0 : y0 + wh, x0 : x0 + ww].astype(np.float64)
    ssd = _ssd_map(win_px, template.astype(np.float64), mask)
    iy, ix = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
    x, y = x0 + int(ix), y0 + int(iy)
    return Found(x, y, score_at(screen, template, mask, x, y))


def _pool(image: npt.NDArray[np.float64], f: int) -> npt.NDArray[np.float64]:
    h, w = image.shape[0] // f, image.shape[1] // f
    cut = image[: h * f, : w * f]
    pooled: npt.NDArray[np.float64] = cut.reshape(h, f, w, f, *image.shape[2:]).mean(
        axis=(1, 3)
    )
    return pooled


def _search_coarse(
    screen: Image, template: Image, mask: Mask | None, win: Rect
) -> Found:
    """Search a big window on POOL x POOL block means first, then refine the
    CANDIDATES best coarse spots exactly at full resolution."""
    x0, y0, ww, wh = win
    f = POOL
    small = _pool(screen[y0 : y0 + wh, x0 : x0 + ww].astype(np.float64), f)
    tmpl = _pool(template.astype(np.float64), f)
    small_mask = None if mask is None else _pool(mask.astype(np.float64), f) > 0.5
    ssd = _ssd_map(small, tmpl, small_mask)
    flat = ssd.ravel()
    k = min(CANDIDATES, flat.size)
    best: Found | None = None
    for i in np.argpartition(flat, k - 1)[:k]:
        cy, cx = np.unravel_index(int(i), ssd.shape)
        th, tw = template.shape[:2]
        rx = min(max(x0, x0 + int(cx) * f - f), x0 + ww - tw)
        ry = min(max(y0, y0 + int(cy) * f - f), y0 + wh - th)
        rw = min(tw + 3 * f, x0 + ww - rx)
        rh = min(th + 3 * f, y0 + wh - ry)
        found = _search_exact(screen, template, mask, (rx, ry, rw, rh))
        if best is None or found.score > best.score:
            best = found
    assert best is not None
    return best


def _ssd_map(
    win: npt.NDArray[np.float64], tmpl: npt.NDArray[np.float64], mask: Mask | None
) -> npt.NDArray[np.float64]:
    """SSD of ``tmpl`` (masked) at every position where it fits in ``win``.

    Circular correlation of size >= the window never wraps for a position
    where the template fits, so no padding beyond the window is needed.
    """
    H, W = win.shape[:2]
    h, w = tmpl.shape[:2]
    size = (_smooth_size(H), _smooth_size(W))
    m = np.ones((h, w)) if mask is None else mask.astype(np.float64)
    planes = np.ascontiguousarray(win.transpose(2, 0, 1))  # FFTs over the last axes
    f_m = np.conj(np.fft.rfft2(m, size))
    f_sq = np.fft.rfft2((planes * planes).sum(axis=0), size)
    f_win = np.fft.rfft2(planes, size)
    f_tm = np.conj(
        np.fft.rfft2(np.ascontiguousarray(tmpl.transpose(2, 0, 1)) * m, size)
    )
    spectrum = f_sq * f_m
    for c in range(3):
        spectrum -= 2.0 * f_win[c] * f_tm[c]
    out = np.fft.irfft2(spectrum, size)[: H - h + 1, : W - w + 1]
    return out + float((tmpl * tmpl * m[..., None]).sum())


def _area_window(
    area: Area, screen_shape: tuple[int, ...], region: Rect | None
) -> Rect:
    sh, sw = screen_shape[:2]
    if area.margin is None:
        x, y, w, h = 0, 0, sw, sh
    else:
        m = area.margin
        x, y, w, h = area.x - m, area.y - m, area.width + 2 * m, area.height + 2 * m
    if region is not None:
        rx, ry, rw, rh = region
        nx, ny = max(x, rx), max(y, ry)
        w, h = min(x + w, rx + rw) - nx, min(y + h, ry + rh) - ny
        x, y = nx, ny
    nx, ny = max(0, x), max(0, y)
    return nx, ny, min(sw, x + w) - nx, min(sh, y + h) - ny


def match_area(
    screen: Image, needle: Needle, area: Area, region: Rect | None = None
) -> AreaMatch:
    """The best position of one match area of ``needle`` (within its margin)."""
    template, mask = needle.crop(area), needle.mask(area)
    used_mask = None if bool(mask.all()) else mask
    wx, wy, ww, wh = _area_window(area, screen.shape, region)
    if ww < area.width or wh < area.height:
        return AreaMatch(area, max(0, wx), max(0, wy), 0.0)
    # fast path: the area is still where the needle recorded it
    if wx <= area.x <= wx + ww - area.width and wy <= area.y <= wy + wh - area.height:
        here = score_at(screen, template, used_mask, area.x, area.y)
        if here == 1.0:
            return AreaMatch(area, area.x, area.y, here)
    found = search(screen, template, used_mask, window=(wx, wy, ww, wh))
    return AreaMatch(area, found.x, found.y, found.score)


def match_needle(screen: Image, needle: Needle, *, region: Rect | None = None) -> Match:
    """Search every match area of ``needle`` on ``screen`` (RGB (h, w, 3) uint8).

    ``region`` (x, y, w, h) limits the search.  OCR areas are not checked here
    (``spicepy.bots.actions`` does that, as it needs Tesseract).

    Raises:
        ValueError: the needle has no match area.
    """
    areas = needle.match_areas
    if not areas:
        raise ValueError(f"needle {needle.name!r} has no match area")
    found = tuple(match_area(screen, needle, a, region) for a in areas)
    first = found[0]
    dx, dy = first.x - first.area.x, first.y - first.area.y
    click = (first.x + first.area.width // 2, first.y + first.area.height // 2)
    for a in needle.areas:
        if a.click_point is not None:  # relative to where its area was found
            ax, ay = next(
                ((f.x, f.y) for f in found if f.area == a), (a.x + dx, a.y + dy)
            )
            click = (ax + a.click_point[0], ay + a.click_point[1])
    return Match(
        needle.name,
        first.x,
        first.y,
        first.area.width,
        first.area.height,
        min(f.score for f in found),
        all(f.ok for f in found),
        click,
        found,
    )
