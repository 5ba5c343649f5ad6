"""Stub of the compiled display lane (``_lane.pyx``)."""

from collections.abc import Callable
from typing import Any

from spicepy.wire._decode import Lane

def parse(
    msg_type: int, body: bytes | bytearray | memoryview
) -> dict[str, Any] | None: ...
def offsets() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]: ...

class DisplayLane(Lane):
    clock: Callable[[], float] | None
    now: float
    observer: object | None
    taken: int
    def __init__(
        self,
        core: object,
        channel_id: int,
        max_changes: int,
        clock: Callable[[], float] | None = None,
        observer: object | None = None,
    ) -> None: ...
    def flush(self) -> int: ...
