"""Review 8 of ``wire.layout``: a pointer's slot is the 32-bit unsigned offset
spice.proto gives every pointer (the lane reads it as such; a wider or signed
slot passed the writer comparison of test_wire_layout whenever the bytes after
it were zero and the offsets small)."""

from __future__ import annotations

import pytest
from _canvas_build import base

from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import BitmapFlags, ClipType
from spicepy.wire.layout import Slot, layout
from spicepy.wire.schema import encode_struct
from spicepy.wire.types import QMASK_NONE, Rect


@pytest.mark.parametrize("cls", [md.DrawCopy, md.DrawBlend])
def test_pointers_are_u32_offsets(cls: type) -> None:
    lay = layout(cls, {"base.clip.type": int(ClipType.NONE)})
    for path in ("data.src_bitmap", "data.mask.bitmap"):
        slot = lay.slots[path]
        assert (slot.width, slot.signed) == (4, False), path


def test_a_pointer_slot_reads_the_offset_the_writer_wrote_not_its_neighbours() -> None:
    """The bytes after the source pointer (the source area's top) are not
    zero: a slot wider than the pointer would read them too."""
    box = Rect(0, 0, 8, 8)
    msg = md.DrawCopy(
        base(0, box, None), md.Copy(None, Rect(0xFFFF, 7, 8, 8), 0, 0, QMASK_NONE)
    )
    body = encode_struct(msg)
    lay = layout(md.DrawCopy, {"base.clip.type": int(ClipType.NONE)})
    slot: Slot = lay.slots["data.src_bitmap"]
    value = int.from_bytes(
        body[slot.offset : slot.offset + slot.width], "little", signed=slot.signed
    )
    assert value == 0  # no source image: a null pointer
    assert lay.slots["data.src_area.top"].offset == slot.offset + 4


@pytest.mark.parametrize(
    "flags",
    [0, BitmapFlags.PAL_CACHE_ME, BitmapFlags.TOP_DOWN, BitmapFlags.PAL_FROM_CACHE]
    + [BitmapFlags.PAL_FROM_CACHE | BitmapFlags.TOP_DOWN | BitmapFlags.PAL_CACHE_ME],
)
def test_a_flag_condition_decides_the_fields_as_the_writer_does(flags: int) -> None:
    """A bitmap's palette id (flags with PAL_FROM_CACHE) or palette pointer
    (without): the slots laid out for those flags are the writer's fields."""
    cached = bool(flags & BitmapFlags.PAL_FROM_CACHE)
    bitmap = wt.BitmapData(
        1, flags, 2, 3, 4, palette_id=0x1122334455 if cached else None, data=bytes(12)
    )
    body = encode_struct(bitmap)
    lay = layout(wt.BitmapData, {"flags": int(flags)})
    assert ("palette_id" in lay.slots) == cached
    assert ("palette" in lay.slots) != cached
    for path in ("format", "flags", "x", "y", "stride", "palette_id"):
        if path in lay.slots:
            slot = lay.slots[path]
            got = int.from_bytes(body[slot.offset : slot.offset + slot.width], "little")
            assert got == getattr(bitmap, path), path
    if not cached:  # a null palette pointer right after the stride
        assert lay.slots["palette"].offset == lay.slots["stride"].offset + 4
