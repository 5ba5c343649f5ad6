"""SPICE connection URIs, as remote-viewer and spice-gtk accept them.

Forms (spice-gtk ``spice_uri_parse`` / ``spice-session.c``):

- ``spice://host:port``                       plain port
- ``spice://host?port=5900&tls-port=5901``    both ports; password= too
- ``spice+tls://host:port``                   the port is a TLS port
- ``spice+unix:///path/to/socket``            a unix socket (plain)
- IPv6 literals in brackets: ``spice://[::1]:5900``

Which port a channel uses is decided here too (``SpiceUri.channel_uses_tls``):
spicepy is secure by default, spice-gtk is not; see that method.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

from spicepy.wire.enums import ChannelType

__all__ = ["SpiceUri", "parse_channel_names", "parse_uri"]

_KNOWN_QUERY = {"port", "tls-port", "password"}


@dataclass(frozen=True, slots=True)
class SpiceUri:
    """Where and how to connect; at least one of port, tls_port, unix_path is set.

    ``secure_channels`` (channel types, e.g. from a ``.vv`` file's
    ``secure-channels``) switches to remote-viewer's rule: exactly those
    channels use the TLS port.  It is not part of the URI text.
    """

    host: str = ""
    port: int | None = None
    tls_port: int | None = None
    unix_path: str | None = None
    password: str | None = None
    secure_channels: frozenset[int] | None = None

    @property
    def tls_only(self) -> bool:
        return (
            self.tls_port is not None and self.port is None and self.unix_path is None
        )

    def channel_uses_tls(self, channel_type: int, plain: bool = False) -> bool:
        """Whether a channel of ``channel_type`` connects to the TLS port.

        - a unix socket never uses TLS (spice-gtk: "No TLS for Unix sockets");
        - with only one port, that port decides;
        - with both ports and ``secure_channels`` set: exactly those channels
          (remote-viewer's ``secure-channels``, spice-gtk's session property);
        - with both ports otherwise every channel uses TLS (spicepy's secure
          default, as the README promises), unless ``plain``: then the plain
          port, as spice-gtk does without ``secure-channels``.

        A channel refused with NEED_SECURED on the plain port is relinked on
        the TLS port whatever this says (the session does that).
        """
        if self.unix_path is not None:
            return False
        if self.port is None:
            return True
        if self.tls_port is None:
            return False
        if self.secure_channels is not None:
            return channel_type in self.secure_channels
        return not plain

    def with_password(self, password: str | None) -> SpiceUri:
        return self if password is None else replace(self, password=password)

    def __str__(self) -> str:
        if self.unix_path is not None:
            return f"spice+unix://{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None and self.tls_port is None:
            return f"spice://{host}:{self.port}"
        if self.port is None and self.tls_port is not None:
            return f"spice+tls://{host}:{self.tls_port}"
        return f"spice://{host}?port={self.port}&tls-port={self.tls_port}"


def parse_channel_names(names: Iterable[str]) -> frozenset[int]:
    """Channel names as spice-gtk spells them ("main", "display", ..., "all")
    to ``ChannelType`` values; empty names are skipped.

    Raises:
        ValueError: an unknown channel name.
    """
    types: set[int] = set()
    for name in names:
        name = name.strip().lower()
        if not name:
            continue
        if name == "all":
            types.update(ChannelType)
            continue
        try:
            types.add(ChannelType[name.upper()])
        except KeyError:
            raise ValueError(f"unknown SPICE channel name {name!r}") from None
    return frozenset(types)


def _port(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} is not a number: {text!r}") from None
    if not 0 < value < 65536:
        raise ValueError(f"{what} out of range: {value}")
    return value


def _query(text: str) -> dict[str, list[str]]:
    """The query's key=value items, split on ``&`` or ``;`` and each value
    %-unescaped once, as spice-gtk does (sscanf ``%[^;&]``, then
    ``g_uri_unescape_string``: a ``+`` stays a ``+``, unlike form decoding)."""
    items: dict[str, list[str]] = {}
    for item in text.replace(";", "&").split("&"):
        if item:
            key, _, value = item.partition("=")
            items.setdefault(key, []).append(unquote(value))
    return items


def parse_uri(uri: str) -> SpiceUri:
    """Parse a ``spice://``, ``spice+tls://`` or ``spice+unix://`` URI.

    A bare ``host:port`` is accepted as ``spice://host:port``.

    Raises:
        ValueError: not a SPICE URI, no port, a bad port, or conflicting ports.
    """
    if "://" not in uri:
        uri = "spice://" + uri
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("spice", "spice+tls", "spice+unix"):
        raise ValueError(f"not a SPICE URI (scheme {parts.scheme!r}): {uri!r}")
    query = _query(parts.query)
    unknown = set(query) - _KNOWN_QUERY
    if unknown:
        raise ValueError(f"unknown URI parameter(s): {', '.join(sorted(unknown))}")
    password = query["password"][-1] if "password" in query else None
    if scheme == "spice+unix":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError(f"spice+unix URI without a path: {uri!r}")
        return SpiceUri(unix_path=path, password=password)

    host = parts.hostname or ""
    if not host:
        raise ValueError(f"SPICE URI without a host: {uri!r}")
    try:
        netloc_port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {uri!r}") from None
    port = _port(query["port"][-1], "port") if "port" in query else None
    tls_port = _port(query["tls-port"][-1], "tls-port") if "tls-port" in query else None
    if netloc_port is not None:
        netloc_port = _port(str(netloc_port), "port")
        if scheme == "spice+tls":
            if tls_port is not None and tls_port != netloc_port:
                raise ValueError(f"two different TLS ports in {uri!r}")
            tls_port = netloc_port
        else:
            if port is not None and port != netloc_port:
                raise ValueError(f"two different ports in {uri!r}")
            port = netloc_port
    if port is None and tls_port is None:
        raise ValueError(f"SPICE URI without a port: {uri!r}")
    return SpiceUri(host=host, port=port, tls_port=tls_port, password=password)
