"""open_stream and the URI parser: what mutation testing found unchecked
(tests/MUTATION.md, "session/transport.py and uri.py", session 7): TLS inside a
proxy tunnel and over a unix socket with a host name, the texts naming the
peer through a proxy, a query value holding '='."""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from pathlib import Path

import pytest

from spicepy.errors import SessionError, SpiceTimeoutError
from spicepy.session.transport import TlsConfig, open_stream
from spicepy.session.uri import parse_uri
from spicepy.testing.pki import TestPki, make_test_pki

LIMIT = 10.0  # every await in these tests is bounded


def _pki() -> TestPki:
    # no pytest fixture: scripts/mutation_check.py runs these tests too
    return make_test_pki(Path(tempfile.mkdtemp(prefix="spicepy-pki-")))


def _server_ctx(pki: TestPki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.files.server_cert, pki.files.server_key)
    return ctx


async def _echo_upper(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        writer.write((await reader.read(100)).upper())
        await writer.drain()
    finally:
        writer.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    finally:
        dst.close()


async def _relay_proxy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """An HTTP CONNECT proxy relaying both ways until either side closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    host, _, port = head.split(b" ")[1].decode().rpartition(":")
    up_r, up_w = await asyncio.open_connection(host, int(port))
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))


def test_tls_inside_a_proxy_tunnel_checks_the_host_name() -> None:
    # TLS starts inside the tunnel with our context and the target's name:
    # without a pinned subject the certificate must name the host (127.0.0.1)
    pki = _pki()
    tls = TlsConfig(ca_file=str(pki.files.ca_cert))

    async def main() -> bytes:
        target = await asyncio.start_server(
            _echo_upper, "127.0.0.1", 0, ssl=_server_ctx(pki)
        )
        proxy = await asyncio.start_server(_relay_proxy, "127.0.0.1", 0)
        tport = target.sockets[0].getsockname()[1]
        pport = proxy.sockets[0].getsockname()[1]
        async with target, proxy, asyncio.timeout(LIMIT):
            r, w = await open_stream(
                host="127.0.0.1",
                port=tport,
                tls=tls,
                timeout=LIMIT,
                proxy=f"127.0.0.1:{pport}",
            )
            assert w.get_extra_info("ssl_object") is not None
            w.write(b"tunnelled")
            data = await r.read(100)
            w.close()
            return data

    assert asyncio.run(main()) == b"TUNNELLED"


def test_tls_over_a_unix_socket_with_a_host_name() -> None:
    # no subject pinned: the host name given is what the certificate is
    # checked against (it names 127.0.0.1)
    pki = _pki()
    path = str(Path(tempfile.mkdtemp(prefix="spicepy-sock-")) / "tls.sock")
    tls = TlsConfig(ca_file=str(pki.files.ca_cert))

    async def main() -> bytes:
        server = await asyncio.start_unix_server(
            _echo_upper, path, ssl=_server_ctx(pki)
        )
        async with server, asyncio.timeout(LIMIT):
            r, w = await open_stream(
                host="127.0.0.1", unix_path=path, tls=tls, timeout=LIMIT
            )
            w.write(b"unix")
            data = await r.read(100)
            w.close()
            return data

    assert asyncio.run(main()) == b"UNIX"

    async def no_name() -> None:
        await open_stream(unix_path=path, tls=tls, timeout=LIMIT)

    with pytest.raises(SessionError) as err:
        asyncio.run(no_name())
    assert str(err.value) == (
        f"TLS over {path} needs a host subject or a host name "
        "to verify the certificate against"
    )


def test_messages_through_a_proxy_name_target_and_proxy() -> None:
    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await asyncio.sleep(5)
        writer.close()

    async def main() -> int:
        proxy = await asyncio.start_server(silent, "127.0.0.1", 0)
        pport = int(proxy.sockets[0].getsockname()[1])
        async with proxy:
            with pytest.raises(SpiceTimeoutError) as err:
                await open_stream(
                    host="10.1.2.3", port=5900, timeout=0.3, proxy=f"127.0.0.1:{pport}"
                )
            assert str(err.value) == (
                f"connecting to 10.1.2.3:5900 via proxy 127.0.0.1:{pport} "
                "timed out after 0.3s"
            )
        return pport

    asyncio.run(main())


def test_query_value_may_hold_equals_signs() -> None:
    # spice-gtk splits an item at its first '=' (the key is [-a-zA-Z0-9_]+)
    uri = parse_uri("spice://h:5900?password=a=b&tls-port=5901")
    assert uri.password == "a=b"
    assert uri.tls_port == 5901


def test_host_name_mismatch_is_refused_in_a_tunnel_and_on_a_unix_socket() -> None:
    # the certificate names 127.0.0.1, not 127.0.0.2: with no subject pinned
    # the host name must be checked on every path (ssl accepts a missing or
    # empty server name and then checks nothing)
    pki = _pki()
    tls = TlsConfig(ca_file=str(pki.files.ca_cert))
    path = str(Path(tempfile.mkdtemp(prefix="spicepy-sock-")) / "tls.sock")

    async def tunnel() -> None:
        target = await asyncio.start_server(
            _echo_upper, "127.0.0.2", 0, ssl=_server_ctx(pki)
        )
        proxy = await asyncio.start_server(_relay_proxy, "127.0.0.1", 0)
        tport = target.sockets[0].getsockname()[1]
        pport = proxy.sockets[0].getsockname()[1]
        async with target, proxy, asyncio.timeout(LIMIT):
            await open_stream(
                host="127.0.0.2",
                port=tport,
                tls=tls,
                timeout=LIMIT,
                proxy=f"127.0.0.1:{pport}",
            )

    async def unix() -> None:
        server = await asyncio.start_unix_server(
            _echo_upper, path, ssl=_server_ctx(pki)
        )
        async with server, asyncio.timeout(LIMIT):
            await open_stream(host="127.0.0.2", unix_path=path, tls=tls, timeout=LIMIT)

    for main in (tunnel, unix):
        with pytest.raises(SessionError, match="verification"):
            asyncio.run(main())


def test_channel_names_skip_empty_ones_and_check_every_name() -> None:
    from spicepy.session.uri import parse_channel_names
    from spicepy.wire.enums import ChannelType

    assert parse_channel_names(["", " ", "main"]) == {ChannelType.MAIN}
    assert parse_channel_names(["all", "main"]) == frozenset(ChannelType)
    for names in (["all", "bogus"], ["", "bogus"]):
        with pytest.raises(ValueError) as err:
            parse_channel_names(names)
        assert str(err.value) == "unknown SPICE channel name 'bogus'"
