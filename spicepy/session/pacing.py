"""How fast to type: keep the guest's keyboard queue from overflowing.

SPICE key events carry no acknowledgement, and QEMU's PS/2 keyboard keeps only
16 scancode bytes (``PS2_QUEUE_SIZE``); what arrives while the queue is full
is dropped.  The guest empties the queue one interrupt at a time, so the safe
rate depends on the guest's speed.  The policy here: send strokes in bursts of
at most ``burst_bytes`` scancode bytes, then pause ``pause`` seconds so the
guest can drain them.  Measured with 200-character lines (printable ASCII, so
2 or 4 bytes a character) into TCG guests on a loaded 2-core machine (issue
10): no pause lost keys in 0/5 lines exact; 12 bytes + 10 ms: std VGA text 5/5,
QXL framebuffer 3/5; 8 bytes + 10 ms: QXL 6/6 (1.4 s a line); 4 or 6 bytes +
10 ms: 6/6 (2-2.7 s).  8 bytes later lost keys on QXL in a CI run (6 of 60
characters), so the default is 4 bytes.  The guest's speed decides, so these
are defaults, not guarantees.
"""

from __future__ import annotations

from collections.abc import Sequence

from spicepy.channels.inputs import EXTENDED

__all__ = ["BURST_BYTES", "PAUSE", "stroke_bytes", "typing_pauses"]

#: scancode bytes sent back to back (a quarter of QEMU's 16-byte queue)
BURST_BYTES = 4
#: seconds to let the guest drain a burst
PAUSE = 0.01


def stroke_bytes(code: int, shifted: bool) -> int:
    """Scancode bytes one typed character puts in the queue: press + release,
    two bytes each for E0-prefixed keys, plus shift press + release."""
    per_transition = 2 if code & EXTENDED else 1
    return 2 * per_transition + (2 if shifted else 0)


def typing_pauses(
    strokes: Sequence[tuple[int, bool]],
    *,
    burst_bytes: int = BURST_BYTES,
    pause: float = PAUSE,
) -> list[float]:
    """Seconds to wait *before* each stroke of ``strokes`` ((scancode, shifted)
    as ``keymap.text_strokes`` gives them): 0 within a burst, ``pause`` when
    the stroke would push the burst over ``burst_bytes``.

    A stroke bigger than a whole burst still goes out alone after a pause.

    Raises:
        ValueError: ``burst_bytes`` < 1 or ``pause`` < 0.
    """
    if burst_bytes < 1 or pause < 0:
        raise ValueError("burst_bytes must be >= 1 and pause >= 0")
    pauses: list[float] = []
    queued = 0
    for code, shifted in strokes:
        size = stroke_bytes(code, shifted)
        if queued and queued + size > burst_bytes:
            pauses.append(pause)
            queued = 0
        else:
            pauses.append(0.0)
        queued += size
    return pauses
