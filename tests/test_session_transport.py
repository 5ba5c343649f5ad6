"""Opening streams against fake asyncio servers on 127.0.0.1 port 0 (TCP and TLS)."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from spicepy.errors import ConnectionClosedError, SessionError, SpiceTimeoutError
from spicepy.session.transport import (
    TlsConfig,
    check_host_subject,
    make_ssl_context,
    open_stream,
)
from spicepy.testing.pki import TestPki, make_test_pki

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LIMIT = 10.0  # every await in these tests is bounded


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki2"), server_cn="x")


def server_ctx(pki: TestPki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.files.server_cert, pki.files.server_key)
    return ctx


@asynccontextmanager
async def fake_server(
    handler: Handler, ctx: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        async with asyncio.timeout(LIMIT):
            await server.wait_closed()


async def echo_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        data = await reader.read(100)
        writer.write(data)
        await writer.drain()
    finally:
        writer.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    async with asyncio.timeout(LIMIT):
        writer.write(b"REDQ")
        await writer.drain()
        data = await reader.read(100)
    writer.close()
    return data


def test_plain_tcp_roundtrip() -> None:
    async def main() -> bytes:
        async with fake_server(echo_once) as port:
            r, w = await open_stream(host="127.0.0.1", port=port, timeout=LIMIT)
            return await roundtrip(r, w)

    assert asyncio.run(main()) == b"REDQ"


def test_refused_is_connection_closed() -> None:
    async def main() -> None:
        await open_stream(host="127.0.0.1", port=closed_port(), timeout=LIMIT)

    with pytest.raises(ConnectionClosedError, match="refused"):
        asyncio.run(main())


def test_tls_handshake_that_never_answers_times_out() -> None:
    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await asyncio.sleep(LIMIT)

    async def main() -> None:
        async with fake_server(silent) as port:
            await open_stream(
                host="127.0.0.1", port=port, tls=TlsConfig(verify=False), timeout=0.3
            )

    with pytest.raises(SpiceTimeoutError):
        asyncio.run(main())


def test_server_closing_during_tls_handshake() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        writer.close()

    async def main() -> None:
        async with fake_server(rude) as port:
            await open_stream(
                host="127.0.0.1", port=port, tls=TlsConfig(verify=False), timeout=LIMIT
            )

    with pytest.raises((ConnectionClosedError, SessionError)):
        asyncio.run(main())


def test_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")

    async def main() -> bytes:
        server = await asyncio.start_unix_server(echo_once, path)
        try:
            r, w = await open_stream(unix_path=path, timeout=LIMIT)
            return await roundtrip(r, w)
        finally:
            server.close()

    assert asyncio.run(main()) == b"REDQ"


def test_tls_over_unix_socket(pki: TestPki, tmp_path: Path) -> None:
    path = str(tmp_path / "tls.sock")
    pinned = TlsConfig(ca_file=str(pki.files.ca_cert), host_subject=pki.host_subject)

    async def main(tls: TlsConfig) -> bytes:
        server = await asyncio.start_unix_server(echo_once, path, ssl=server_ctx(pki))
        try:
            r, w = await open_stream(unix_path=path, tls=tls, timeout=LIMIT)
            return await roundtrip(r, w)
        finally:
            server.close()

    assert asyncio.run(main(pinned)) == b"REDQ"
    # no subject and no host name: nothing to verify against, said as such
    with pytest.raises(SessionError, match="needs a host subject or a host name"):
        asyncio.run(main(TlsConfig(ca_file=str(pki.files.ca_cert))))


@pytest.mark.parametrize("with_subject", [False, True])
def test_tls_with_our_ca(pki: TestPki, with_subject: bool) -> None:
    subject = pki.host_subject if with_subject else None
    tls = TlsConfig(ca_file=str(pki.files.ca_cert), host_subject=subject)

    async def main() -> bytes:
        async with fake_server(echo_once, server_ctx(pki)) as port:
            r, w = await open_stream(
                host="127.0.0.1", port=port, tls=tls, timeout=LIMIT
            )
            return await roundtrip(r, w)

    assert asyncio.run(main()) == b"REDQ"


def test_tls_wrong_host_subject(pki: TestPki) -> None:
    wrong = pki.host_subject.replace("CN=", "CN=not-")
    tls = TlsConfig(ca_file=str(pki.files.ca_cert), host_subject=wrong)

    async def main() -> None:
        async with fake_server(echo_once, server_ctx(pki)) as port:
            await open_stream(host="127.0.0.1", port=port, tls=tls, timeout=LIMIT)

    with pytest.raises(SessionError, match="does not match host subject"):
        asyncio.run(main())


def test_tls_untrusted_ca(pki: TestPki, other_pki: TestPki) -> None:
    tls = TlsConfig(ca_file=str(other_pki.files.ca_cert))

    async def main() -> None:
        async with fake_server(echo_once, server_ctx(pki)) as port:
            await open_stream(host="127.0.0.1", port=port, tls=tls, timeout=LIMIT)

    with pytest.raises(SessionError, match="verification"):
        asyncio.run(main())


def test_tls_hostname_mismatch_without_subject(pki: TestPki) -> None:
    # 127.0.0.2 is not in the certificate's subjectAltName
    tls = TlsConfig(ca_file=str(pki.files.ca_cert))

    async def main() -> None:
        server = await asyncio.start_server(
            echo_once, "127.0.0.2", 0, ssl=server_ctx(pki)
        )
        port = server.sockets[0].getsockname()[1]
        try:
            await open_stream(host="127.0.0.2", port=port, tls=tls, timeout=LIMIT)
        finally:
            server.close()

    with pytest.raises(SessionError, match="verification"):
        asyncio.run(main())


def test_check_host_subject_folds_case_and_spaces(pki: TestPki) -> None:
    der = ssl.PEM_cert_to_DER_cert(pki.files.server_cert.read_text())
    check_host_subject(der, pki.host_subject)
    check_host_subject(der, pki.host_subject.upper().replace("CN=", "CN=  "))
    reordered = ",".join(reversed(pki.host_subject.split(",")))
    with pytest.raises(SessionError):
        check_host_subject(der, reordered)
    with pytest.raises(SessionError):
        check_host_subject(der, pki.host_subject.rsplit(",", 1)[0])  # one RDN short
    with pytest.raises(SessionError):
        check_host_subject(b"not a certificate", "CN=x")


def test_bad_ca_file_and_bad_subject(tmp_path: Path) -> None:
    with pytest.raises(SessionError):
        make_ssl_context(TlsConfig(ca_file=str(tmp_path / "missing.pem")))
    with pytest.raises(ValueError):
        make_ssl_context(TlsConfig(host_subject="CN"))


_KEY = ec.generate_private_key(ec.SECP256R1())
_OIDS = {"O": NameOID.ORGANIZATION_NAME,
         "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
         "L": NameOID.LOCALITY_NAME}  # fmt: skip


def _cert(subject: list[tuple[str, str]]) -> bytes:
    """A self-signed DER certificate whose subject is exactly ``subject``, in order."""
    name = x509.Name([x509.NameAttribute(_OIDS[k], v) for k, v in subject])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("cert_subject", "pinned"),
    [
        ([("O", "x")], "CN=x"),  # same value under another key
        ([("CN", "x")], "O=x"),
        ([("O", "a"), ("CN", "b")], "CN=a,O=b"),  # keys swapped, values in place
        ([("O", "a"), ("CN", "b")], "O=b,CN=a"),  # values swapped, keys in place
        ([("CN", "x")], "CN=x,O=y"),  # pinned has one entry more
        ([("CN", "x"), ("O", "y")], "CN=x"),  # certificate has one entry more
        ([("CN", "x")], "CN=xx"),
        ([("CN", "x y")], "CN=xy"),  # folding keeps one space, not none
    ],
)
def test_host_subject_needs_same_keys_and_values_in_order(
    cert_subject: list[tuple[str, str]], pinned: str
) -> None:
    """A subject that matches the pin only in part is refused (a security check)."""
    with pytest.raises(SessionError, match="does not match host subject"):
        check_host_subject(_cert(cert_subject), pinned)


_entry = st.tuples(st.sampled_from(sorted(_OIDS)), st.sampled_from(["a", "b", "A "]))


@given(cert_subject=st.lists(_entry, min_size=1, max_size=3),
       pinned=st.lists(_entry, min_size=1, max_size=3))  # fmt: skip
def test_host_subject_accepts_exactly_equal_lists(
    cert_subject: list[tuple[str, str]], pinned: list[tuple[str, str]]
) -> None:
    """Accepted iff the (key, folded value) lists are equal: spice-common's rule."""
    der = _cert(cert_subject)
    text = ",".join(f"{k}={v}" for k, v in pinned)
    fold = [(k, " ".join(v.split()).casefold()) for k, v in cert_subject]
    if fold == [(k, " ".join(v.split()).casefold()) for k, v in pinned]:
        check_host_subject(der, text)
    else:
        with pytest.raises(SessionError):
            check_host_subject(der, text)


# -- what the errors say, and the less common paths ---------------------------------


def test_timeout_and_refusal_messages_name_the_peer() -> None:
    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await asyncio.sleep(LIMIT)

    async def timed_out() -> None:
        async with fake_server(silent) as port:
            try:
                await open_stream(
                    host="127.0.0.1",
                    port=port,
                    tls=TlsConfig(verify=False),
                    timeout=0.3,
                )
            except SpiceTimeoutError as exc:
                assert (
                    str(exc) == f"connecting to 127.0.0.1:{port} timed out after 0.3s"
                )
                raise

    with pytest.raises(SpiceTimeoutError):
        asyncio.run(timed_out())
    port = closed_port()
    with pytest.raises(ConnectionClosedError) as exc:
        asyncio.run(open_stream(host="127.0.0.1", port=port, timeout=LIMIT))
    assert str(exc.value) == f"connection to 127.0.0.1:{port} refused"


def test_missing_unix_socket_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.sock")
    with pytest.raises((ConnectionClosedError, SessionError)) as exc:
        asyncio.run(open_stream(unix_path=path, timeout=LIMIT))
    assert path in str(exc.value) and "127.0.0.1" not in str(exc.value)


def test_tls_handshake_failure_message(pki: TestPki) -> None:
    async def plain_garbage(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read(10)
        writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\n" * 4)  # not TLS
        await writer.drain()
        await asyncio.sleep(LIMIT)

    async def main() -> int:
        async with fake_server(plain_garbage) as port:
            await open_stream(
                host="127.0.0.1", port=port, tls=TlsConfig(verify=False), timeout=LIMIT
            )
            return port

    with pytest.raises(SessionError) as exc:
        asyncio.run(main())
    assert str(exc.value).startswith("TLS handshake with 127.0.0.1:")


def test_ca_data_is_used(pki: TestPki, other_pki: TestPki) -> None:
    """A CA given as PEM text (ca_data) verifies the server as a file would; the
    system store is not consulted instead."""
    pem = pki.files.ca_cert.read_text()

    async def main(tls: TlsConfig) -> bytes:
        async with fake_server(echo_once, server_ctx(pki)) as port:
            r, w = await open_stream(
                host="127.0.0.1", port=port, tls=tls, timeout=LIMIT
            )
            return await roundtrip(r, w)

    subject = pki.host_subject
    assert asyncio.run(main(TlsConfig(ca_data=pem, host_subject=subject))) == b"REDQ"
    wrong = other_pki.files.ca_cert.read_text()
    with pytest.raises(SessionError, match="verification"):
        asyncio.run(main(TlsConfig(ca_data=wrong, host_subject=subject)))


def test_ssl_context_is_a_strict_client_context(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated protocol constant
        ctx = make_ssl_context(TlsConfig())
    assert ctx.protocol is ssl.PROTOCOL_TLS_CLIENT
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
    pinned = make_ssl_context(TlsConfig(host_subject="CN=x"))
    assert pinned.verify_mode is ssl.CERT_REQUIRED and not pinned.check_hostname
    off = make_ssl_context(TlsConfig(verify=False))
    assert off.verify_mode is ssl.CERT_NONE and off.check_hostname is False
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(SessionError) as exc:
        make_ssl_context(TlsConfig(ca_file=str(bad)))
    assert str(exc.value).startswith("cannot load CA certificates: ")


def test_unparsable_certificate_message() -> None:
    with pytest.raises(SessionError) as exc:
        check_host_subject(b"not a certificate", "CN=x")
    assert str(exc.value).startswith("server certificate does not parse: ")
