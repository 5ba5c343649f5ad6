"""Opening TCP / TLS / unix streams with timeouts, and remote-viewer style TLS checks.

TLS verification follows spice-gtk (spice-common ``common/ssl_verify.c``): the
chain must verify against the given CA; then, when a host subject is given, the
certificate's subject must equal it (same attributes, same order, values
compared after whitespace folding and case folding, as X509_NAME_cmp on the
canonical encoding does); otherwise the host name must match the certificate.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from spicepy.errors import ConnectionClosedError, SessionError, SpiceTimeoutError
from spicepy.session.proxy import open_tunnel, parse_proxy, proxy_from_environment

log = logging.getLogger(__name__)

__all__ = [
    "TlsConfig",
    "check_host_subject",
    "make_ssl_context",
    "open_stream",
    "parse_host_subject",
]

# Keys spice-common accepts in a host subject (OpenSSL short names) -> their
# attribute OIDs, dotted (cryptography's NameOID values): ``cryptography`` is
# imported only to check a certificate, never for a plain TCP connection
_SUBJECT_KEYS = {
    "C": "2.5.4.6",
    "ST": "2.5.4.8",
    "L": "2.5.4.7",
    "O": "2.5.4.10",
    "OU": "2.5.4.11",
    "CN": "2.5.4.3",
    "DC": "0.9.2342.19200300.100.1.25",
    "emailAddress": "1.2.840.113549.1.9.1",
    "SN": "2.5.4.4",
    "GN": "2.5.4.42",
    "serialNumber": "2.5.4.5",
}


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """How to verify the server: CA file or PEM data, optional host subject.

    ``verify=False`` skips every check (for debugging only).
    """

    ca_file: str | None = None
    ca_data: str | None = None
    host_subject: str | None = None
    verify: bool = True


def parse_host_subject(subject: str) -> list[tuple[str, str]]:
    """Split "C=XX,L=city,O=org,CN=name" into ordered (key, value) pairs.

    Grammar of spice-common's ``subject_to_x509_name``: entries separated by
    unescaped commas, a backslash escapes only ``\\`` and ``,``, spaces before a
    key are skipped, empty keys or values are errors.

    Raises:
        ValueError: the string does not follow that grammar or names an unknown key.
    """
    entries: list[tuple[str, str]] = []
    key: list[str] = []
    val: list[str] = []
    in_value = False
    i = 0
    while True:
        ch = subject[i] if i < len(subject) else ""
        escaped = False
        if ch == "\\":
            i += 1
            ch = subject[i] if i < len(subject) else ""
            if ch not in ("\\", ","):
                raise ValueError("invalid character after '\\' in host subject")
            escaped = True
        if not in_value:
            if ch == " " and not key and not escaped:
                pass
            elif ch == "":
                if key:
                    raise ValueError(
                        f"host subject entry without '=': {''.join(key)!r}"
                    )
                break
            elif ch == "=" and not escaped:
                if not key:
                    raise ValueError("empty key in host subject")
                in_value = True
            elif ch == "," and not escaped:
                raise ValueError("host subject entry without '='")
            else:
                key.append(ch)
        else:
            if ch == "" or (ch == "," and not escaped):
                if not val:
                    raise ValueError(
                        f"empty value for {''.join(key)!r} in host subject"
                    )
                name = "".join(key)
                if name not in _SUBJECT_KEYS:
                    raise ValueError(f"unknown key {name!r} in host subject")
                entries.append((name, "".join(val)))
                key, val, in_value = [], [], False
                if ch == "":
                    break
            else:
                val.append(ch)
        i += 1
    return entries


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


def check_host_subject(der_cert: bytes, subject: str) -> None:
    """Compare a DER certificate's subject with a host-subject string.

    Raises:
        SessionError: the subjects differ (or the certificate does not parse).
        ValueError: the host subject string is malformed.
    """
    from cryptography import x509

    expected = [(_SUBJECT_KEYS[k], _fold(v)) for k, v in parse_host_subject(subject)]
    try:
        cert = x509.load_der_x509_certificate(der_cert)
    except ValueError as exc:
        raise SessionError(f"server certificate does not parse: {exc}") from exc
    actual = [(attr.oid.dotted_string, _fold(str(attr.value))) for attr in cert.subject]
    if actual != expected:
        raise SessionError(
            f"server certificate subject {cert.subject.rfc4514_string()!r} "
            f"does not match host subject {subject!r}"
        )


def make_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """A client SSLContext for ``tls`` (hostname checking off when a subject is pinned).

    Raises:
        ValueError: the host subject is malformed.
        SessionError: the CA file cannot be loaded.
    """
    if tls.host_subject is not None:
        parse_host_subject(tls.host_subject)  # fail early on a bad string
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        if tls.ca_file is None and tls.ca_data is None:
            ctx.load_default_certs()
        else:
            ctx.load_verify_locations(cafile=tls.ca_file, cadata=tls.ca_data)
    except (OSError, ssl.SSLError) as exc:
        raise SessionError(f"cannot load CA certificates: {exc}") from exc
    ctx.check_hostname = tls.host_subject is None
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_stream(
    *,
    host: str = "",
    port: int | None = None,
    unix_path: str | None = None,
    tls: TlsConfig | None = None,
    timeout: float = 10.0,
    deadline: float | None = None,
    proxy: str | None = None,
) -> Streams:
    """Open one channel connection; TLS when ``tls`` is given.

    TCP connections go through the HTTP CONNECT ``proxy`` URL when one is given
    (None: ``SPICE_PROXY`` if set; "": never), TLS running inside the tunnel.
    Connecting, the proxy tunnel and the TLS handshake share ``timeout`` s, or
    end at ``deadline`` (loop time) when one is given (a session's connect()).

    Raises:
        ValueError: a malformed proxy URL (or host subject).
        SpiceTimeoutError: connecting (and the TLS handshake) passed the deadline.
        ConnectionClosedError: refused, reset, or closed during the handshake.
        SessionError: TLS verification failed or another OS error.
    """
    ctx = make_ssl_context(tls) if tls is not None else None
    where = unix_path if unix_path is not None else f"{host}:{port}"
    if proxy is None:
        proxy = proxy_from_environment()
    via = parse_proxy(proxy) if proxy and unix_path is None else None
    if via is not None:
        where += f" via proxy {via.host}:{via.port}"
    if deadline is None:
        deadline = asyncio.get_running_loop().time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            if unix_path is not None:
                if ctx is not None and ctx.check_hostname and not host:
                    raise SessionError(
                        f"TLS over {where} needs a host subject or a host name "
                        "to verify the certificate against"
                    )
                reader, writer = await asyncio.open_unix_connection(
                    unix_path, ssl=ctx, server_hostname=(host or "") if ctx else None
                )
            elif via is not None:
                assert port is not None
                reader, writer = await open_tunnel(via, host, port)
                if ctx is not None:
                    try:
                        await writer.start_tls(ctx, server_hostname=host)
                    except BaseException:
                        writer.close()
                        raise
            else:
                server_hostname = host if ctx is not None else None
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ctx, server_hostname=server_hostname
                )
    except TimeoutError:
        raise SpiceTimeoutError(
            f"connecting to {where} timed out after {timeout}s"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise SessionError(
            f"TLS verification of {where} failed: {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        raise SessionError(f"TLS handshake with {where} failed: {exc}") from exc
    except ConnectionRefusedError as exc:
        raise ConnectionClosedError(f"connection to {where} refused") from exc
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise ConnectionClosedError(f"connection to {where} failed: {exc}") from exc
    except OSError as exc:
        raise SessionError(f"cannot connect to {where}: {exc}") from exc
    if (
        ctx is not None
        and tls is not None
        and tls.verify
        and tls.host_subject is not None
    ):
        ssl_obj = writer.get_extra_info("ssl_object")
        der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
        try:
            if not der:
                raise SessionError(f"{where} sent no certificate")
            check_host_subject(der, tls.host_subject)
        except SessionError:
            writer.close()
            raise
    return reader, writer
