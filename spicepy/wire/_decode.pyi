"""Stub of the compiled message decoder (``_decode.pyx``); twin of
``schema.decode_struct``."""

from typing import TypeVar

T = TypeVar("T")

def decode_struct(cls: type[T], body: bytes | bytearray | memoryview) -> T: ...
def split_frames(
    data: memoryview, mini_header: bool, start: int = 0, max_size: int = ...
) -> tuple[list[tuple[int, memoryview, int, int, int, int]], int]: ...
