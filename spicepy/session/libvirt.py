"""Connect by libvirt domain: where a domain's SPICE display is and how to reach it.

``display_from_xml`` reads a domain's XML (libvirt ``formatdomain``,
``<graphics type='spice'>``) without libvirt: ports (``-1`` means none),
listen address or socket, ``passwd`` (only in the XML asked for with
``VIR_DOMAIN_XML_SECURE``), and the channel modes (``defaultMode`` plus
``<channel name= mode=>``) as remote-viewer's secure channels.  A wildcard
listen address means "the libvirt host", as virt-viewer reads it.

``domain_display`` asks a libvirt daemon (libvirt-python, the ``libvirt``
extra) for that XML.  The CA for TLS is not in the XML: libvirt keeps it in
``spice_tls_x509_cert_dir`` (``/etc/pki/libvirt-spice`` by default), which is
only readable here for a local daemon.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from spicepy.errors import SessionError
from spicepy.session.transport import TlsConfig
from spicepy.session.uri import SpiceUri, parse_channel_names
from spicepy.wire.enums import ChannelType

__all__ = [
    "DEFAULT_CA",
    "DomainDisplay",
    "display_from_xml",
    "domain_display",
    "libvirt_host",
]

#: libvirt's default spice_tls_x509_cert_dir CA (qemu.conf)
DEFAULT_CA = "/etc/pki/libvirt-spice/ca-cert.pem"
_WILDCARDS = {"0.0.0.0", "::", "[::]", ""}
#: XML larger than this is not a domain description
MAX_XML_CHARS = 4 << 20


@dataclass(frozen=True, slots=True)
class DomainDisplay:
    """A domain's SPICE display: ``uri`` (with password and secure channels),
    ``tls`` (CA file when known) and the domain's ``name``."""

    uri: SpiceUri
    tls: TlsConfig
    name: str = ""


def libvirt_host(connect_uri: str) -> str:
    """The host a libvirt URI points at ("127.0.0.1" for local ones)."""
    host = urlsplit(connect_uri).hostname
    return host or "127.0.0.1"


def _port(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"domain XML: {what} is not a number: {value!r}") from None
    if port <= 0:
        return None  # -1: not allocated (domain not running, or no such port)
    if port > 65535:
        raise ValueError(f"domain XML: {what} out of range: {port}")
    return port


def _secure_channels(graphics: ET.Element) -> frozenset[int] | None:
    default = graphics.get("defaultMode", "any")
    if default not in ("any", "secure", "insecure"):
        raise ValueError(f"domain XML: unknown defaultMode {default!r}")
    modes = {}
    for channel in graphics.findall("channel"):
        name, mode = channel.get("name", ""), channel.get("mode", "any")
        modes[next(iter(parse_channel_names([name])))] = mode
    if default == "any" and not any(m == "secure" for m in modes.values()):
        return None  # nothing pinned: spicepy's own default applies
    secure: set[int] = set(ChannelType) if default == "secure" else set()
    for ctype, mode in modes.items():
        if mode == "secure":
            secure.add(ctype)
        elif mode == "insecure":
            secure.discard(ctype)
    return frozenset(secure)


def display_from_xml(
    xml: str, *, host: str = "127.0.0.1", ca_file: str | None = None
) -> DomainDisplay:
    """The SPICE display described by a domain XML.

    Args:
        xml: ``virDomainGetXMLDesc`` output (with VIR_DOMAIN_XML_SECURE for the
            password).
        host: the libvirt host, used when the display listens on a wildcard.
        ca_file: CA for the TLS port.

    Raises:
        ValueError: not a domain XML, no SPICE graphics, no port allocated
            (domain not running) or malformed attributes.
    """
    if len(xml) > MAX_XML_CHARS:
        raise ValueError("domain XML too large")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"domain XML does not parse: {exc}") from exc
    if root.tag != "domain":
        raise ValueError(f"not a domain XML (root <{root.tag}>)")
    graphics = root.find("devices/graphics[@type='spice']")
    if graphics is None:
        raise ValueError("the domain has no SPICE display (<graphics type='spice'>)")
    unix_path = None
    address = graphics.get("listen")
    for listen in graphics.findall("listen"):
        kind = listen.get("type")
        if kind == "socket" and listen.get("socket"):
            unix_path = listen.get("socket")
            break
        if kind in ("address", "network") and listen.get("address"):
            address = listen.get("address")
            break
    port = _port(graphics.get("port"), "port")
    tls_port = _port(graphics.get("tlsPort"), "tlsPort")
    password = graphics.get("passwd")
    secure = _secure_channels(graphics)
    if unix_path is not None:
        uri = SpiceUri(unix_path=unix_path, password=password)
    else:
        if port is None and tls_port is None:
            raise ValueError("the SPICE display has no port (is the domain running?)")
        if address is None or address in _WILDCARDS:
            address = host
        uri = SpiceUri(
            host=address.strip("[]"),
            port=port,
            tls_port=tls_port,
            password=password,
            secure_channels=secure,
        )
    name = root.findtext("name") or ""
    return DomainDisplay(uri=uri, tls=TlsConfig(ca_file=ca_file), name=name)


def domain_display(
    domain: str,
    connect: str = "qemu:///system",
    *,
    ca_file: str | None = None,
) -> DomainDisplay:
    """Ask libvirt where ``domain`` (name, UUID or numeric id) shows its display.

    ``ca_file`` defaults to libvirt's spice CA when the daemon is local and
    the file is readable.

    Raises:
        SessionError: libvirt-python missing, the daemon unreachable, no such
            domain, or the domain is not running.
        ValueError: the domain has no usable SPICE display.
    """
    try:
        import libvirt  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError as exc:
        raise SessionError(
            "connecting by domain needs libvirt-python (pip install spicepy[libvirt])"
        ) from exc
    try:
        conn = libvirt.open(connect)
    except libvirt.libvirtError as exc:
        raise SessionError(f"cannot connect to libvirt at {connect}: {exc}") from exc
    try:
        dom = _lookup(conn, domain, libvirt)
        if not dom.isActive():
            raise SessionError(f"domain {dom.name()!r} is not running")
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
    except libvirt.libvirtError as exc:
        raise SessionError(f"libvirt: {exc}") from exc
    finally:
        conn.close()
    host = libvirt_host(connect)
    if ca_file is None and host == "127.0.0.1" and os.access(DEFAULT_CA, os.R_OK):
        ca_file = DEFAULT_CA
    return display_from_xml(xml, host=host, ca_file=ca_file)


def _lookup(conn: Any, domain: str, libvirt: Any) -> Any:
    """By name, then UUID, then numeric id (virsh tries the id first; a domain
    named with digits is rarer than one looked up by name)."""
    lookups: list[tuple[str, str | int]] = [("lookupByName", domain)]
    if len(domain) == 36 and domain.count("-") == 4:
        lookups.append(("lookupByUUIDString", domain))
    if domain.isdigit():
        lookups.append(("lookupByID", int(domain)))
    error = None
    for method, key in lookups:
        try:
            return getattr(conn, method)(key)
        except libvirt.libvirtError as exc:
            error = exc
    raise SessionError(f"no libvirt domain {domain!r}: {error}")
