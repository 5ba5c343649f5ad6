"""Edges of the wire layer that its round-trip and twin tests never reach: the
texts of the programming-error exceptions, the read-only views of a reading
Buffer, the array-length bounds at their exact limits, the spec cache, a
zero-caps link message at offset 0 and usbredir's defaults (tests/MUTATION.md,
wire: the survivors of the late 203-mutant check and the open ones)."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from spicepy.errors import WireError
from spicepy.wire import link, schema
from spicepy.wire import usbredir as u
from spicepy.wire.buffer import Buffer
from spicepy.wire.messages import encode_message
from spicepy.wire.msg_common import Notify
from spicepy.wire.stream import MessageReaderRef


# -- Buffer -------------------------------------------------------------------------
def test_new_buffer_reads_nothing() -> None:
    b = Buffer()
    assert b.remaining == 0
    assert b.view.tobytes() == b""


@pytest.mark.parametrize("make", [bytearray, lambda d: memoryview(bytearray(d))])
def test_reading_view_is_read_only(make: object) -> None:
    # a payload view handed out must not let its holder edit the caller's bytes
    b = Buffer(make(b"\x01\x02\x03"))  # type: ignore[operator]
    assert b.view.readonly
    assert b.pull_view(2).readonly
    assert b.view.tobytes() == b"\x01\x02\x03"


def test_reading_buffer_refuses_push() -> None:
    b = Buffer(b"\x00")
    with pytest.raises(
        TypeError, match=r"^this Buffer reads; create Buffer\(\) to write$"
    ):
        b.push_u8(1)


def test_overflow_names_value_and_format() -> None:
    with pytest.raises(ValueError, match=r"^300 does not fit <B$"):
        Buffer().push_u8(300)


def test_encode_message_names_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"^int is not a SPICE message$"):
        encode_message(5)


# -- schema -------------------------------------------------------------------------
def test_count_limit_is_inclusive() -> None:
    top = schema.MAX_ARRAY_ITEMS * 64
    assert schema._count(top, {}) == top
    assert schema._count("n", {"n": top}) == top
    with pytest.raises(WireError, match=f"^length {top + 1} out of range$"):
        schema._count(top + 1, {})


def test_array_of_exactly_max_items() -> None:
    n = schema.MAX_ARRAY_ITEMS
    arr = schema.Array(schema.U8, n)
    got = arr.pull(schema.Reader(Buffer(bytes(n))), {})
    assert len(got) == n
    with pytest.raises(WireError):
        schema.Array(schema.U8, n + 1).pull(schema.Reader(Buffer(bytes(n + 1))), {})


@dataclasses.dataclass(frozen=True)
class _Runs:
    """Runs of ``n`` bytes to the end of the body: the @end loop's elements read
    an earlier field of the enclosing struct, as the counted loop's do."""

    n: int = dataclasses.field(metadata=schema.wt(schema.U8))
    runs: tuple[bytes, ...] = dataclasses.field(
        metadata=schema.wt(schema.Array(schema.Bytes("n"), None))
    )


def test_end_array_elements_see_earlier_fields() -> None:
    got = schema.decode_struct(_Runs, b"\x02abcdef")
    assert got == _Runs(2, (b"ab", b"cd", b"ef"))
    assert schema.encode_struct(got) == b"\x02abcdef"


def test_spec_is_built_once_per_class() -> None:
    first = schema.spec(_Runs)
    assert [name for name, _, _ in first] == ["n", "runs"]
    assert schema.spec(_Runs) is first


# -- link ---------------------------------------------------------------------------
def test_link_mess_without_caps_accepts_offset_zero() -> None:
    # no capability words: the offset locates nothing, so none can be out of place
    body = struct.pack("<IBBIII", 7, 2, 1, 0, 0, 0)
    assert link.LinkMess.parse(body) == link.LinkMess(7, 2, 1, (), ())


# -- usbredir -----------------------------------------------------------------------
def test_encode_packet_default_id_is_zero() -> None:
    raw = u.encode_packet(u.Reset(), negotiated=frozenset(), ids64=False)
    assert struct.unpack_from("<III", raw) == (u.UsbredirType.RESET, 0, 0)


def test_short_layout_refusal_names_packet_and_byte() -> None:
    pkt = u.DeviceConnect(1, 0, 0, 0, 0x1234, 0x5678, device_version_bcd=0x0200)
    with pytest.raises(
        ValueError, match=r"^DeviceConnect: fields past byte 8 need a capability$"
    ):
        u.encode_packet(pkt, negotiated=frozenset(), ids64=False)


def test_filter_rules_without_nul_refused_with_text() -> None:
    with pytest.raises(ValueError, match=r"^filter rules must end with a NUL byte$"):
        u.FilterFilter(b"-1,-1,-1,-1,1")


# -- stream -------------------------------------------------------------------------
def test_message_reader_refuses_counts_not_a_dict() -> None:
    with pytest.raises(TypeError, match=r"^counts must be a dict$"):
        MessageReaderRef({}, 1, lambda *a: a, [], [])  # type: ignore[arg-type]


# -- msg_common (mutmut skips the property: checked here by hand) --------------------
@pytest.mark.parametrize(
    ("message", "text"),
    [(b"disk full", "disk full"), (b"cut\0here", "cut"), (b"bad \xff", "bad \ufffd")],
)
def test_notify_text_stops_at_nul_and_replaces_bad_utf8(
    message: bytes, text: str
) -> None:
    assert Notify(1, 2, 3, 4, len(message), message).text == text
