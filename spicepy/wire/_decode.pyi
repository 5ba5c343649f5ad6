"""Stub of the compiled message decoder (``_decode.pyx``); twin of
``schema.decode_struct``."""

from typing import TypeVar

T = TypeVar("T")

def build(cls: type[T], values: tuple[object, ...]) -> T: ...
def decode_struct(cls: type[T], body: bytes | bytearray | memoryview) -> T: ...
def split_frames(
    data: memoryview, mini_header: bool, start: int = 0, max_size: int = ...
) -> tuple[list[tuple[int, memoryview, int, int, int, int]], int]: ...

class Lane:
    @property
    def classes(self) -> dict[int, type] | None: ...
    def set_wanted(self, classes: dict[int, type]) -> None: ...

class MessageReader:
    lane: Lane | None
    def __init__(
        self,
        table: dict[int, type],
        channel_type: int,
        wrap: type,
        events: object,
        counts: dict[int, int],
    ) -> None: ...
    def read(
        self,
        view: memoryview,
        pos: int,
        mini_header: bool,
        max_size: int,
        serial: int,
        most: int,
    ) -> tuple[int, int, int, tuple[int, memoryview, int, int, int, int] | None]: ...
