"""The recording proxy terminates TLS: the client trusts the proxy's own CA,
the proxy verifies the server's.  Live on Xspice (TLS + ticket) and on QEMU
(TLS + SASL PLAIN, where the password crosses the proxy in clear inside TLS):
the input is recorded as a script, the capture replays to the screen the
client saw, and neither the ticket nor the SASL password is in the capture."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest

import spicepy
from spicepy.bots.proxy import RecordingProxy, server_context
from spicepy.bots.script import parse
from spicepy.capture.replay import replay
from spicepy.capture.streams import TICKET_SIZE, read_channels
from spicepy.session.transport import TlsConfig
from spicepy.testing.pki import TestPki, make_test_pki
from spicepy.testing.qemu import Qemu, QemuOptions, SaslUser
from spicepy.testing.qemu import available as qemu_available
from spicepy.testing.xspice import Xspice, XspiceOptions
from spicepy.testing.xspice import available as xspice_available

TIMEOUT = 60.0


def proxy_for(
    server_pki: TestPki,
    proxy_pki: TestPki,
    tls_port: int,
    record: Path,
    pcap: Path,
    plain_port: int | None = None,
) -> RecordingProxy:
    key = proxy_pki.directory
    return RecordingProxy(
        None if plain_port is None else ("127.0.0.1", 0),
        None if plain_port is None else ("127.0.0.1", plain_port),
        record,
        pcap=pcap,
        tls_listen=("127.0.0.1", 0),
        tls_target=("127.0.0.1", tls_port),
        client_tls=server_context(key / "server-cert.pem", key / "server-key.pem"),
        server_tls=TlsConfig(
            ca_file=str(server_pki.files.ca_cert), host_subject=server_pki.host_subject
        ),
    )


def assert_auth_left_out(pcap: Path, secret: bytes | None = None) -> None:
    """Every channel in the capture logs in with a zero ticket."""
    channels = read_channels(pcap)
    assert channels
    for ch in channels:
        assert ch.linked, ch
        assert ch.client_link.endswith(bytes(TICKET_SIZE))
    if secret is not None:
        assert secret not in pcap.read_bytes()


@pytest.mark.live
@pytest.mark.skipif(xspice_available() is not None, reason=str(xspice_available()))
def test_tls_session_through_the_proxy_on_xspice(tmp_path: Path) -> None:
    from spicepy.testing.xdraw import XDraw

    server_pki = make_test_pki(tmp_path / "server")
    proxy_pki = make_test_pki(tmp_path / "proxy", server_cn="spicepy-proxy")
    record, pcap = tmp_path / "rec.txt", tmp_path / "s.pcap"
    options = XspiceOptions(password="pw", tls=server_pki.files)

    async def drive(server: Xspice) -> np.ndarray:
        assert server.tls_port is not None
        proxy = await proxy_for(
            server_pki, proxy_pki, server.tls_port, record, pcap, server.port
        ).start()
        try:
            async with asyncio.timeout(TIMEOUT * 2):
                async with spicepy.connect(
                    proxy.uri(),
                    password="pw",
                    ca_file=proxy_pki.files.ca_cert,
                    host_subject=proxy_pki.host_subject,
                    timeout=TIMEOUT,
                ) as s:
                    await s.wait_for_frame(TIMEOUT)
                    await s.type_text("tls ok\n")
                    await s.click(120, 80, button=3)
                    await s.wait_until_settled(quiet=1.0, timeout=TIMEOUT)
                    return s.screenshot()
        finally:
            await proxy.close()

    with Xspice(options) as server, XDraw(server.display) as draw:
        draw.fill_rect(30, 40, 300, 120, (240, 30, 90))
        shot = asyncio.run(drive(server))
        truth = draw.framebuffer()
    assert np.array_equal(shot, truth)
    steps = [(st.command, *st.args) for st in parse(record.read_text())]
    assert steps == [
        ("type", "tls ok"),
        ("key", "enter"),
        ("move", 120, 80),
        ("click", 3),
    ]
    assert_auth_left_out(pcap)
    result = replay(pcap)  # the decrypted session replays to what the client saw
    assert result.primary is not None and np.array_equal(result.primary, truth)


def _sasl_reason() -> str | None:
    reason = qemu_available()
    try:
        import puresasl  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        reason = reason or "pure-sasl missing"
    return reason


@pytest.mark.live
@pytest.mark.skipif(
    _sasl_reason() is not None and not os.environ.get("SPICEPY_REQUIRE_QEMU"),
    reason=f"QEMU guest or pure-sasl not available: {_sasl_reason()}",
)
def test_sasl_session_through_the_proxy_on_qemu(tmp_path: Path) -> None:
    server_pki = make_test_pki(tmp_path / "server")
    proxy_pki = make_test_pki(tmp_path / "proxy", server_cn="spicepy-proxy")
    record, pcap = tmp_path / "rec.txt", tmp_path / "s.pcap"
    user = SaslUser("alice", "pl41n-s3cret", "plain")  # the password in clear
    options = QemuOptions(
        vga="std", sasl=user, tls=server_pki.files, audio=False, usbredir=0,
        spiceports=(),
    )  # fmt: skip

    async def drive(guest: Qemu) -> np.ndarray:
        assert guest.tls_port is not None
        proxy = await proxy_for(
            server_pki, proxy_pki, guest.tls_port, record, pcap
        ).start()
        try:
            async with asyncio.timeout(TIMEOUT * 2):
                async with spicepy.connect(
                    proxy.uri(),
                    username=user.username,
                    password=user.password,
                    ca_file=proxy_pki.files.ca_cert,
                    host_subject=proxy_pki.host_subject,
                    timeout=TIMEOUT,
                ) as s:
                    await s.wait_for_frame(TIMEOUT)
                    await s.type_text("through the proxy\n")
                    for _ in range(100):  # the line reached the guest's tty
                        if guest.typed_lines():
                            break
                        await asyncio.sleep(0.2)
                    await s.wait_until_settled(quiet=1.0, timeout=TIMEOUT)
                    return s.screenshot()
        finally:
            await proxy.close()

    with Qemu(options) as guest:
        shot = asyncio.run(drive(guest))
        # the session went through (a loaded TCG guest's PS/2 queue may drop a
        # key; the recording is what the client sent, checked below)
        assert guest.typed_lines()
    steps = [(st.command, *st.args) for st in parse(record.read_text())]
    assert steps[:2] == [("type", "through the proxy"), ("key", "enter")], steps
    assert_auth_left_out(pcap, user.password.encode())
    result = replay(pcap)
    assert result.primary is not None and np.array_equal(result.primary, shot)
