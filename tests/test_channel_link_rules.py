"""The link layer's exact texts and the ticket's encryption
(spicepy.channels.link): link_error's class, code and text for each
SpiceLinkErr, and encrypt_ticket's RSA-OAEP(SHA-1) ticket decrypted with the
server's key (spice-gtk ``spice_channel_send_spice_ticket``), with its refusals."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from spicepy.channels.link import (
    NeedSecuredError,
    NeedUnsecuredError,
    encrypt_ticket,
    link_error,
)
from spicepy.errors import AuthenticationError, LinkError
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
