"""The SASL exchange's exact texts, limits at their bounds and what reaches the
mechanism (spicepy.channels.sasl), with a recording mechanism in place of
pure-sasl; and the arguments pure_sasl_client gives pure-sasl.  Lengths are
u32 (spice-gtk ``spice_channel_perform_auth_sasl``), limits spice-gtk's
SASL_MAX_MECHLIST_LEN (300) and SASL_MAX_DATA_LEN (1 MiB)."""

from __future__ import annotations

import struct
import sys
import types
from typing import Any

import pytest

from spicepy.channels.sasl import SaslCredentials, SaslExchange, pure_sasl_client
from spicepy.errors import AuthenticationError, LinkError, ProtocolError

CREDS = SaslCredentials("alice", "secret", ("CRAM-MD5", "PLAIN"))


class Recorder:
    """A mechanism that answers b"r<n>" to the n-th challenge and records them."""

    def __init__(self) -> None:
        self.challenges: list[bytes | None] = []
        self.complete = False

    def process(self, challenge: bytes | None = None) -> bytes | None:
        self.challenges.append(challenge)
        return b"r%d" % len(self.challenges)


def exchange(name: str = "main") -> tuple[SaslExchange, list[Recorder]]:
    made: list[Recorder] = []

    def factory(creds: SaslCredentials, mech: str) -> Recorder:
        made.append(Recorder())
        return made[-1]

    return SaslExchange(CREDS, name, client_factory=factory), made


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def offer(ex: SaslExchange, mechlist: bytes) -> None:
    ex.feed(u32(len(mechlist)))
    ex.feed(mechlist)


def test_mechanism_list_limits_and_texts() -> None:
    ex, _ = exchange()
    with pytest.raises(ValueError) as verr:
        ex.feed(b"\0\0\0")
    assert str(verr.value) == "feed 4 bytes, not 3"
    for bad in (0, 301, 0x80000000):
        ex, _ = exchange()
        with pytest.raises(ProtocolError) as err:
            ex.feed(u32(bad))
        assert str(err.value) == f"main: SASL mechanism list of {bad}"
    ex, _ = exchange()
    ex.feed(u32(300))
    assert ex.need == 300
    ex, _ = exchange()
    ex.feed(u32(1))
    assert ex.need == 1


def test_mechanism_choice_and_first_bytes() -> None:
    ex, made = exchange()
    assert ex.mechanism == ""
    offer(ex, b"DIGEST-MD5 plain \xff,cram-md5\0\0")  # junk byte: replaced
    assert ex.mechanism == "CRAM-MD5"  # our order, not the server's
    # CRAM-MD5 waits for the server: the name, then no initial response
    assert ex.data_to_send() == u32(8) + b"CRAM-MD5" + u32(0)
    assert made[0].challenges == [] and ex.need == 4
    ex, made = exchange()
    offer(ex, b"PLAIN\0")
    assert ex.data_to_send() == u32(5) + b"PLAIN" + u32(3) + b"r1\0"
    assert made[0].challenges == [None]


def test_no_common_mechanism_texts() -> None:
    for mechlist, offered in (
        (b"\0", "none"),
        (b"GSSAPI, EXTERNAL", "GSSAPI, EXTERNAL"),
    ):
        ex, _ = exchange("display")
        with pytest.raises(LinkError) as err:
            offer(ex, mechlist)
        assert str(err.value) == (
            f"display: no common SASL mechanism (server offers {offered}; "
            "spicepy tries CRAM-MD5, PLAIN)"
        )
        assert err.value.error_code == 1
    ex = SaslExchange(CREDS, client_factory=lambda c, m: Recorder())
    with pytest.raises(LinkError) as err:
        offer(ex, b"X\0")
    assert str(err.value).startswith("channel: no common")  # the default name


def test_server_data_limits_and_challenges() -> None:
    ex, made = exchange()
    offer(ex, b"CRAM-MD5\0")
    ex.data_to_send()
    ex.feed(u32(1024 * 1024))  # the limit itself
    assert ex.need == 1024 * 1024
    ex, made = exchange()
    offer(ex, b"CRAM-MD5\0")
    for bad in (1024 * 1024 + 1, 0x80000000):
        probe, _ = exchange()
        offer(probe, b"CRAM-MD5\0")
        with pytest.raises(ProtocolError) as err:
            probe.feed(u32(bad))
        assert str(err.value) == f"main: SASL data of {bad} bytes"
    # a challenge (its trailing NUL dropped), then an empty one: None
    ex.feed(u32(4))
    ex.feed(b"abc\0")
    ex.feed(b"\0")  # not complete: answer
    ex.feed(u32(0))
    ex.feed(b"\0")
    assert made[0].challenges == [b"abc", None]
    ex.data_to_send()
    ex.feed(u32(0))
    ex.feed(b"\1")  # complete after the first round: no more processing
    assert len(made[0].challenges) == 2 and ex.need == 4


def test_result_texts() -> None:
    ex, _ = exchange()
    offer(ex, b"PLAIN\0")
    ex.feed(u32(0))
    ex.feed(b"\1")
    with pytest.raises(AuthenticationError) as err:
        ex.feed(u32(5))
    assert str(err.value) == "main: SASL PLAIN authentication refused (result 5)"
    assert err.value.error_code == 5
    ex, _ = exchange()
    offer(ex, b"PLAIN\0")
    ex.feed(u32(0))
    ex.feed(b"\1")
    with pytest.raises(AuthenticationError) as err:
        ex.feed(u32(0x80000000))
    assert "(result 2147483648)" in str(err.value)
    ex, _ = exchange()
    offer(ex, b"PLAIN\0")
    ex.feed(u32(0))
    ex.feed(b"\1")
    ex.feed(u32(0))
    assert ex.done
    with pytest.raises(ProtocolError) as perr:
        ex.feed(b"\0\0\0\0")
    assert str(perr.value) == "main: SASL data after the exchange"


def test_pure_sasl_client_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class FakeClient:
        def __init__(self, host: str, **kw: Any) -> None:
            seen.update(kw, host=host)

    module = types.ModuleType("puresasl.client")
    module.SASLClient = FakeClient  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "puresasl.client", module)
    creds = SaslCredentials("bob", "pw", host="vm.example")
    assert isinstance(pure_sasl_client(creds, "PLAIN"), FakeClient)
    assert seen == {
        "host": "vm.example",
        "service": "spice",
        "mechanism": "PLAIN",
        "username": "bob",
        "password": "pw",
        "qops": (b"auth",),
    }
    monkeypatch.setitem(sys.modules, "puresasl.client", None)  # not installed
    with pytest.raises(LinkError) as err:
        pure_sasl_client(creds, "PLAIN")
    assert str(err.value) == (
        "SASL authentication needs pure-sasl (pip install spicepy[sasl])"
    )
    assert err.value.error_code == 1


def test_a_failing_mechanism_is_a_link_error() -> None:
    class Broken(Recorder):
        def process(self, challenge: bytes | None = None) -> bytes | None:
            raise RuntimeError("boom")

    ex = SaslExchange(CREDS, "inputs", client_factory=lambda c, m: Broken())
    with pytest.raises(LinkError) as err:
        offer(ex, b"PLAIN\0")
    assert str(err.value) == "inputs: SASL PLAIN failed: boom"
    assert err.value.error_code == 1
