"""Benchmark images: deterministic synthetic frames, the codec vectors, capture images.

Every image is a C-contiguous ``uint8`` array of shape ``(h, w, 4)`` in the canvas
byte order B, G, R, X (X = 0), the layout every spicepy decoder returns.

- ``synthetic()``: four 1920x1080 frames made here, identical on every run:
  ``terminal`` (xterm-like text in Pillow's built-in bitmap font on a dark
  background), ``photo`` (a procedural natural-looking picture: 1/f^2 colour
  noise with soft lighting and sensor grain; the vectors hold no photograph and
  no package here ships sample photos), ``synth_gradient`` (smooth colour
  ramps; ``gradient`` is the vector PNG) and ``noise`` (uniform random bytes,
  the incompressible worst case).
- ``vector_images(dir)``: the reference vectors' PNGs (desktop, desktop_plt8,
  desktop_scrolled, gradient).
- ``capture_images(dir)``: the largest lossless images the real server sent in
  the capture corpus, decoded (needs ``spicepy.capture.images``).
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "HEIGHT",
    "WIDTH",
    "capture_images",
    "fast_paths",
    "captures_path",
    "bench_capture_images",
    "image_names",
    "gradient",
    "noise",
    "photo",
    "rgb_to_bgrx",
    "synthetic",
    "terminal",
    "vector_images",
    "vectors_path",
    "with_captures",
]

U8 = npt.NDArray[np.uint8]
WIDTH, HEIGHT = 1920, 1080

# xterm's default 16-colour palette, the colours a shell session uses most
_XTERM = [(205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
          (0, 205, 205), (229, 229, 229), (255, 85, 85), (85, 255, 85)]  # fmt: skip
_WORDS = ("spice server client display channel cursor inputs main quic lz glz "
          "drwxr-xr-x root 4096 Nov 25 20:48 total ls -la cat grep make python "
          "pytest PASSED FAILED ok build/ src/ README.md setup.py 0x7f3a 127.0.0.1"
          ).split()  # fmt: skip


def rgb_to_bgrx(rgb: npt.NDArray[np.uint8]) -> U8:
    """(h, w, 3) RGB -> (h, w, 4) B, G, R, 0."""
    h, w = rgb.shape[:2]
    out = np.zeros((h, w, 4), dtype=np.uint8)
    out[..., 0] = rgb[..., 2]
    out[..., 1] = rgb[..., 1]
    out[..., 2] = rgb[..., 0]
    return out


def _bitmap_font() -> ImageFont.ImageFont:
    # Pillow >= 10.1 returns a FreeType font from load_default(); we want the
    # fixed bitmap font an xterm would show
    loader = getattr(ImageFont, "load_default_imagefont", None)
    font = loader() if loader is not None else ImageFont.load_default()
    assert isinstance(font, ImageFont.ImageFont)
    return font


def terminal(width: int = WIDTH, height: int = HEIGHT, seed: int = 1) -> U8:
    """Shell output in a bitmap font on a near-black background, some lines coloured."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (16, 16, 16))
    draw = ImageDraw.Draw(img)
    font = _bitmap_font()
    line_h = 13
    for y in range(4, height - line_h, line_h):
        x = 4
        if rng.random() < 0.15:
            continue  # blank line
        colour = (229, 229, 229) if rng.random() < 0.7 else rng.choice(_XTERM)
        words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 30))]
        text = " ".join(words)[: (width - 8) // 6]
        draw.text((x, y), text, font=font, fill=colour)
    return rgb_to_bgrx(np.asarray(img))


def photo(width: int = WIDTH, height: int = HEIGHT, seed: int = 2) -> U8:
    """A procedural photograph: 1/f^1.5 colour fields, lighting and grain."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = 1.0 / f**1.5  # natural images: amplitude ~ 1/f^a with a in 1..2
    amp[0, 0] = 0.0
    base = rng.standard_normal((height, width // 2 + 1)) + 1j * rng.standard_normal(
        (height, width // 2 + 1)
    )
    luma = np.fft.irfft2(base * amp, s=(height, width))
    chroma = []
    for _ in range(2):
        c = rng.standard_normal(base.shape) + 1j * rng.standard_normal(base.shape)
        chroma.append(np.fft.irfft2(c * amp * 0.5, s=(height, width)))

    def norm(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (a - a.mean()) / (a.std() + 1e-9)

    y = 128 + 45 * norm(luma)
    yy, xx = np.mgrid[0:height, 0:width]
    vignette = 1.0 - 0.35 * (
        ((xx - width / 2) / width) ** 2 + ((yy - height / 2) / height) ** 2
    )
    y = y * vignette + rng.normal(0.0, 2.0, (height, width))  # sensor grain
    cb, cr = 18 * norm(chroma[0]), 18 * norm(chroma[1])
    rgb = np.stack([y + 1.4 * cr, y - 0.34 * cb - 0.71 * cr, y + 1.77 * cb], axis=-1)
    return rgb_to_bgrx(np.clip(rgb, 0, 255).astype(np.uint8))


def gradient(width: int = WIDTH, height: int = HEIGHT) -> U8:
    """Smooth colour ramps: horizontal red, vertical green, diagonal blue."""
    x = np.linspace(0.0, 1.0, width)[None, :]
    y = np.linspace(0.0, 1.0, height)[:, None]
    rgb = np.empty((height, width, 3), dtype=np.float64)
    rgb[..., 0] = 255 * x
    rgb[..., 1] = 255 * y
    rgb[..., 2] = 255 * (1.0 - (x + y) / 2)
    return rgb_to_bgrx(np.rint(rgb).astype(np.uint8))


def noise(width: int = WIDTH, height: int = HEIGHT, seed: int = 3) -> U8:
    """Uniform random colour bytes (X stays 0)."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    out[..., 3] = 0
    return out


@functools.cache
def synthetic() -> dict[str, U8]:
    """The four synthetic 1920x1080 frames, by name."""
    return {"terminal": terminal(), "photo": photo(), "synth_gradient": gradient(),
            "noise": noise()}  # fmt: skip


def vector_images(vectors_dir: Path) -> dict[str, U8]:
    """The vector PNGs (``desktop``, ``desktop_plt8``, ...) as BGRX, by stem."""
    out: dict[str, U8] = {}
    for png in sorted(vectors_dir.glob("*.png")):
        with Image.open(png) as im:
            out[png.stem] = rgb_to_bgrx(np.asarray(im.convert("RGB")))
    return out


def capture_images(captures_dir: Path, *, per_capture: int = 1,
                   min_pixels: int = 64 * 64) -> dict[str, U8]:  # fmt: skip
    """The largest losslessly coded images of each capture, decoded, as BGRX.

    The first image of a capture (the screen pushed at connect, much alike in
    every capture) is left out. Keys are ``<capture>:<image type>#<index>``.
    Images whose codec is not available are skipped.
    """
    from spicepy.capture.images import decode_payloads, extract_images
    from spicepy.errors import SpiceError

    out: dict[str, U8] = {}
    for pcap in sorted(captures_dir.glob("*.pcap")):
        name = pcap.stem
        try:
            payloads = extract_images(pcap)
            decoded = decode_payloads(payloads, skip_undecodable=True)
        except (SpiceError, OSError):
            continue
        lossless = [
            (p, img) for p, img in decoded
            if img is not None and not p.lossy and p.index > 0
            and p.width * p.height >= min_pixels
        ]  # fmt: skip
        lossless.sort(key=lambda pi: -pi[0].width * pi[0].height)
        for p, img in lossless[:per_capture]:
            img = np.ascontiguousarray(img.copy())
            img[..., 3] = 0
            out[f"{name}:{p.type_name}#{p.index}"] = img
    return out


def _shared(env: str, name: str) -> Path | None:
    import os

    if os.environ.get(env):
        path = Path(os.environ[env])
        return path if path.is_dir() else None
    path = Path(__file__).resolve().parents[2] / "shared" / name
    return path if path.is_dir() else None


def vectors_path() -> Path | None:
    """$SPICEPY_VECTORS, else ../shared/vectors beside the checkout, or None."""
    return _shared("SPICEPY_VECTORS", "vectors")


def captures_path() -> Path | None:
    """$SPICEPY_CAPTURES, else ../shared/captures beside the checkout, or None."""
    return _shared("SPICEPY_CAPTURES", "captures")


SYNTHETIC_NAMES = ["terminal", "photo", "synth_gradient", "noise"]


def with_captures() -> bool:
    """$SPICEPY_BENCH_CAPTURES=1 adds the capture images to the benchmark set."""
    import os

    return os.environ.get("SPICEPY_BENCH_CAPTURES", "") not in ("", "0")


@functools.cache
def bench_capture_images() -> dict[str, U8]:
    """``capture_images`` of the corpus when enabled (``with_captures``), else {}."""
    path = captures_path()
    if path is None or not with_captures():
        return {}
    return capture_images(path)


def image_names() -> list[str]:
    """Names of the benchmark image set: synthetic frames, vector PNG stems, then
    (with $SPICEPY_BENCH_CAPTURES=1) one picture per capture."""
    names = list(SYNTHETIC_NAMES)
    path = vectors_path()
    if path is not None:
        names += [p.stem for p in sorted(path.glob("*.png"))]
    return names + list(bench_capture_images())


def fast_paths() -> bool:
    """Every codec with a Cython twin uses it (not SPICEPY_PUREPYTHON, all built)."""
    import importlib

    for name in ("quic", "lz", "glz"):
        try:
            module = importlib.import_module(f"spicepy.codecs.{name}")
        except ImportError:
            continue
        if not getattr(module, "FAST", False):
            return False
    return True
