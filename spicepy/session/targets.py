"""One place that turns what a user names into where and how to connect.

A user names a server the ways remote-viewer accepts: a SPICE URI, a ``.vv``
connection file, or a libvirt domain (with ``--connect URI``).  ``resolve``
returns one ``Target`` for all three; options the user gave explicitly
(password, CA, host subject, proxy) win over what the file or domain says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from spicepy.session.transport import TlsConfig
from spicepy.session.uri import SpiceUri, parse_uri

__all__ = ["Target", "is_connection_file", "resolve"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect (``uri``, with password and secure channels), how to
    check TLS, through which proxy (None: ``SPICE_PROXY``), as whom (SASL),
    which channel types not to open; and for a viewer, a ``.vv`` file's window
    ``title`` and ``full_screen`` (None: not said)."""

    uri: SpiceUri
    tls: TlsConfig
    proxy: str | None = None
    username: str | None = None
    disable_channels: frozenset[int] = frozenset()
    title: str | None = None
    full_screen: bool | None = None


def is_connection_file(where: str) -> bool:
    """A ``.vv`` path, or an existing file (remote-viewer opens any file name)."""
    if "://" in where:
        return False
    return where.endswith(".vv") or os.path.isfile(where)


def resolve(
    where: str,
    *,
    connect: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    host_subject: str | None = None,
    proxy: str | None = None,
    verify: bool = True,
    delete_file: bool = True,
) -> Target:
    """A URI, a ``.vv`` file, or (with ``connect``) a libvirt domain name/UUID/id.

    Raises:
        ValueError: a malformed URI, connection file or domain display.
        OSError: the connection file cannot be read.
        SessionError: libvirt cannot be reached or the domain is not running.
    """
    if connect is not None:
        from spicepy.session.libvirt import domain_display

        display = domain_display(where, connect, ca_file=ca_file)
        target = Target(uri=display.uri, tls=display.tls)
    elif is_connection_file(where):
        from spicepy.session.vv import read_vv

        vv = read_vv(where, delete=delete_file)
        target = Target(
            uri=vv.uri,
            tls=vv.tls,
            proxy=vv.proxy,
            username=vv.username,
            disable_channels=vv.disable_channels,
            title=vv.title,
            full_screen=vv.full_screen,
        )
    else:
        target = Target(uri=parse_uri(where), tls=TlsConfig())
    tls = target.tls
    if ca_file is not None:
        tls = replace(tls, ca_file=ca_file, ca_data=None)
    if host_subject is not None:
        tls = replace(tls, host_subject=host_subject)
    return replace(
        target,
        uri=target.uri.with_password(password),
        tls=replace(tls, verify=verify),
        proxy=proxy if proxy is not None else target.proxy,
    )
