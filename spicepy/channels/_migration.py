"""Live migration on the main channel: the states, their one transition table,
and the migration target a MIGRATE_BEGIN / SWITCH_HOST names.

Theory of operation (spice-gtk ``channel-main.c`` / spice-server
``main-channel-client.cpp``).  On the *source* main channel the server sends
MIGRATE_BEGIN (semi-seamless) or MIGRATE_BEGIN_SEAMLESS (seamless, with its
migration protocol version) once QEMU was told where the guest goes
(``client_migrate_info``): the client connects every channel to the target,
linking with the source's session id as connection id, and answers
MIGRATE_CONNECTED[_SEAMLESS] or MIGRATE_CONNECT_ERROR.  When QEMU's migration
completes the server either sends MIGRATE_END (semi-seamless: the client
switches to the target connections, sends MIGRATE_END there and starts over
from the target's INIT) or, seamless, a MIGRATE (+ MIGRATE_DATA) on every
channel, which the client passes to that channel's target connection before
switching it.  MIGRATE_CANCEL drops the target connections (the source goes
on); SWITCH_HOST (a client without the migration caps, or one that did not
connect in time) means: reconnect from scratch to that host.

On the *target* main channel a seamless client first sends
MIGRATE_DST_DO_SEAMLESS and waits for DST_SEAMLESS_ACK or NACK (NACK: go on
semi-seamless).

Anything the table does not allow is a ProtocolError: a server that ends or
acknowledges a migration nobody began is lying.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from spicepy.channels._state import transition
from spicepy.errors import ProtocolError

__all__ = [
    "MigrationState",
    "MigrationStep",
    "MigrationTarget",
    "next_migration_state",
    "target_from",
]

#: QEMU passes "no such port" as -1, which the u16 wire field carries as this
NO_PORT = 0xFFFF
#: a host name or subject longer than this is not one (DNS names stop at 253)
MAX_TARGET_TEXT = 1024


class MigrationState(Enum):
    NONE = "none"  # no migration under way
    CONNECTING = "connecting"  # source: BEGIN seen, connecting to the target
    CONNECTED = "connected"  # source: MIGRATE_CONNECTED sent, waiting for END
    SEAMLESS = "seamless"  # source: CONNECTED_SEAMLESS sent, waiting for MIGRATEs
    HANDSHAKE = "handshake"  # target: DO_SEAMLESS sent, waiting for ACK/NACK


class MigrationStep(Enum):
    BEGIN = "begin"  # MIGRATE_BEGIN[_SEAMLESS] received
    CONNECTED = "connected"  # MIGRATE_CONNECTED sent
    CONNECTED_SEAMLESS = "connected_seamless"  # MIGRATE_CONNECTED_SEAMLESS sent
    CONNECT_ERROR = "connect_error"  # MIGRATE_CONNECT_ERROR sent
    CANCEL = "cancel"  # MIGRATE_CANCEL received
    END = "end"  # MIGRATE_END received
    HANDED_OVER = "handed_over"  # the main channel's own MIGRATE (+ DATA) received
    SWITCH_HOST = "switch_host"  # MIGRATE_SWITCH_HOST received
    DO_SEAMLESS = "do_seamless"  # MIGRATE_DST_DO_SEAMLESS sent (target)
    SEAMLESS_REPLY = "seamless_reply"  # DST_SEAMLESS_ACK/NACK received (target)


M, P = MigrationState, MigrationStep
TRANSITIONS: dict[tuple[MigrationState, MigrationStep], MigrationState] = {
    (M.NONE, P.BEGIN): M.CONNECTING,
    (M.CONNECTING, P.CONNECTED): M.CONNECTED,
    (M.CONNECTING, P.CONNECTED_SEAMLESS): M.SEAMLESS,
    (M.CONNECTING, P.CONNECT_ERROR): M.NONE,
    # the server cancels a migration the client already gave up, and answers a
    # MIGRATE_CONNECTED that came after its timeout with CANCEL: both harmless
    (M.NONE, P.CANCEL): M.NONE,
    (M.CONNECTING, P.CANCEL): M.NONE,
    (M.CONNECTED, P.CANCEL): M.NONE,
    (M.SEAMLESS, P.CANCEL): M.NONE,
    (M.CONNECTED, P.END): M.NONE,
    (M.SEAMLESS, P.HANDED_OVER): M.NONE,
    # SWITCH_HOST is the server's fallback whatever the client did before
    (M.NONE, P.SWITCH_HOST): M.NONE,
    (M.CONNECTING, P.SWITCH_HOST): M.NONE,
    (M.CONNECTED, P.SWITCH_HOST): M.NONE,
    (M.SEAMLESS, P.SWITCH_HOST): M.NONE,
    (M.NONE, P.DO_SEAMLESS): M.HANDSHAKE,
    (M.HANDSHAKE, P.SEAMLESS_REPLY): M.NONE,
}


def next_migration_state(state: MigrationState, step: MigrationStep) -> MigrationState:
    """The state after ``step``; ProtocolError if the table does not allow it."""
    return transition(TRANSITIONS, state, step, "migration ")


@dataclass(frozen=True, slots=True)
class MigrationTarget:
    """Where the server migrates the session to.

    ``port``/``tls_port`` are None when the server gave none (0 or QEMU's -1);
    ``cert_subject`` is the target certificate's subject ("C=..,O=..,CN=..")
    to check instead of the host name.  ``seamless``/``version`` come from
    MIGRATE_BEGIN_SEAMLESS.
    """

    host: str
    port: int | None
    tls_port: int | None
    cert_subject: str | None = None
    seamless: bool = False
    version: int = 0


class DstFields(Protocol):
    """SpiceMigrationDstInfo's fields (MIGRATE_BEGIN's ``dst_info``, SWITCH_HOST)."""

    @property
    def port(self) -> int: ...
    @property
    def sport(self) -> int: ...
    @property
    def host_size(self) -> int: ...
    @property
    def host_data(self) -> bytes | None: ...
    @property
    def cert_subject_size(self) -> int: ...
    @property
    def cert_subject_data(self) -> bytes | None: ...


def _text(data: bytes | None, size: int, what: str) -> str | None:
    """A NUL-terminated string field (size counts the NUL, as spice-server sends it)."""
    if data is None or size == 0:
        return None
    if size > MAX_TARGET_TEXT:
        raise ProtocolError(f"migration {what} of {size} bytes")
    if data[-1:] != b"\0":
        raise ProtocolError(f"migration {what} is not NUL-terminated")
    try:
        text = data[:-1].decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"migration {what} is not ASCII") from None
    if not text.isprintable():  # also a NUL inside
        raise ProtocolError(f"migration {what} has control characters")
    return text


def _port(value: int) -> int | None:
    return None if value in (0, NO_PORT) else value


def target_from(
    info: DstFields, *, seamless: bool = False, version: int = 0
) -> MigrationTarget:
    """The target of a MIGRATE_BEGIN[_SEAMLESS] / SWITCH_HOST body.

    Raises:
        ProtocolError: no host, no port, or text fields that are not strings.
    """
    host = _text(info.host_data, info.host_size, "host")
    if not host:
        raise ProtocolError("migration target without a host")
    port, tls_port = _port(info.port), _port(info.sport)
    if port is None and tls_port is None:
        raise ProtocolError("migration target without a port")
    subject = _text(info.cert_subject_data, info.cert_subject_size, "cert subject")
    return MigrationTarget(host, port, tls_port, subject or None, seamless, version)
