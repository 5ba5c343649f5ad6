"""Display channel: INIT after the link, optional preferences, draw events."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive

from spicepy.channels import DisplayChannel, LinkCompleted, MessageReceived
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import (
    DisplayCap,
    DisplayMsgc,
    ImageCompression,
    ImageType,
    VideoCodecType,
)
from spicepy.wire.msg_display import (
    Copy,
    DisplayInit,
    DisplayMark,
    DrawCopy,
    PreferredCompression,
    PreferredVideoCodecType,
    StreamReport,
    SurfaceCreate,
)
from spicepy.wire.types import (
    CLIP_NONE,
    QMASK_NONE,
    BinaryData,
    DisplayBase,
    Image,
    ImageDescriptor,
    Rect,
)


def test_init_is_sent_right_after_link() -> None:
    srv = FakeServer()
    ch = DisplayChannel(
        1, connection_id=55, pixmap_cache_size=1000, glz_window_size=1234
    )
    link_pair(ch, srv)
    assert srv.link_mess is not None and srv.link_mess.connection_id == 55
    assert srv.link_mess.channel_id == 1
    out = ch.data_to_send()
    # spice.proto msgc_display_init: u8 cache id, i64 cache size, u8 dict id, i32 window
    body = struct.pack("<BqBi", 1, 1000, 1, 1234)
    assert out == struct.pack("<HI", DisplayMsgc.INIT, len(body)) + body
    assert srv.client_messages(out, 2) == [DisplayInit(1, 1000, 1, 1234)]


@pytest.mark.parametrize("server_has_pref", [False, True])
def test_preferred_compression_only_if_the_server_advertises_it(
    server_has_pref: bool,
) -> None:
    caps = {DisplayCap.PREF_COMPRESSION} if server_has_pref else set()
    srv = FakeServer(channel_caps=frozenset(caps))
    ch = DisplayChannel(preferred_compression=ImageCompression.LZ)
    link_pair(ch, srv)
    sent = srv.client_messages(ch.data_to_send(), 2)
    assert isinstance(sent[0], DisplayInit)
    assert (PreferredCompression(ImageCompression.LZ) in sent) == server_has_pref


def test_preferred_video_codec_if_the_server_advertises_it() -> None:
    srv = FakeServer(channel_caps=frozenset({DisplayCap.PREF_VIDEO_CODEC_TYPE}))
    ch = DisplayChannel(video_codecs=(VideoCodecType.MJPEG,))
    link_pair(ch, srv)
    sent = srv.client_messages(ch.data_to_send(), 2)
    assert sent[1:] == [PreferredVideoCodecType(1, (1,))]


def test_default_caps_advertised() -> None:
    srv = FakeServer()
    link_pair(DisplayChannel(), srv)
    assert srv.link_mess is not None
    word = srv.link_mess.channel_caps[0]
    for cap in (
        DisplayCap.LZ4_COMPRESSION,
        DisplayCap.PREF_COMPRESSION,
        DisplayCap.MULTI_CODEC,
        DisplayCap.CODEC_MJPEG,
        DisplayCap.SIZED_STREAM,
        DisplayCap.STREAM_REPORT,
    ):
        assert word >> cap & 1
    for cap in (DisplayCap.GL_SCANOUT, DisplayCap.CODEC_H264, DisplayCap.CODEC_VP8):
        assert not word >> cap & 1


def test_draw_messages_are_events_with_the_parsed_message() -> None:
    srv = FakeServer()
    ch = DisplayChannel()
    link_pair(ch, srv)
    assert isinstance(ch.next_event(), LinkCompleted)
    img = Image(
        ImageDescriptor(5, ImageType.LZ4, 0, 2, 2), binary=BinaryData(3, b"abc")
    )
    draw = DrawCopy(
        DisplayBase(0, Rect(0, 0, 2, 2), CLIP_NONE),
        Copy(img, Rect(0, 0, 2, 2), 8, 0, QMASK_NONE),
    )
    data = (
        srv.pack(SurfaceCreate(0, 64, 48, 32, 1))
        + srv.pack(draw)
        + srv.pack(DisplayMark())
    )
    events = drive(ch, data)
    assert [type(e) for e in events] == [MessageReceived] * 3
    got = events[1]
    assert isinstance(got, MessageReceived) and got.msg_type == 304
    assert got.message == draw
    assert got.message.data.src_bitmap.binary.data == b"abc"


def test_stream_report_bytes() -> None:
    srv = FakeServer()
    ch = DisplayChannel()
    link_pair(ch, srv)
    ch.data_to_send()
    ch.send_stream_report(3, 9, 100, 200, 10, 1, -5)
    out = ch.data_to_send()
    assert out == struct.pack("<HI", 102, 32) + struct.pack(
        "<6IiI", 3, 9, 100, 200, 10, 1, -5, 0xFFFFFFFF
    )
    assert srv.client_messages(out, 2) == [
        StreamReport(3, 9, 100, 200, 10, 1, -5, 0xFFFFFFFF)
    ]
