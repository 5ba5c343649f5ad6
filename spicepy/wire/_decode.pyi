"""Stub of the compiled message decoder (``_decode.pyx``); twin of
``schema.decode_struct``."""

from typing import TypeVar

T = TypeVar("T")

def decode_struct(cls: type[T], body: bytes | bytearray | memoryview) -> T: ...
