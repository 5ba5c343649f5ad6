"""openQA needles: a reference PNG plus a JSON list of areas, loaded and saved.

The JSON is openQA's (os-autoinst ``needle.pm``), so existing needle
collections load unchanged::

    {"tags": ["login-prompt"], "properties": [],
     "area": [{"xpos": 10, "ypos": 20, "width": 100, "height": 30,
               "type": "match", "match": 96, "margin": 50,
               "click_point": {"xpos": 50, "ypos": 15}}]}

Area ``type`` is ``match`` (default), ``ocr`` or ``exclude``; ``match`` is the
similarity level in percent (openQA's defaults: 96 for match areas, 90 for ocr
areas); ``margin`` is how far (pixels) from its recorded position a match area
is searched (default 50).  An ``ocr`` area's expected text is its ``refstr``.
A bare PNG (no JSON beside it) is a needle with one match area covering the
whole image, searched anywhere on the screen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from spicepy.errors import SpiceError

AreaType = Literal["match", "ocr", "exclude"]
AREA_TYPES: tuple[AreaType, ...] = ("match", "ocr", "exclude")
#: openQA's default levels (tinycv.pm: ``$area->{match} || 96``, ocr ``|| 90``)
DEFAULT_MATCH = 96.0
DEFAULT_OCR_MATCH = 90.0
#: needle.pm: ``$area->{margin} || 50``
DEFAULT_MARGIN = 50
#: a needle image bigger than an 8K screen is a mistake or hostile
MAX_NEEDLE_PIXELS = 7680 * 4320
MAX_AREAS = 1000


class NeedleError(SpiceError, ValueError):
    """A needle file that cannot be used (bad JSON, areas off the image...)."""


@dataclass(frozen=True, slots=True)
class Area:
    """One rectangle of a needle, in the needle image's pixels.

    ``margin=None`` searches the whole screen (or the caller's region).
    """

    x: int
    y: int
    width: int
    height: int
    type: AreaType = "match"
    match: float = DEFAULT_MATCH
    margin: int | None = DEFAULT_MARGIN
    click_point: tuple[int, int] | None = None
    refstr: str | None = None

    @property
    def level(self) -> float:
        """The score (0..1) this area needs."""
        return self.match / 100.0


@dataclass(frozen=True, slots=True)
class Needle:
    """A reference image (h, w, 3) uint8 RGB and its areas."""

    name: str
    image: npt.NDArray[np.uint8] = field(repr=False)
    areas: tuple[Area, ...]
    tags: tuple[str, ...] = ()
    properties: tuple[Any, ...] = ()

    @property
    def match_areas(self) -> tuple[Area, ...]:
        return tuple(a for a in self.areas if a.type == "match")

    @property
    def exclude_areas(self) -> tuple[Area, ...]:
        return tuple(a for a in self.areas if a.type == "exclude")

    @property
    def ocr_areas(self) -> tuple[Area, ...]:
        return tuple(a for a in self.areas if a.type == "ocr")

    def mask(self, area: Area) -> npt.NDArray[np.bool_]:
        """True for the pixels of ``area`` that count (not under an exclude area)."""
        keep = np.ones((area.height, area.width), np.bool_)
        for ex in self.exclude_areas:
            x0, y0 = max(ex.x, area.x), max(ex.y, area.y)
            x1 = min(ex.x + ex.width, area.x + area.width)
            y1 = min(ex.y + ex.height, area.y + area.height)
            if x0 < x1 and y0 < y1:
                keep[y0 - area.y : y1 - area.y, x0 - area.x : x1 - area.x] = False
        return keep

    def crop(self, area: Area) -> npt.NDArray[np.uint8]:
        return self.image[area.y : area.y + area.height, area.x : area.x + area.width]

    @classmethod
    def from_image(
        cls,
        image: npt.NDArray[np.uint8],
        name: str = "image",
        *,
        match: float = DEFAULT_MATCH,
        margin: int | None = None,
        tags: tuple[str, ...] = (),
    ) -> Needle:
        """A needle whose one match area is the whole image."""
        image = _rgb(image)
        h, w = image.shape[:2]
        area = Area(0, 0, w, h, "match", float(match), margin)
        return cls(name, image, (area,), tags)

    @classmethod
    def load(cls, path: str | Path) -> Needle:
        """Load ``NAME.json`` + ``NAME.png`` (either path), or a bare PNG.

        Raises:
            NeedleError: unreadable or inconsistent files.
        """
        path = Path(path)
        json_path = path.with_suffix(".json")
        png_path = path.with_suffix(".png")
        image = load_png(png_path)
        if not json_path.is_file():
            return cls.from_image(image, png_path.stem)
        try:
            doc = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NeedleError(f"{json_path}: not readable JSON: {exc}") from exc
        return cls.from_json(doc, image, json_path.stem, where=str(json_path))

    @classmethod
    def from_json(
        cls,
        doc: object,
        image: npt.NDArray[np.uint8],
        name: str,
        *,
        where: str = "needle",
    ) -> Needle:
        """Build a needle from openQA's JSON document (already parsed).

        Raises:
            NeedleError: missing/ill-typed fields, areas off the image, no match
                or ocr area.
        """
        image = _rgb(image)
        if not isinstance(doc, dict):
            raise NeedleError(f"{where}: the JSON is not an object")
        raw_areas = doc.get("area", [])
        if not isinstance(raw_areas, list) or len(raw_areas) > MAX_AREAS:
            raise NeedleError(f"{where}: 'area' must be a list (<= {MAX_AREAS})")
        areas = tuple(
            _parse_area(a, image.shape, f"{where}: area {i}")
            for i, a in enumerate(raw_areas)
        )
        if not any(a.type in ("match", "ocr") for a in areas):
            raise NeedleError(f"{where}: no match or ocr area")
        if sum(a.click_point is not None for a in areas) > 1:
            raise NeedleError(f"{where}: more than one area has a click_point")
        tags = doc.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise NeedleError(f"{where}: 'tags' must be a list of strings")
        props = doc.get("properties", [])
        if not isinstance(props, list):
            raise NeedleError(f"{where}: 'properties' must be a list")
        return cls(name, image, areas, tuple(tags), tuple(props))

    def to_json(self) -> dict[str, Any]:
        """openQA's JSON document for this needle."""
        areas = []
        for a in self.areas:
            doc: dict[str, Any] = {
                "xpos": a.x,
                "ypos": a.y,
                "width": a.width,
                "height": a.height,
                "type": a.type,
            }
            default = DEFAULT_OCR_MATCH if a.type == "ocr" else DEFAULT_MATCH
            if a.type != "exclude" and a.match != default:
                doc["match"] = a.match
            if a.type == "match" and a.margin is not None:
                doc["margin"] = a.margin
            if a.click_point is not None:
                doc["click_point"] = {
                    "xpos": a.click_point[0],
                    "ypos": a.click_point[1],
                }
            if a.refstr is not None:
                doc["refstr"] = a.refstr
            areas.append(doc)
        return {
            "area": areas,
            "tags": list(self.tags),
            "properties": list(self.properties),
        }

    def save(self, path: str | Path) -> None:
        """Write ``NAME.json`` and ``NAME.png`` (``path`` with either suffix)."""
        from PIL import Image

        path = Path(path)
        Image.fromarray(self.image, "RGB").save(path.with_suffix(".png"))
        path.with_suffix(".json").write_text(
            json.dumps(self.to_json(), indent=2) + "\n"
        )

    def with_areas(self, areas: tuple[Area, ...]) -> Needle:
        return replace(self, areas=areas)


def _int(doc: dict[str, Any], key: str, where: str, default: int = 0) -> int:
    value = doc.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NeedleError(f"{where}: {key!r} must be a number, not {value!r}")
    return int(value)


def _parse_area(doc: object, shape: tuple[int, ...], where: str) -> Area:
    if not isinstance(doc, dict):
        raise NeedleError(f"{where}: not an object")
    kind = doc.get("type") or "match"
    if kind not in AREA_TYPES:
        raise NeedleError(f"{where}: unknown type {kind!r}")
    x, y = _int(doc, "xpos", where), _int(doc, "ypos", where)
    w, h = _int(doc, "width", where), _int(doc, "height", where)
    img_h, img_w = shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > img_w or y + h > img_h:
        raise NeedleError(
            f"{where}: {w}x{h}+{x}+{y} does not lie on the {img_w}x{img_h} image"
        )
    default = DEFAULT_OCR_MATCH if kind == "ocr" else DEFAULT_MATCH
    match = doc.get("match") or default
    if isinstance(match, bool) or not isinstance(match, int | float):
        raise NeedleError(f"{where}: 'match' must be a number")
    if not 0 <= match <= 100:
        raise NeedleError(f"{where}: 'match' {match} is not a percentage")
    margin = _int(doc, "margin", where, DEFAULT_MARGIN) or DEFAULT_MARGIN
    if margin < 0:
        raise NeedleError(f"{where}: negative margin")
    click = doc.get("click_point")
    click_point = None
    if click is not None:
        if not isinstance(click, dict):
            raise NeedleError(f"{where}: click_point must be an object")
        click_point = (_int(click, "xpos", where), _int(click, "ypos", where))
    refstr = doc.get("refstr")
    if refstr is not None and not isinstance(refstr, str):
        raise NeedleError(f"{where}: refstr must be a string")
    return Area(x, y, w, h, kind, float(match), margin, click_point, refstr)


def _rgb(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("a needle image is an (h, w, 3) uint8 RGB array")
    if image.shape[0] * image.shape[1] > MAX_NEEDLE_PIXELS:
        raise NeedleError(f"needle image {image.shape[1]}x{image.shape[0]} too big")
    return np.ascontiguousarray(image)


def load_png(path: str | Path) -> npt.NDArray[np.uint8]:
    """An image file as (h, w, 3) uint8 RGB (alpha dropped).

    Raises:
        NeedleError: missing, unreadable or oversized image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_NEEDLE_PIXELS:
                raise NeedleError(f"{path}: {img.width}x{img.height} is too big")
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise NeedleError(f"{path}: cannot read image: {exc}") from exc
    return np.ascontiguousarray(rgb)
