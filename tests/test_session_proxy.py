"""HTTP CONNECT proxies: URL, request, answer; open_stream through fake proxies."""

from __future__ import annotations

import asyncio
import base64
import tempfile
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.errors import ConnectionClosedError, SessionError, SpiceTimeoutError
from spicepy.session.proxy import (
    ProxyUrl,
    connect_request,
    parse_connect_reply,
    parse_proxy,
)
from spicepy.session.transport import open_stream


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://proxy:8080", ProxyUrl("proxy", 8080)),
        ("proxy", ProxyUrl("proxy", 3128)),  # spice-gtk: no scheme is http, 3128
        ("HTTP://proxy:1/", ProxyUrl("proxy", 1)),
        ("http://u:p@proxy:8080", ProxyUrl("proxy", 8080, "u", "p")),
        ("http://u@proxy", ProxyUrl("proxy", 3128, "u", None)),
        ("http://u:p%40x@proxy", ProxyUrl("proxy", 3128, "u", "p@x")),
        ("u:a@b@proxy:9", ProxyUrl("proxy", 9, "u", "a@b")),
        ("http://[::1]:3129", ProxyUrl("::1", 3129)),
        ("[::1]", ProxyUrl("::1", 3128)),
    ],
)
def test_parse_proxy(url: str, expected: ProxyUrl) -> None:
    assert parse_proxy(url) == expected


@pytest.mark.parametrize(
    "url",
    ["https://proxy", "socks5://proxy:1080", "http://", "proxy:0", "proxy:x",
     "proxy:70000", "[::1", "[::1]x", "http://proxy/path"],
)  # fmt: skip
def test_parse_proxy_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_proxy(url)


@given(
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    port=st.integers(1, 65535),
    user=st.none() | st.text(min_size=1, max_size=10),
    password=st.none() | st.text(max_size=10),
)
def test_parse_proxy_round_trip(
    host: str, port: int, user: str | None, password: str | None
) -> None:
    auth = ""
    if user is not None:
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        auth += "@"
    parsed = parse_proxy(f"http://{auth}{host}:{port}")
    want_password = password if user is not None else None
    assert parsed == ProxyUrl(host, port, user, want_password)


def test_connect_request_bytes() -> None:
    token = base64.b64encode(b"alice:wonder").decode()
    assert (
        connect_request(ProxyUrl("p", 1, "alice", "wonder"), "h", 5900)
        == (
            "CONNECT h:5900 HTTP/1.1\r\nHost: h:5900\r\n"
            f"Proxy-Authorization: Basic {token}\r\n\r\n"
        ).encode()
    )
    assert connect_request(ProxyUrl("p"), "::1", 1) == (
        b"CONNECT [::1]:1 HTTP/1.1\r\nHost: [::1]:1\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"HTTP/1.1 200 Connection established\r\n\r\n", 200),
        (b"HTTP/1.0 200 OK\r\nProxy-agent: x\r\n\r\n", 200),
        (b"HTTP/1.1 204\r\n\r\n", 204),
    ],
)
def test_connect_reply_accepted(head: bytes, status: int) -> None:
    assert parse_connect_reply(head) == status


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        b"HTTP/1.1 403 Forbidden\r\n\r\n",
        # RFC 9110 9.3.6: only a 2xx answer to CONNECT opens the tunnel
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://x/\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 abc\r\n\r\n",
        b"\r\n\r\n",
    ],
)
def test_connect_reply_refused(head: bytes) -> None:
    with pytest.raises(SessionError):
        parse_connect_reply(head)


@given(st.binary(max_size=100))
def test_connect_reply_any_bytes(head: bytes) -> None:
    try:
        status = parse_connect_reply(head)
    except SessionError:
        return
    assert 200 <= status < 300


# -- open_stream through fake proxies ---------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.read(100)
    writer.write(data.upper())
    await writer.drain()
    writer.close()


def _tunnel_proxy(seen: list[bytes], answer: bytes = b"") -> Handler:
    """A proxy that records the request head, answers, then relays to the target."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        target = head.split(b" ")[1].decode()
        host, _, port = target.rpartition(":")
        if answer:
            writer.write(answer)
            await writer.drain()
            writer.close()
            return
        up_r, up_w = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        up_w.write(await reader.read(100))
        writer.write(await up_r.read(100))
        await writer.drain()
        writer.close()
        up_w.close()

    return handle


def test_open_stream_through_a_tunnel_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        target, tport = await _serve(_echo)
        seen: list[bytes] = []
        proxy, pport = await _serve(_tunnel_proxy(seen))
        async with target, proxy:
            for kwargs, env in (
                ({"proxy": f"http://u:p@127.0.0.1:{pport}"}, None),
                ({}, f"127.0.0.1:{pport}"),  # SPICE_PROXY when proxy is None
            ):
                if env is not None:
                    monkeypatch.setenv("SPICE_PROXY", env)
                reader, writer = await open_stream(
                    host="127.0.0.1", port=tport, timeout=5, **kwargs
                )
                writer.write(b"hello")
                assert await reader.read(100) == b"HELLO"
                writer.close()
            assert len(seen) == 2
            assert seen[0].startswith(f"CONNECT 127.0.0.1:{tport} HTTP/1.1".encode())
            assert b"Proxy-Authorization: Basic dTpw" in seen[0]
            assert b"Proxy-Authorization" not in seen[1]
            # proxy="" means direct, whatever SPICE_PROXY says
            reader, writer = await open_stream(
                host="127.0.0.1", port=tport, timeout=5, proxy=""
            )
            writer.write(b"direct")
            assert await reader.read(100) == b"DIRECT"
            writer.close()
            assert len(seen) == 2

    asyncio.run(main())


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", SessionError, "407"),
        (b"HTTP/1.1 200 OK\r\n", ConnectionClosedError, "closed before"),
        (b"garbage\r\n\r\n", SessionError, "no HTTP answer"),
        (b"x" * 70000, SessionError, "oversized"),
    ],
)
def test_open_stream_proxy_refusals(
    answer: bytes, error: type[Exception], match: str
) -> None:
    async def main() -> None:
        seen: list[bytes] = []
        proxy, pport = await _serve(_tunnel_proxy(seen, answer))
        async with proxy:
            with pytest.raises(error, match=match):
                await open_stream(
                    host="127.0.0.1", port=9, timeout=5, proxy=f"127.0.0.1:{pport}"
                )

    asyncio.run(main())


def test_open_stream_silent_proxy_times_out() -> None:
    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await asyncio.sleep(5)
        writer.close()

    async def main() -> None:
        proxy, pport = await _serve(silent)
        async with proxy:
            with pytest.raises(SpiceTimeoutError, match="via proxy"):
                await open_stream(
                    host="127.0.0.1", port=9, timeout=0.3, proxy=f"127.0.0.1:{pport}"
                )

    asyncio.run(main())


def test_unix_sockets_ignore_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPICE_PROXY", "http://127.0.0.1:1")

    async def main() -> None:
        with tempfile.TemporaryDirectory() as d:
            path = f"{d}/s"
            server = await asyncio.start_unix_server(_echo, path)
            async with server:
                reader, writer = await open_stream(unix_path=path, timeout=5)
                writer.write(b"unix")
                assert await reader.read(100) == b"UNIX"
                writer.close()

    asyncio.run(main())
