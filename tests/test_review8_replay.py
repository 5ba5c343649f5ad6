"""Review 8 of ``capture.replay.server_segments`` (the one schedule of a
capture's server segments: replay, test_lookahead, bench_instructions)."""

from __future__ import annotations

from types import SimpleNamespace

from spicepy.capture.replay import server_segments


def test_a_channels_bytes_stay_in_stream_order_when_capture_times_go_back() -> None:
    """Reassembly puts a channel's segments in sequence order with their own
    capture times; one that overtook an earlier one on the wire has the
    smaller time.  Replay must still feed each channel's bytes in stream
    order (TCP hands the later bytes over only once the earlier ones came):
    every channel's segments in offset order, each covering what follows the
    one before."""
    a = SimpleNamespace(times=[(0, 2.0), (10, 1.0), (15, 3.0)], to_client=bytes(20))
    b = SimpleNamespace(times=[(0, 1.5)], to_client=bytes(5))
    segments = server_segments([a, b])
    for index, ch in enumerate((a, b)):
        spans = [(start, end) for _, i, start, end in segments if i == index]
        assert spans[0][0] == 0 and spans[-1][1] == len(ch.to_client)
        assert all(x[1] == y[0] for x, y in zip(spans, spans[1:], strict=False))
    times = [when for when, *_ in segments]
    assert times == sorted(times)  # and still one schedule in time order
