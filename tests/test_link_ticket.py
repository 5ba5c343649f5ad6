"""The link ticket: RSA-OAEP(SHA-1) of the password, checked against OpenSSL.

``encrypt_ticket`` uses the `cryptography` package; here OpenSSL's private side
(as spice-server's RSA_PKCS1_OAEP_PADDING) decrypts what it produced, and hostile
public keys must end in ``LinkError``.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels.link import encrypt_ticket
from spicepy.errors import LinkError

OAEP = padding.OAEP(
    mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None
)
KEYS = {
    bits: rsa.generate_private_key(public_exponent=65537, key_size=bits)
    for bits in (1024, 2048)
}


def der(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


DER_1024 = der(KEYS[1024].public_key())


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(KEYS)),
    st.text(max_size=60).filter(lambda t: len(t.encode()) <= 60),
)
def test_openssl_decrypts_the_ticket(bits: int, password: str) -> None:
    key = KEYS[bits]
    ticket = encrypt_ticket(der(key.public_key()), password)
    assert len(ticket) == bits // 8
    assert key.decrypt(ticket, OAEP) == password.encode() + b"\0"


def test_each_ticket_has_a_fresh_seed() -> None:
    # OAEP is randomised: the same password twice gives two ciphertexts
    assert encrypt_ticket(DER_1024, "pw") != encrypt_ticket(DER_1024, "pw")


def test_exponent_3_key() -> None:
    key = rsa.generate_private_key(public_exponent=3, key_size=1024)
    ticket = encrypt_ticket(der(key.public_key()), "x" * 60)
    assert key.decrypt(ticket, OAEP) == b"x" * 60 + b"\0"


def test_password_over_60_bytes_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="60 bytes"):
        encrypt_ticket(DER_1024, "y" * 61)


def _rsa_der(n: int, e: int) -> bytes:
    return der(rsa.RSAPublicNumbers(e, n).public_key())


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (der(ec.generate_private_key(ec.SECP256R1()).public_key()), "not RSA"),
        (DER_1024 + b"\0", "not a valid RSA key"),  # data after the key
        (DER_1024[:-1], "not a valid RSA key"),  # cut short
        (bytes(162), "not a valid RSA key"),  # zeros (a SASL server's reply)
        (b"", "not a valid RSA key"),
        # a 640-bit key cannot hold the 61-byte ticket with SHA-1 OAEP (needs 103)
        (_rsa_der((1 << 639) | 1, 65537), "too small"),
    ],
)
def test_unusable_keys_are_link_errors(key: bytes, why: str) -> None:
    with pytest.raises(LinkError, match=why):
        encrypt_ticket(key, "x" * 60)


def test_even_exponent_and_even_modulus_are_refused() -> None:
    n = KEYS[1024].public_key().public_numbers().n
    good = _rsa_der(n, 65537)
    assert encrypt_ticket(good, "")
    # same DER with the exponent's last byte made even (65537 -> 65536)
    assert good.endswith(bytes.fromhex("010001"))
    # OpenSSL refuses these at load or at encryption: either way a LinkError
    with pytest.raises(LinkError, match="link public key"):
        encrypt_ticket(good[:-1] + b"\x00", "")
    at = good.index(n.to_bytes(128, "big")) + 127  # the modulus' last byte
    even = good[:at] + bytes([good[at] & 0xFE]) + good[at + 1 :]
    with pytest.raises(LinkError, match="link public key"):
        encrypt_ticket(even, "")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_hostile_keys_give_a_ticket_or_a_link_error(data: st.DataObject) -> None:
    """Random bytes, and the real key with one byte changed or cut short: a
    ticket of the modulus' size or LinkError, never another exception."""
    kind = data.draw(st.sampled_from(["random", "flip", "cut"]))
    if kind == "random":
        key = data.draw(st.binary(max_size=200))
    elif kind == "flip":
        at = data.draw(st.integers(0, len(DER_1024) - 1))
        value = data.draw(st.integers(0, 255))
        key = DER_1024[:at] + bytes([value]) + DER_1024[at + 1 :]
    else:
        key = DER_1024[: data.draw(st.integers(0, len(DER_1024)))]
    try:
        ticket = encrypt_ticket(key, "pw")
    except LinkError:
        return
    assert 103 <= len(ticket) <= 512


def test_no_password_sends_a_zeroed_ticket_without_loading_a_crypto_library() -> None:
    """``LinkHandshake(password=None)`` (replaying a recorded server) links
    with 128 zero bytes for the ticket and never imports cryptography."""
    import subprocess
    import sys

    script = r"""
import struct, sys
from spicepy.channels.link import LinkHandshake
der = bytes.fromhex(sys.argv[1])
h = LinkHandshake(1, password=None, common_caps=frozenset({0, 1, 3}))
h.data_to_send()
# SpiceLinkReply: error, 162-byte key, 2 caps counts, caps offset, caps words
caps = struct.pack("<I", 0b1011)
body = struct.pack("<I", 0) + der + struct.pack("<III", 1, 0, 178) + caps
h.feed(struct.pack("<IIII", 0x51444552, 2, 2, len(body)) + body)
out = h.data_to_send()
assert out == struct.pack("<I", 1) + bytes(128), out.hex()
assert "cryptography" not in sys.modules
"""
    done = subprocess.run(
        [sys.executable, "-P", "-c", script, DER_1024.hex()],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
