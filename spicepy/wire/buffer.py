"""A bounds-checked little-endian byte buffer (SPICE integers are little-endian).

A ``Buffer`` is either a reader over existing bytes (``Buffer(data)``) or a writer
(``Buffer()``); every ``pull_*`` checks the bytes left and raises ``WireError``.
"""

from __future__ import annotations

import struct

from spicepy.errors import WireError

__all__ = ["Buffer"]

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I8 = struct.Struct("<b")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")


class Buffer:
    """Sequential reader/writer of packed little-endian values.

    Args:
        data: the bytes to read; omit to build a new byte string with ``push_*``.
    """

    __slots__ = ("_view", "_pos", "_end", "_out")

    def __init__(self, data: bytes | bytearray | memoryview | None = None) -> None:
        if data is None:
            self._view = memoryview(b"")
            self._out: bytearray | None = bytearray()
        else:
            # read-only: payload views handed out must not let a caller edit the body
            self._view = (
                memoryview(data).cast("B").toreadonly()
                if not isinstance(data, bytes)
                else memoryview(data)
            )
            self._out = None
        self._pos = 0
        self._end = len(self._view)

    # -- reading -----------------------------------------------------------------
    @property
    def position(self) -> int:
        """Offset of the next byte to pull."""
        return self._pos

    @property
    def remaining(self) -> int:
        """Bytes left to pull."""
        return self._end - self._pos

    @property
    def view(self) -> memoryview:
        """The whole input as a memoryview."""
        return self._view

    def seek(self, pos: int) -> None:
        """Move the read position; WireError if outside the data."""
        if not 0 <= pos <= self._end:
            raise WireError(f"seek to {pos} outside {self._end} bytes")
        self._pos = pos

    def _take(self, n: int) -> int:
        pos = self._pos
        if n < 0 or pos + n > self._end:
            raise WireError(
                f"truncated: need {n} bytes at offset {pos}, have {self._end - pos}"
            )
        self._pos = pos + n
        return pos

    def pull_u8(self) -> int:
        return int(_U8.unpack_from(self._view, self._take(1))[0])

    def pull_u16(self) -> int:
        return int(_U16.unpack_from(self._view, self._take(2))[0])

    def pull_u32(self) -> int:
        return int(_U32.unpack_from(self._view, self._take(4))[0])

    def pull_u64(self) -> int:
        return int(_U64.unpack_from(self._view, self._take(8))[0])

    def pull_i8(self) -> int:
        return int(_I8.unpack_from(self._view, self._take(1))[0])

    def pull_i16(self) -> int:
        return int(_I16.unpack_from(self._view, self._take(2))[0])

    def pull_i32(self) -> int:
        return int(_I32.unpack_from(self._view, self._take(4))[0])

    def pull_i64(self) -> int:
        return int(_I64.unpack_from(self._view, self._take(8))[0])

    def pull_bytes(self, n: int) -> bytes:
        """Copy the next ``n`` bytes."""
        pos = self._take(n)
        return bytes(self._view[pos : pos + n])

    def pull_view(self, n: int) -> memoryview:
        """The next ``n`` bytes without copying."""
        pos = self._take(n)
        return self._view[pos : pos + n]

    # -- writing -----------------------------------------------------------------
    def _w(self) -> bytearray:
        if self._out is None:
            raise TypeError("this Buffer reads; create Buffer() to write")
        return self._out

    def _pack(self, st: struct.Struct, value: int) -> None:
        try:
            self._w().extend(st.pack(value))
        except struct.error as exc:
            raise ValueError(f"{value!r} does not fit {st.format}") from exc

    def push_u8(self, value: int) -> None:
        self._pack(_U8, value)

    def push_u16(self, value: int) -> None:
        self._pack(_U16, value)

    def push_u32(self, value: int) -> None:
        self._pack(_U32, value)

    def push_u64(self, value: int) -> None:
        self._pack(_U64, value)

    def push_i8(self, value: int) -> None:
        self._pack(_I8, value)

    def push_i16(self, value: int) -> None:
        self._pack(_I16, value)

    def push_i32(self, value: int) -> None:
        self._pack(_I32, value)

    def push_i64(self, value: int) -> None:
        self._pack(_I64, value)

    def push_bytes(self, value: bytes | bytearray | memoryview) -> None:
        self._w().extend(value)

    def patch_u32(self, pos: int, value: int) -> None:
        """Overwrite a u32 written earlier (pointer fix-ups)."""
        _U32.pack_into(self._w(), pos, value)

    @property
    def written(self) -> int:
        """Bytes pushed so far."""
        return len(self._w())

    def data(self) -> bytes:
        """Everything pushed so far."""
        return bytes(self._w())
