"""Stream reports at their timeout's bound (review 9: a plant making the
report's clock test ``>`` instead of ``>=`` survived the stream tests, which
send the timeout's frame 50 ms past it)."""

from __future__ import annotations

from test_session_streams import (
    STREAM,
    T0,
    display,
    frame,
    make_core,
    reports,
)

from spicepy.wire.msg_display import StreamActivateReport


def test_a_report_is_due_when_exactly_the_timeout_has_passed() -> None:
    """Timeout 250 ms: a frame 125 ms in sends nothing, one at exactly
    250 ms (the caller's clock, exact in binary) sends the report."""
    core = make_core()
    display(core, StreamActivateReport(STREAM, 7, 100, 250))
    display(core, frame(10_050, 10))
    display(core, frame(10_200, 20), T0 + 0.125)
    assert reports(core) == []
    display(core, frame(10_300, 30), T0 + 0.25)
    (fields,) = reports(core)
    assert fields[:6] == (STREAM, 7, 10_050, 10_300, 3, 0)
