"""spicepy.bots.pcap_writer: what the proxy writes reads back through
spicepy.capture.pcap as exactly the bytes that passed, per connection."""

from __future__ import annotations

import io
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.bots.pcap_writer import MAX_SEGMENT, PcapWriter
from spicepy.capture.pcap import read_tcp_connections

chunks = st.lists(
    st.tuples(st.booleans(), st.binary(min_size=1, max_size=300)), max_size=20
)


@settings(max_examples=60, deadline=None)
@given(st.lists(chunks, min_size=1, max_size=3))
def test_streams_read_back_exactly(connections: list[list[tuple[bool, bytes]]]) -> None:
    out = io.BytesIO()
    writer = PcapWriter(out)
    expected = []
    for n, traffic in enumerate(connections):
        conn = writer.connection(("127.0.0.1", 40000 + n), ("127.0.0.1", 5900))
        for i, (from_client, data) in enumerate(traffic):
            conn.data(data, from_client=from_client, now=1000.0 + i)
        to_server = b"".join(d for c, d in traffic if c)
        to_client = b"".join(d for c, d in traffic if not c)
        expected.append((40000 + n, to_server, to_client))
    got = sorted(
        (c.client_port, c.to_server, c.to_client)
        for c in read_tcp_connections(out.getvalue())
    )
    assert got == expected


def test_big_chunks_are_split_into_segments() -> None:
    out = io.BytesIO()
    conn = PcapWriter(out).connection(("10.0.0.1", 1234), ("10.0.0.2", 5900))
    data = bytes(range(256)) * ((2 * MAX_SEGMENT) // 256 + 3)
    conn.data(data, from_client=False)
    (only,) = read_tcp_connections(out.getvalue())
    assert only.to_client == data and len(only.times_to_client) == 3


def test_proxy_command_says_where_it_listens_and_refuses_bad_targets() -> None:
    cmd = [sys.executable, "-P", "-m", "spicepy.bots.cli", "proxy"]
    bad = subprocess.run(
        [*cmd, "--to", "spice://127.0.0.1?tls-port=5901"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "plain port" in bad.stderr
    proc = subprocess.Popen(
        [*cmd, "--listen", "127.0.0.1:0", "--to", "spice://127.0.0.1:1"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("spicepy: proxying spice://127.0.0.1:")
        assert int(line.split(":")[3].split()[0]) > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
