"""SASL against QEMU ``-spice sasl=on`` (a sasldb user), over TLS.

The link machine (``LinkHandshake(sasl=...)``) is driven over ``open_stream``
for each mechanism (a good login is followed by MAIN_INIT), and the whole
session through ``spicepy.connect(username=...)``: every channel logs in and
the screen arrives.
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


def test_connect_with_a_username_links_every_channel_over_sasl(
    guest: Qemu, pki: TestPki
) -> None:
    import spicepy

    async def main() -> tuple[list[str], tuple[int, ...]]:
        async with spicepy.connect(
            f"spice://127.0.0.1?port={guest.port}&tls-port={guest.tls_port}",
            username=USER.username,
            password=USER.password,
            ca_file=pki.files.ca_cert,
            host_subject=pki.host_subject,
            timeout=30,
        ) as s:
            await s.wait_for_frame(60)
            names = sorted(c.name for c in s.connections.values())
            for conn in s.connections.values():
                link: LinkHandshake = conn.machine._link  # type: ignore[attr-defined]
                assert link.secure and link.sasl is not None and link.sasl.done
            return names, s.screenshot().shape

    names, shape = asyncio.run(main())
    assert {"main:0", "display:0", "inputs:0"} <= set(names)
    assert shape[2] == 3 and shape[0] > 0 and shape[1] > 0


def test_connect_with_a_wrong_sasl_password_is_an_authentication_error(
    guest: Qemu, pki: TestPki
) -> None:
    import spicepy

    async def main() -> None:
        await spicepy.connect(
            f"spice+tls://127.0.0.1:{guest.tls_port}",
            username=USER.username,
            password="wrong",
            ca_file=pki.files.ca_cert,
            host_subject=pki.host_subject,
            timeout=30,
        )

    with pytest.raises(AuthenticationError, match="SASL"):
        asyncio.run(main())
