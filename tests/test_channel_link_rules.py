"""The link layer's exact texts and the ticket's encryption
(spicepy.channels.link): link_error's class, code and text for each
SpiceLinkErr, and encrypt_ticket's RSA-OAEP(SHA-1) ticket decrypted with the
server's key (spice-gtk ``spice_channel_send_spice_ticket``), with its refusals."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from spicepy.channels.link import (
    LinkHandshake,
    NeedSecuredError,
    NeedUnsecuredError,
    encrypt_ticket,
    link_error,
)
from spicepy.channels.sasl import SaslCredentials
from spicepy.errors import AuthenticationError, LinkError, ProtocolError
from spicepy.wire.enums import LinkErr

REASONS: dict[int, str] = {
    LinkErr.ERROR: "generic link error",
    LinkErr.INVALID_MAGIC: "invalid magic",
    LinkErr.INVALID_DATA: "invalid data",
    LinkErr.VERSION_MISMATCH: "protocol version mismatch",
    LinkErr.NEED_SECURED: "the channel needs TLS (NEED_SECURED): use the tls-port",
    LinkErr.NEED_UNSECURED: "this channel needs a plain connection (NEED_UNSECURED)",
    LinkErr.PERMISSION_DENIED: "the server refused the password (PERMISSION_DENIED)",
    LinkErr.BAD_CONNECTION_ID: "bad connection id (session id)",
    LinkErr.CHANNEL_NOT_AVAILABLE: "channel not available",
}
CLASSES: dict[int, type[LinkError]] = {
    LinkErr.PERMISSION_DENIED: AuthenticationError,
    LinkErr.NEED_SECURED: NeedSecuredError,
    LinkErr.NEED_UNSECURED: NeedUnsecuredError,
}


@pytest.mark.parametrize("code", sorted(REASONS))
def test_link_error_texts_and_classes(code: int) -> None:
    err = link_error(code, "display")
    assert type(err) is CLASSES.get(code, LinkError)
    assert str(err) == f"display: {REASONS[code]}"
    assert err.error_code == code
    assert str(link_error(code)) == REASONS[code]  # no channel name: no prefix


def test_unknown_link_error() -> None:
    err = link_error(99)
    assert type(err) is LinkError and err.error_code == 99
    assert str(err) == "unknown link error 99"


def _der(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_ticket_decrypts_to_the_password_and_a_nul() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    oaep = padding.OAEP(
        mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None
    )
    for password in ("", "s3cret", "é" * 30):  # 60 UTF-8 bytes: the limit
        ticket = encrypt_ticket(_der(key), password)
        assert len(ticket) == 128
        assert key.decrypt(ticket, oaep) == password.encode() + b"\0"


def test_ticket_refusals() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError) as verr:
        encrypt_ticket(_der(key), "é" * 30 + "x")  # 61 bytes
    assert str(verr.value) == "SPICE passwords are at most 60 bytes"
    with pytest.raises(LinkError) as err:
        encrypt_ticket(bytes(162), "pw")  # zeros, as a SASL-only server sends
    assert str(err.value) == "the server's link public key is not a valid RSA key"
    assert err.value.error_code == 1
    with pytest.raises(LinkError) as err:
        encrypt_ticket(_der(ec.generate_private_key(ec.SECP256R1())), "pw")
    assert str(err.value) == "the server's link public key is not RSA"
    assert err.value.error_code == 1
    # a 512-bit modulus (a hostile server's; cryptography generates none that
    # small): OAEP-SHA-1 holds 64 - 42 = 22 bytes, not 61
    small = rsa.RSAPublicNumbers(65537, (1 << 511) + 111).public_key()
    der = small.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(LinkError) as err:
        encrypt_ticket(der, "x" * 60)
    assert str(err.value) == "the server's link public key is too small for the ticket"
    assert err.value.error_code == 1


# The handshake machine, driven with replies built here with struct
# (PROTOCOL.md section 1), so the bytes it sends and every refusal's text are
# checked independently of spicepy.wire.link.
MAGIC = 0x51444552  # "REDQ"
SELECTION, SPICE, SASL, MINI = 0, 1, 2, 3
KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
OAEP = padding.OAEP(
    mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None
)


def _word(bits: tuple[int, ...]) -> int:
    return sum(1 << b for b in bits)


def _header(size: int, major: int = 2, magic: int = MAGIC) -> bytes:
    return struct.pack("<IIII", magic, major, 2, size)


def _reply(common: tuple[int, ...], error: int = 0) -> bytes:
    body = struct.pack("<I", error) + _der(KEY) + struct.pack("<III", 1, 0, 178)
    body += struct.pack("<I", _word(common))
    return _header(len(body)) + body


def _mess(conn: int, ctype: int, cid: int, common: tuple[int, ...]) -> bytes:
    body = struct.pack("<IBBIII", conn, ctype, cid, 1, 0, 18)
    return _header(len(body) + 4) + body + struct.pack("<I", _word(common))


def test_link_mess_bytes_and_first_state() -> None:
    h = LinkHandshake(2)  # every default: connection 0, channel id 0, no TLS
    assert h.data_to_send() == _mess(0, 2, 0, (SELECTION, SPICE, MINI))
    assert h.channel_type == 2 and h.channel_id == 0
    assert h.secure is False and h.result is None and not h.done
    h = LinkHandshake(4, 3, connection_id=0x01020304)
    assert h.data_to_send() == _mess(0x01020304, 4, 3, (SELECTION, SPICE, MINI))
    # SASL credentials count (and AUTH_SASL is advertised) only over TLS
    creds = SaslCredentials("user", "pw")
    assert LinkHandshake(1, sasl=creds).data_to_send() == _mess(
        0, 1, 0, (SELECTION, SPICE, MINI)
    )
    h = LinkHandshake(1, sasl=creds, secure=True)
    assert h.data_to_send() == _mess(0, 1, 0, (SELECTION, SPICE, SASL, MINI))
    with pytest.raises(ValueError) as err:
        LinkHandshake(1, password="x" * 61)
    assert str(err.value) == "SPICE passwords are at most 60 bytes"


def test_ticket_with_the_default_password_and_what_follows() -> None:
    h = LinkHandshake(1)
    h.data_to_send()
    reply = _reply((SELECTION, SPICE, MINI))
    assert h.feed(reply[:20]) == b""  # incomplete: nothing follows yet
    assert h.feed(reply[20:]) == b"" and h.awaiting_result
    out = h.data_to_send()
    assert out[:4] == struct.pack("<I", 1)  # AUTH_SPICE
    assert KEY.decrypt(out[4:], OAEP) == b"\0"  # the empty password
    assert h.feed(struct.pack("<I", 0) + b"ab") == b"ab" and h.done
    assert h.feed(b"cd") == b"cd"  # after the link: data passes through
    assert h.result is not None and h.result.mini_header


def _refused(data: bytes) -> ProtocolError:
    """What a fresh channel 1:0 handshake raises on ``data``."""
    with pytest.raises(ProtocolError) as err:
        LinkHandshake(1).feed(data)
    return err.value


def test_reply_refusal_texts() -> None:
    err = _refused(_header(200, magic=0))
    assert str(err) == "channel 1:0: bad link reply header: bad link magic 0x0"
    err = _refused(_header(200, major=1))
    assert type(err) is LinkError and err.error_code == LinkErr.VERSION_MISMATCH
    assert str(err) == "channel 1:0: protocol version mismatch"
    err = _refused(_header(3) + bytes(3))
    assert str(err) == "channel 1:0: link reply of 3 bytes"
    # 4 bytes is the smallest reply: just the error
    err = _refused(_header(4) + struct.pack("<I", LinkErr.PERMISSION_DENIED))
    assert type(err) is AuthenticationError
    assert (
        str(err) == "channel 1:0: the server refused the password (PERMISSION_DENIED)"
    )
    err = _refused(_header(10) + bytes(10))
    assert str(err) == "channel 1:0: bad link reply: truncated SpiceLinkReply"
    # the link result is a u32: its top bit set is no negative code
    err = _refused(_reply((SELECTION, SPICE)) + b"\xff\xff\xff\xff")
    assert type(err) is LinkError and err.error_code == 0xFFFFFFFF
    assert str(err) == "channel 1:0: unknown link error 4294967295"
    err = _refused(_reply((SELECTION, SPICE)) + struct.pack("<I", 9))
    assert str(err) == "channel 1:0: channel not available"


def test_auth_selection_refusals() -> None:
    err = _refused(_reply((SELECTION,)))
    assert type(err) is LinkError and err.error_code == 1
    assert str(err) == "channel 1:0: the server offers no SPICE ticket auth"
    err = _refused(_reply((SELECTION, SASL)))  # plain connection
    assert type(err) is LinkError and err.error_code == 1
    assert str(err) == (
        "channel 1:0: the server wants SASL, which spicepy does over TLS only "
        "(use the tls-port)"
    )


def test_sasl_selected_and_closed() -> None:
    h = LinkHandshake(1, 2, sasl=SaslCredentials("user", "pw"), secure=True)
    assert h.closed_error() is None  # no SASL yet: a plain EOF
    h.data_to_send()
    assert h.feed(_reply((SELECTION, SPICE, SASL))) == b""
    assert h.data_to_send() == struct.pack("<I", 2)  # AUTH_SASL, no ticket
    err = h.closed_error()
    assert type(err) is AuthenticationError
    assert err.error_code == LinkErr.PERMISSION_DENIED
    assert str(err) == (  # no mechanism chosen yet: none named
        "channel 1:2: the server closed the connection during SASL  "
        "authentication (wrong user or password?)"
    )
    with pytest.raises(ProtocolError) as perr:  # the exchange carries the name
        h.feed(struct.pack("<I", 0))
    assert str(perr.value) == "channel 1:2: SASL mechanism list of 0"
