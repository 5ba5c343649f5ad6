"""SASL against QEMU ``-spice sasl=on`` (a sasldb user), over TLS.

The session does not pass SASL credentials to its channels yet, so this drives
the link machine (``LinkHandshake(sasl=...)``) over ``open_stream`` itself: a
good login is followed by the main channel's first message, MAIN_INIT.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Iterator

import pytest

from spicepy.channels.link import LinkHandshake
from spicepy.channels.sasl import SaslCredentials
from spicepy.errors import AuthenticationError, LinkError
from spicepy.session.transport import TlsConfig, open_stream
from spicepy.testing.pki import TestPki, make_test_pki
from spicepy.testing.qemu import Qemu, QemuOptions, SaslUser, available
from spicepy.wire.enums import ChannelType, CommonCap, MainMsg

REASON = available()
try:
    import puresasl  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
except ImportError:
    REASON = REASON or "pure-sasl missing"
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_QEMU"),
        reason=f"QEMU guest or pure-sasl not available: {REASON}",
    ),
]
USER = SaslUser("alice", "s3cret", "digest-md5 cram-md5 plain")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def guest(pki: TestPki) -> Iterator[Qemu]:
    options = QemuOptions(
        vga="std", sasl=USER, tls=pki.files, audio=False, usbredir=0, spiceports=()
    )
    with Qemu(options) as qemu:
        yield qemu


async def link_main(
    guest: Qemu, pki: TestPki, creds: SaslCredentials, *, tls: bool = True
) -> tuple[LinkHandshake, bytes]:
    """Link a main channel; returns the handshake and the first data bytes."""
    port = guest.tls_port if tls else guest.port
    config = TlsConfig(ca_file=str(pki.files.ca_cert), host_subject=pki.host_subject)
    reader, writer = await open_stream(
        host="127.0.0.1", port=port, tls=config if tls else None, timeout=30, proxy=""
    )
    link = LinkHandshake(ChannelType.MAIN, sasl=creds, secure=tls)
    rest = b""
    try:
        writer.write(link.data_to_send())
        async with asyncio.timeout(30):
            while not link.done:
                data = await reader.read(65536)
                if not data:
                    raise link.closed_error() or EOFError("closed")
                rest = link.feed(data)
                writer.write(link.data_to_send())
            while len(rest) < 6:
                rest += await reader.read(65536)
    finally:
        writer.close()
    return link, rest


@pytest.mark.parametrize("mechanism", ["DIGEST-MD5", "CRAM-MD5", "PLAIN"])
def test_sasl_login_reaches_main_init(
    guest: Qemu, pki: TestPki, mechanism: str
) -> None:
    creds = SaslCredentials(USER.username, USER.password, (mechanism,))
    link, first = asyncio.run(link_main(guest, pki, creds))
    assert link.sasl is not None and link.sasl.mechanism == mechanism
    assert link.result is not None
    assert CommonCap.AUTH_SASL in link.result.server_common_caps
    assert link.result.mini_header
    (msg_type,) = struct.unpack_from("<H", first)
    assert msg_type == MainMsg.INIT


@pytest.mark.parametrize("mechanism", ["DIGEST-MD5", "PLAIN"])
def test_wrong_sasl_password_is_an_authentication_error(
    guest: Qemu, pki: TestPki, mechanism: str
) -> None:
    creds = SaslCredentials(USER.username, "wrong", (mechanism,))
    with pytest.raises(AuthenticationError, match=mechanism):
        asyncio.run(link_main(guest, pki, creds))


def test_sasl_on_the_plain_port_is_refused_clearly(guest: Qemu, pki: TestPki) -> None:
    creds = SaslCredentials(USER.username, USER.password)
    with pytest.raises(LinkError, match="TLS only"):
        asyncio.run(link_main(guest, pki, creds, tls=False))
