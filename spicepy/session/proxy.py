"""HTTP CONNECT proxies, as spice-gtk uses them (``proxy=`` in a .vv, ``SPICE_PROXY``).

A proxy URL is ``[http://][user[:password]@]host[:port][/]`` (spice-gtk's
``spice_uri_parse``: no scheme means http, the default port is 3128; https
proxies are not supported here).  The client sends ``CONNECT host:port``,
with ``Proxy-Authorization: Basic`` when the URL has a user, and any 2xx
answer turns the connection into a tunnel; TLS, if any, runs inside it.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass
from urllib.parse import unquote

from spicepy.errors import ConnectionClosedError, SessionError

__all__ = [
    "ProxyUrl",
    "connect_request",
    "open_tunnel",
    "parse_connect_reply",
    "parse_proxy",
    "proxy_from_environment",
]

DEFAULT_PORT = 3128


@dataclass(frozen=True, slots=True)
class ProxyUrl:
    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None


def parse_proxy(url: str) -> ProxyUrl:
    """Parse a proxy URL (spice-gtk's rules; user and password may be %-escaped).

    Raises:
        ValueError: another scheme than http, no host, or a bad port.
    """
    rest = url.strip()
    scheme, sep, after = rest.partition("://")
    if sep:
        if scheme.lower() != "http":
            raise ValueError(f"unsupported proxy scheme {scheme!r} (only http)")
        rest = after
    rest = rest.rstrip("/")
    username = password = None
    if "@" in rest:
        auth, _, rest = rest.rpartition("@")
        user, colon, pw = auth.partition(":")
        username = unquote(user)
        password = unquote(pw) if colon else None
    port = DEFAULT_PORT
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"unterminated IPv6 address in proxy {url!r}")
        host, tail = rest[1:end], rest[end + 1 :]
        if tail:
            if not tail.startswith(":"):
                raise ValueError(f"bad proxy address {url!r}")
            port = _port(tail[1:], url)
    else:
        host, colon, port_text = rest.partition(":")
        if colon:
            port = _port(port_text, url)
    if not host or "/" in host:
        raise ValueError(f"proxy URL without a host: {url!r}")
    return ProxyUrl(host, port, username, password)


def _port(text: str, url: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad proxy port in {url!r}")
    return int(text)


def proxy_from_environment() -> str | None:
    """``SPICE_PROXY`` when set and not empty (spice-gtk reads the same)."""
    return os.environ.get("SPICE_PROXY") or None


def connect_request(proxy: ProxyUrl, host: str, port: int) -> bytes:
    """The CONNECT request for ``host:port`` (IPv6 literals in brackets)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.username is not None:
        token = f"{proxy.username}:{proxy.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(token).decode()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_connect_reply(head: bytes) -> int:
    """The status of a proxy's answer head (status line + headers + blank line).

    Raises:
        SessionError: not an HTTP answer, or a status other than 2xx (the
            proxy's reason phrase is in the message, e.g. 407).
    """
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise SessionError(f"proxy sent no HTTP answer: {status_line[:80]!r}")
    status = int(parts[1])
    if not 200 <= status < 300:
        raise SessionError(f"proxy refused the tunnel: {status_line.strip()[:120]}")
    return status


async def open_tunnel(
    proxy: ProxyUrl, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``proxy`` and ask it for a tunnel to ``host:port``.

    The caller bounds the time (``asyncio.timeout``) and maps OS errors.

    Raises:
        SessionError: the proxy refused (non-2xx) or did not speak HTTP.
        ConnectionClosedError: the proxy closed before answering.
    """
    # (an answer head over the reader's limit, 64 KiB, is LimitOverrunError)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        writer.write(connect_request(proxy, host, port))
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ConnectionClosedError(
                f"proxy {proxy.host}:{proxy.port} closed before answering CONNECT"
            ) from exc
        except asyncio.LimitOverrunError as exc:
            raise SessionError(
                f"proxy {proxy.host}:{proxy.port} sent an oversized answer"
            ) from exc
        parse_connect_reply(head)
    except BaseException:
        writer.close()
        raise
    return reader, writer
