"""SASL authentication inside the SPICE link (SPICE_COMMON_CAP_AUTH_SASL), sans-IO.

Theory of operation (spice-gtk ``spice_channel_perform_auth_sasl``; every
integer a little-endian u32):

1. after the link reply the client sends the auth mechanism ``AUTH_SASL``;
2. server: length + mechanism list (names separated by spaces or commas);
3. client: length + chosen mechanism name, then length + initial response
   *including a trailing NUL* (length 0: no initial response, which SASL
   distinguishes from an empty one);
4. server: length + data (with trailing NUL; 0: none) + a u8 "complete";
5. until the server says complete the client steps with the server's data and
   sends its answer as in 3; after the first server answer the client always
   steps once, even if the server is already complete (mutual auth);
6. server: a u32 SASL result (SpiceLinkErr; spice-server closes the connection
   instead when the credentials are wrong);
7. then the u32 link result, exactly as after a ticket.

Without TLS spice-server and spice-gtk demand a SASL security layer (SSF >= 56,
e.g. DIGEST-MD5 auth-conf) that wraps all later traffic; spicepy has none, so
it uses SASL over TLS only (``LinkHandshake`` checks that).  The mechanisms
themselves come from ``pure-sasl`` (the ``sasl`` extra).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from spicepy.errors import AuthenticationError, LinkError, ProtocolError

__all__ = ["SaslCredentials", "SaslExchange", "SaslMechanism", "pure_sasl_client"]

#: spice-gtk's limits (SASL_MAX_MECHLIST_LEN, SASL_MAX_DATA_LEN)
MAX_MECHLIST = 300
MAX_DATA = 1024 * 1024
#: mechanisms whose client speaks first (the rest start with a server challenge)
CLIENT_FIRST = frozenset({"PLAIN", "EXTERNAL", "ANONYMOUS", "GSSAPI"})


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    """Who authenticates, and the mechanisms spicepy may pick, best first.

    ``host`` is the server name the mechanism sees (DIGEST-MD5's digest-uri).
    """

    username: str
    password: str
    mechanisms: tuple[str, ...] = ("DIGEST-MD5", "CRAM-MD5", "PLAIN")
    host: str = "localhost"


class SaslMechanism(Protocol):
    """One client-side SASL conversation (``pure_sasl_client`` makes one)."""

    @property
    def complete(self) -> bool: ...

    def process(self, challenge: bytes | None = None) -> bytes | None: ...


def pure_sasl_client(credentials: SaslCredentials, mechanism: str) -> SaslMechanism:
    """A pure-sasl client for ``mechanism`` (service "spice", as spice-gtk).

    Raises:
        LinkError: pure-sasl is not installed.
    """
    try:
        from puresasl.client import SASLClient  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError as exc:
        raise LinkError(
            "SASL authentication needs pure-sasl (pip install spicepy[sasl])", 1
        ) from exc
    client: Any = SASLClient(
        credentials.host,
        service="spice",
        mechanism=mechanism,
        username=credentials.username,
        password=credentials.password,
        qops=(b"auth",),  # no security layer: TLS carries the channel
    )
    return client  # type: ignore[no-any-return]


class _Phase(Enum):
    MECHLIST_LEN = 1
    MECHLIST = 2
    DATA_LEN = 3
    DATA = 4
    COMPLETE = 5
    RESULT = 6
    DONE = 7


class SaslExchange:
    """The SASL part of one channel's link: feed it exactly ``need`` bytes at a
    time (``feed``); send what ``data_to_send`` returns; stop when ``done``.

    Raises (from ``feed``): ProtocolError for lengths over spice-gtk's limits,
    LinkError when no mechanism is common or the mechanism fails.
    """

    def __init__(
        self,
        credentials: SaslCredentials,
        name: str = "channel",
        *,
        client_factory: Callable[[SaslCredentials, str], SaslMechanism] | None = None,
    ) -> None:
        self.credentials = credentials
        self._factory = client_factory or pure_sasl_client
        self.mechanism = ""
        self._name = name
        self._client: SaslMechanism | None = None
        self._phase = _Phase.MECHLIST_LEN
        self.need = 4
        self._server_data: bytes | None = None
        self._first = True
        self._out = bytearray()

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def feed(self, chunk: bytes) -> None:
        """Consume ``need`` bytes."""
        if len(chunk) != self.need:
            raise ValueError(f"feed {self.need} bytes, not {len(chunk)}")
        phase = self._phase
        if phase is _Phase.MECHLIST_LEN:
            (length,) = struct.unpack("<I", chunk)
            if not 0 < length <= MAX_MECHLIST:
                raise ProtocolError(f"{self._name}: SASL mechanism list of {length}")
            self._phase, self.need = _Phase.MECHLIST, length
        elif phase is _Phase.MECHLIST:
            self._start(chunk.rstrip(b"\0").decode("ascii", "replace"))
        elif phase is _Phase.DATA_LEN:
            (length,) = struct.unpack("<I", chunk)
            if length > MAX_DATA:
                raise ProtocolError(f"{self._name}: SASL data of {length} bytes")
            if length:
                self._phase, self.need = _Phase.DATA, length
            else:
                self._server_data = None
                self._phase, self.need = _Phase.COMPLETE, 1
        elif phase is _Phase.DATA:
            self._server_data = chunk[:-1]  # the sender's trailing NUL
            self._phase, self.need = _Phase.COMPLETE, 1
        elif phase is _Phase.COMPLETE:
            self._on_complete(chunk[0] != 0)
        elif phase is _Phase.RESULT:
            (code,) = struct.unpack("<I", chunk)
            if code != 0:
                raise AuthenticationError(
                    f"{self._name}: SASL {self.mechanism} authentication refused "
                    f"(result {code})",
                    code,
                )
            self._phase = _Phase.DONE
        else:
            raise ProtocolError(f"{self._name}: SASL data after the exchange")

    def _start(self, mechlist: str) -> None:
        offered = [m.upper() for m in re.split(r"[\s,]+", mechlist) if m]
        wanted = [m.upper() for m in self.credentials.mechanisms]
        common = [m for m in wanted if m in offered]
        if not common:
            raise LinkError(
                f"{self._name}: no common SASL mechanism (server offers "
                f"{', '.join(offered) or 'none'}; spicepy tries {', '.join(wanted)})",
                1,
            )
        self.mechanism = common[0]
        self._client = self._factory(self.credentials, self.mechanism)
        name = self.mechanism.encode()
        self._out += struct.pack("<I", len(name)) + name
        initial = self._process(None) if self.mechanism in CLIENT_FIRST else None
        self._send(initial)
        self._phase, self.need = _Phase.DATA_LEN, 4

    def _process(self, challenge: bytes | None) -> bytes | None:
        assert self._client is not None
        try:
            return self._client.process(challenge)
        except Exception as exc:  # pure-sasl raises its own error types
            raise LinkError(
                f"{self._name}: SASL {self.mechanism} failed: {exc}", 1
            ) from exc

    def _send(self, data: bytes | None) -> None:
        if data is None:
            self._out += struct.pack("<I", 0)
        else:
            self._out += struct.pack("<I", len(data) + 1) + data + b"\0"

    def _on_complete(self, complete: bool) -> None:
        assert self._client is not None
        first, self._first = self._first, False
        if complete and (not first or self._client.complete):
            self._phase, self.need = _Phase.RESULT, 4
            return
        answer = self._process(self._server_data)
        if complete:
            self._phase, self.need = _Phase.RESULT, 4
            return
        self._send(answer)
        self._phase, self.need = _Phase.DATA_LEN, 4
