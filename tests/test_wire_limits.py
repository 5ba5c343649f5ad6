"""The message size limit is exact: MAX_MESSAGE_SIZE bytes pass, one more is
refused (header parser and decoder agree); found by mutation testing."""

from __future__ import annotations

import struct

import pytest

from spicepy.errors import WireError
from spicepy.wire.enums import ChannelType
from spicepy.wire.headers import parse_header
from spicepy.wire.messages import decode_message
from spicepy.wire.schema import MAX_MESSAGE_SIZE


@pytest.mark.parametrize("mini", [True, False])
def test_header_size_limit_is_inclusive(mini: bool) -> None:
    def header(size: int) -> bytes:
        if mini:
            return struct.pack("<HI", 101, size)
        return struct.pack("<QHII", 7, 101, size, 0)

    assert parse_header(header(MAX_MESSAGE_SIZE), mini).size == MAX_MESSAGE_SIZE
    with pytest.raises(WireError, match="exceeds MAX_MESSAGE_SIZE"):
        parse_header(header(MAX_MESSAGE_SIZE + 1), mini)


def test_decoder_size_limit_is_inclusive() -> None:
    """An unknown message of exactly the limit is kept; one byte more is not."""
    body = bytes(MAX_MESSAGE_SIZE)
    decode_message(ChannelType.CURSOR, 0xFFF0, body)
    with pytest.raises(WireError):
        decode_message(ChannelType.CURSOR, 0xFFF0, body + b"\0")
