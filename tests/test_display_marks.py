"""Display MARKs: ``Session.frames`` / ``wait_for_frame`` count a MARK only when
it completes a picture of the primary surface (spice-gtk emits its
``display-mark`` for the primary only)."""

from __future__ import annotations

from spicepy.channels.events import MessageReceived
from spicepy.session.core import DisplayDriver, SessionCore
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ChannelType, SurfaceFmt

DISPLAY = int(ChannelType.DISPLAY)


def test_a_mark_counts_only_with_a_primary_surface() -> None:
    driver = DisplayDriver()
    driver.apply(md.DisplayMark())  # no surface yet: no frame
    assert driver.marks == 0
    driver.apply(md.SurfaceCreate(1, 8, 8, SurfaceFmt.FMT_32_xRGB, 0))
    driver.apply(md.DisplayMark())  # an off-screen surface is no frame either
    assert driver.marks == 0
    driver.apply(md.SurfaceCreate(0, 8, 8, SurfaceFmt.FMT_32_xRGB, 1))
    driver.apply(md.DisplayMark())
    driver.apply(md.DisplayMark())
    assert driver.marks == 2
    driver.apply(md.SurfaceDestroy(0))
    driver.apply(md.DisplayMark())
    assert driver.marks == 2


def test_session_marks_sum_the_display_channels() -> None:
    core = SessionCore()
    for cid in (0, 1):
        core.add_display(cid)

    def feed(cid: int, msg: object) -> None:
        core.handle_event((DISPLAY, cid), MessageReceived(DISPLAY, 0, 0, msg), 0.0)

    feed(1, md.DisplayMark())
    assert core.marks == 0  # what wait_for_frame waits on
    feed(1, md.SurfaceCreate(0, 4, 4, SurfaceFmt.FMT_32_xRGB, 1))
    feed(1, md.DisplayMark())
    feed(0, md.DisplayMark())
    assert core.marks == 1
