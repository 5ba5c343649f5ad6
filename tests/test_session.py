"""The session against a fake SPICE server on 127.0.0.1 port 0 (every await bounded).

The fake server speaks the server side of the link handshake and a few main
channel messages, written here from the protocol facts (spice.proto,
spice/protocol.h), independently of spicepy.wire: REDQ header + SpiceLinkMess
in, SpiceLinkReply (RSA-1024 public key, caps) out, auth mechanism + 128-byte
RSA-OAEP ticket in, u32 link result out, then mini-header messages.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import spicepy
from spicepy.errors import (
    AuthenticationError,
    ConnectionClosedError,
    LinkError,
    SpiceTimeoutError,
)
from spicepy.testing.pki import TestPki, make_test_pki

LIMIT = 10.0
MAGIC = b"REDQ"
COMMON_CAPS = (1 << 0) | (1 << 1) | (1 << 3)  # AUTH_SELECTION, AUTH_SPICE, MINI_HEADER
KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
PUBKEY = KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
assert len(PUBKEY) == 162
SESSION_ID = 0x1234ABCD


@dataclass
class FakeSpice:
    """Behaviour knobs and a record of what the client did."""

    password: str | None = None
    link_error: dict[int, int] = field(default_factory=dict)  # channel type -> code
    channels: list[tuple[int, int]] = field(default_factory=lambda: [(1, 0)])
    stall_link: bool = False
    cut_link_reply: bool = False
    ping_id: int | None = None
    cut_init: bool = False
    left: int = 0  # non-main channels the client closed after linking
    linked: list[tuple[int, int, int]] = field(default_factory=list)
    pongs: list[int] = field(default_factory=list)
    tickets: list[bytes] = field(default_factory=list)
    #: message types the client sent on main (after the link)
    main_sent: list[int] = field(default_factory=list)
    #: send MAIN INIT in the same write as the link result (one read for both)
    init_with_result: bool = False
    #: (message type, body) the client sent on the inputs channel
    inputs_sent: list[tuple[int, bytes]] = field(default_factory=list)
    #: RECORD START (channels, frequency) sent once the record channel links
    record_start: tuple[int, int] | None = None
    #: (message type, body) the client sent on the record channel
    record_sent: list[tuple[int, bytes]] = field(default_factory=list)
    #: channel type -> coroutine function serving that channel after its link
    #: (e.g. a usbredir guest or a spiceport), instead of the default
    peers: dict[
        int, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ] = field(default_factory=dict)

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            async with asyncio.timeout(LIMIT):
                await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        except asyncio.CancelledError:  # the test's loop is shutting down
            pass
        finally:
            writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        magic, major, minor, size = struct.unpack(
            "<4sIII", await reader.readexactly(16)
        )
        assert (magic, major) == (MAGIC, 2)
        mess = await reader.readexactly(size)
        conn_id, ctype, cid, n_common, n_chan, caps_off = struct.unpack_from(
            "<IBBIII", mess
        )
        client_common = struct.unpack_from("<I", mess, caps_off)[0] if n_common else 0
        if self.stall_link:
            await asyncio.sleep(LIMIT)
            return
        error = self.link_error.get(ctype, 0)
        reply = struct.pack("<I", error) + PUBKEY + struct.pack("<III", 1, 0, 178)
        reply += struct.pack("<I", COMMON_CAPS)
        data = struct.pack("<4sIII", MAGIC, 2, 2, len(reply)) + reply
        if self.cut_link_reply:
            writer.write(data[: len(data) // 2])
            await writer.drain()
            return
        writer.write(data)
        await writer.drain()
        if error:
            return
        if client_common & 1:
            (mech,) = struct.unpack("<I", await reader.readexactly(4))
            assert mech == 1
        ticket = KEY.decrypt(
            await reader.readexactly(128),
            padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
        )
        self.tickets.append(ticket)
        given = ticket.rstrip(b"\0").decode()
        ok = self.password is None or given == self.password
        writer.write(struct.pack("<I", 0 if ok else 7))
        if not (ok and ctype == 1 and self.init_with_result):
            await writer.drain()
        if not ok:
            return
        self.linked.append((conn_id, ctype, cid))
        if ctype in self.peers:
            await self.peers[ctype](reader, writer)
        elif ctype == 1:
            await self._main(reader, writer)
        elif ctype in (3, 6):
            sent = self.inputs_sent if ctype == 3 else self.record_sent
            if ctype == 6 and self.record_start is not None:
                channels, frequency = self.record_start
                start = struct.pack("<IHI", channels, 1, frequency)  # format S16
                writer.write(struct.pack("<HI", 101, len(start)) + start)
                await writer.drain()
            try:
                while True:
                    mtype, size = struct.unpack("<HI", await reader.readexactly(6))
                    sent.append((mtype, await reader.readexactly(size)))
            except asyncio.IncompleteReadError:
                self.left += 1
        else:
            await reader.read()  # keep the channel open until the client leaves
            self.left += 1

    async def _main(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        init = struct.pack("<8I", SESSION_ID, 1, 3, 1, 0, 10, 0, 0)
        if self.cut_init:  # a message header promising more than ever arrives
            writer.write(struct.pack("<HI", 103, len(init)) + init[:10])
            await writer.drain()
            return
        writer.write(struct.pack("<HI", 103, len(init)) + init)
        if self.ping_id is not None:
            ping = struct.pack("<IQ", self.ping_id, 42)
            writer.write(struct.pack("<HI", 4, len(ping)) + ping)
        await writer.drain()
        while True:
            mtype, size = struct.unpack("<HI", await reader.readexactly(6))
            body = await reader.readexactly(size)
            self.main_sent.append(mtype)
            if mtype == 104:  # ATTACH_CHANNELS
                listed = struct.pack("<I", len(self.channels))
                listed += b"".join(struct.pack("<BB", t, i) for t, i in self.channels)
                writer.write(struct.pack("<HI", 104, len(listed)) + listed)
                await writer.drain()
            elif mtype == 3:  # PONG
                self.pongs.append(struct.unpack_from("<I", body)[0])


@asynccontextmanager
async def serve(
    fake: FakeSpice, ctx: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0, ssl=ctx)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(coro: object) -> object:
    async def bounded() -> object:
        async with asyncio.timeout(LIMIT * 2):
            return await coro  # type: ignore[misc]

    return asyncio.run(bounded())


def test_refused() -> None:
    with pytest.raises(ConnectionClosedError, match="refused"):
        run(spicepy.connect(f"spice://127.0.0.1:{closed_port()}", timeout=LIMIT))


def test_link_that_never_answers_times_out() -> None:
    async def main() -> None:
        async with serve(FakeSpice(stall_link=True)) as port:
            await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=0.3)

    with pytest.raises(SpiceTimeoutError):
        run(main())


def test_server_closes_mid_message() -> None:
    async def main() -> None:
        async with serve(FakeSpice(cut_link_reply=True)) as port:
            await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)

    with pytest.raises(ConnectionClosedError):
        run(main())


def test_main_links_then_listed_channels_with_session_id() -> None:
    fake = FakeSpice(channels=[(1, 0), (3, 0), (4, 0)], ping_id=77)

    async def main() -> list[str]:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                await s.wait_for(lambda: bool(fake.pongs), LIMIT, "a pong")
                assert s.session_id == SESSION_ID
                return sorted(c.name for c in s.connections.values())

    names = run(main())
    assert names == ["cursor:0", "inputs:0", "main:0"]
    assert fake.linked[0] == (0, 1, 0)
    assert sorted(fake.linked[1:]) == [(SESSION_ID, 3, 0), (SESSION_ID, 4, 0)]
    assert fake.pongs == [77]


def test_mouse_mode_request_follows_an_init_that_came_with_the_link() -> None:
    """MAIN INIT offers CLIENT mouse mode (the session asks for it): also when the
    INIT arrives in the same read as the link result, before connect() has
    registered the main channel."""
    fake = FakeSpice(init_with_result=True, channels=[(1, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)
            try:
                await s.wait_for(lambda: 105 in fake.main_sent, LIMIT, "the request")
            finally:
                await s.close()

    run(main())
    assert fake.main_sent.count(105) == 1  # MSGC_MAIN_MOUSE_MODE_REQUEST, once


def test_password_is_sent_and_wrong_one_refused() -> None:
    fake = FakeSpice(password="open sesame")

    async def main(password: str | None) -> None:
        async with serve(fake) as port:
            uri = f"spice://127.0.0.1:{port}"
            async with spicepy.connect(uri, password=password, timeout=LIMIT):
                pass

    run(main("open sesame"))
    assert fake.tickets[-1].rstrip(b"\0") == b"open sesame"
    with pytest.raises(AuthenticationError):
        run(main("nope"))


def test_link_error_code_is_reported() -> None:
    async def main() -> None:
        async with serve(FakeSpice(link_error={1: 9})) as port:
            await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)

    with pytest.raises(LinkError) as info:
        run(main())
    assert info.value.error_code == 9
    assert not isinstance(info.value, AuthenticationError)


def test_need_secured_relinks_on_tls_port(tmp_path: Path) -> None:
    pki: TestPki = make_test_pki(tmp_path / "pki")
    plain = FakeSpice(channels=[(1, 0), (3, 0)], link_error={3: 5})
    secure = FakeSpice()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.files.server_cert, pki.files.server_key)

    async def main() -> list[str]:
        async with serve(plain) as port, serve(secure, ctx) as tls_port:
            uri = f"spice://127.0.0.1?port={port}&tls-port={tls_port}"
            async with spicepy.connect(
                uri,
                ca_file=pki.files.ca_cert,
                host_subject=pki.host_subject,
                timeout=LIMIT,
                plain=True,
            ) as s:
                return sorted(c.name for c in s.connections.values())

    assert run(main()) == ["inputs:0", "main:0"]
    assert plain.linked == [(0, 1, 0)]
    assert secure.linked == [(SESSION_ID, 3, 0)]


@pytest.mark.parametrize("plain", [False, True])
def test_both_ports_mean_tls_everywhere_unless_plain(
    tmp_path: Path, plain: bool
) -> None:
    pki: TestPki = make_test_pki(tmp_path / "pki")
    listed = [(1, 0), (2, 0), (3, 0)]
    on_plain, on_tls = FakeSpice(channels=listed), FakeSpice(channels=listed)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.files.server_cert, pki.files.server_key)

    async def main() -> None:
        async with serve(on_plain) as port, serve(on_tls, ctx) as tls_port:
            uri = f"spice://127.0.0.1?port={port}&tls-port={tls_port}"
            async with spicepy.connect(
                uri,
                ca_file=pki.files.ca_cert,
                host_subject=pki.host_subject,
                timeout=LIMIT,
                plain=plain,
            ):
                pass

    run(main())
    everything = [(0, 1, 0), (SESSION_ID, 2, 0), (SESSION_ID, 3, 0)]
    used, unused = (on_plain, on_tls) if plain else (on_tls, on_plain)
    assert sorted(used.linked) == everything and unused.linked == []


def test_need_secured_without_tls_port() -> None:
    fake = FakeSpice(link_error={1: 5})

    async def main() -> None:
        async with serve(fake) as port:
            await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)

    with pytest.raises(LinkError) as info:
        run(main())
    assert info.value.error_code == 5


def test_server_closes_mid_message_after_link() -> None:
    async def main() -> None:
        async with serve(FakeSpice(cut_init=True)) as port:
            await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)

    with pytest.raises(ConnectionClosedError, match="middle of a message"):
        run(main())


def test_server_disconnect_wakes_waiters() -> None:
    fake = FakeSpice(channels=[(1, 0), (2, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                # the fake display never sends a frame and then goes away
                display = s.connections[(2, 0)]
                display._writer.transport.abort()
                await s.wait_for_frame(timeout=LIMIT)

    with pytest.raises(ConnectionClosedError):
        run(main())


def test_failed_secondary_link_closes_the_linked_ones() -> None:
    fake = FakeSpice(channels=[(1, 0), (3, 0), (4, 0)], link_error={4: 9})

    async def main() -> int:
        async with serve(fake) as port:
            with pytest.raises(LinkError):
                await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT)
            async with asyncio.timeout(LIMIT):
                while fake.left < 1:  # the inputs channel that did link
                    await asyncio.sleep(0.01)
            return fake.left

    assert run(main()) == 1


def test_events_iterator_sees_channel_events() -> None:
    from spicepy.channels.events import LinkCompleted, MainInitReceived, PingAnswered

    fake = FakeSpice(ping_id=5)

    async def main() -> list[type]:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                seen: list[type] = []
                async with asyncio.timeout(LIMIT):
                    async for event in s.events():
                        seen.append(type(event))
                        if isinstance(event, PingAnswered):
                            break
                return seen

    seen = run(main())
    assert seen[0] is LinkCompleted
    assert MainInitReceived in seen and seen[-1] is PingAnswered


BOT_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "expect": ("ref.png", {"region": (1, 2), "max_diff": 3, "timeout": 4.0,
                           "report_dir": "r"}),
    "find": ("n.json", {"region": (1, 2, 3, 4)}),
    "wait_for_needle": ("n.json", {"region": None, "timeout": 5.0,
                                   "report_dir": "r"}),
    "click_on": ("n.json", {"button": 3, "region": None, "timeout": 6.0,
                            "report_dir": None}),
    "wait_for_text": ("login", {"region": (0, 0, 9, 9), "timeout": 7.0,
                                "report_dir": None}),
    "click_text": ("OK", {"button": 2, "region": None, "timeout": 8.0,
                          "report_dir": "r"}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BOT_CALLS))
def test_session_bot_calls_go_to_bots_actions(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spicepy.bots import actions
    from spicepy.session.session import Session
    from spicepy.session.uri import parse_uri

    arg, kwargs = BOT_CALLS[name]
    seen: list[tuple[object, ...]] = []

    async def fake(session: object, first: object, **kw: object) -> str:
        seen.append((session, first, kw))
        return "result"

    monkeypatch.setattr(actions, name, fake)

    async def main() -> tuple[object, object]:
        session = Session(parse_uri("spice://127.0.0.1:1"))
        return session, await getattr(session, name)(arg, **kwargs)

    session, result = cast(tuple[object, object], run(main()))
    assert seen == [(session, arg, kwargs)]
    assert result == ("result" if name != "expect" else None)


def test_listed_channels_not_opened_are_reported() -> None:
    from spicepy.session.session import ChannelsSkipped, SkippedChannel

    # main, display, inputs, record, usbredir, smartcard (QEMU lists such)
    fake = FakeSpice(channels=[(1, 0), (2, 0), (3, 0), (6, 0), (9, 0), (8, 0)])

    async def main() -> tuple[list[SkippedChannel], list[object]]:
        async with serve(fake) as port:
            async with spicepy.connect(
                f"spice://127.0.0.1:{port}",
                timeout=LIMIT,
                disable_channels=frozenset({3}),
            ) as s:
                events: list[object] = []
                async with asyncio.timeout(LIMIT):
                    async for event in s.events():
                        events.append(event)
                        if isinstance(event, ChannelsSkipped):
                            break
                return s.skipped_channels, events

    skipped, events = cast(tuple[list[SkippedChannel], list[object]], run(main()))
    unsupported = "not supported by spicepy"
    assert skipped == [
        SkippedChannel(3, 0, "not chosen"),
        SkippedChannel(6, 0, "opt-in: connect(record=True)"),
        SkippedChannel(9, 0, "opt-in: connect(usbredir=True)"),
        SkippedChannel(8, 0, unsupported),
    ]
    assert [s.name for s in skipped] == ["inputs:0", "record:0", "usbredir:0",
                                         "smartcard:0"]  # fmt: skip
    assert events[-1] == ChannelsSkipped(tuple(skipped))
    assert sorted(t for _, t, _ in fake.linked) == [1, 2]


KEY_DOWN, KEY_UP = 101, 102  # SPICE_MSGC_INPUTS_KEY_DOWN / KEY_UP


@pytest.mark.parametrize(
    ("delay", "sleeps_before"),
    [
        # 2 scancode bytes a letter, 4 for a shifted one: bursts of <= 4 bytes
        (None, {2: 0.01, 4: 0.01, 5: 0.01, 6: 0.01, 8: 0.01}),
        (0.05, {i: 0.05 for i in range(1, 9)}),
        (0.0, {}),
    ],
)
def test_type_text_paces_strokes_and_releases_every_key(
    monkeypatch: pytest.MonkeyPatch,
    delay: float | None,
    sleeps_before: dict[int, float],
) -> None:
    from spicepy.session.keymap import key_code

    text = "abcdEFg\n\t"  # 4 x 2 + 2 x 4 (shift) + 3 x 2 bytes
    fake = FakeSpice(channels=[(1, 0), (3, 0)])
    trace: list[object] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        if seconds:
            trace.append(seconds)
        await real_sleep(seconds)

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                real_send = s._send_key

                def send(conn: object, code: int, down: bool) -> None:
                    trace.append((code, down))
                    real_send(conn, code, down)  # type: ignore[arg-type]

                monkeypatch.setattr(s, "_send_key", send)
                monkeypatch.setattr(asyncio, "sleep", sleep)
                await s.type_text(text, delay=delay)
                monkeypatch.setattr(asyncio, "sleep", real_sleep)
                async with asyncio.timeout(LIMIT):
                    while len(fake.inputs_sent) < 22:
                        await asyncio.sleep(0.01)

    run(main())
    shift = key_code("shift")
    expected: list[object] = []
    for i, ch in enumerate(text):
        if i in sleeps_before:
            expected.append(sleeps_before[i])
        code = key_code({"\n": "enter", "\t": "tab"}.get(ch, ch.lower()))
        strokes = [(code, True), (code, False)]
        if ch.isupper():
            strokes = [(shift, True), *strokes, (shift, False)]
        expected += strokes
    assert trace == expected
    sent = [(t, struct.unpack("<I", b)[0]) for t, b in fake.inputs_sent]
    assert sent == [
        (KEY_DOWN if down else KEY_UP, code | (0 if down else 0x80))
        for code, down in (x for x in expected if isinstance(x, tuple))
    ]


def test_key_press_releases_what_it_pressed_when_a_key_is_unknown() -> None:
    fake = FakeSpice(channels=[(1, 0), (3, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT) as s:
                with pytest.raises(ValueError, match="nosuchkey"):
                    await s.key_press("nosuchkey", modifiers=("ctrl",))
                await s.key_press("a", modifiers=("ctrl", "shift"))
                async with asyncio.timeout(LIMIT):
                    while len(fake.inputs_sent) < 6:
                        await asyncio.sleep(0.01)

    run(main())
    # nothing of the failed press; then ctrl, shift, a down and up in reverse
    assert [(t, struct.unpack("<I", b)[0]) for t, b in fake.inputs_sent] == [
        (KEY_DOWN, 0x1D), (KEY_DOWN, 0x2A), (KEY_DOWN, 0x1E),
        (KEY_UP, 0x9E), (KEY_UP, 0xAA), (KEY_UP, 0x9D),
    ]  # fmt: skip


def test_connect_goes_through_the_proxy_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every channel is tunnelled (HTTP CONNECT) through ``proxy=``; SPICE_PROXY
    is the fallback (here it points at a closed port: not used)."""
    monkeypatch.setenv("SPICE_PROXY", f"http://127.0.0.1:{closed_port()}")
    fake = FakeSpice(channels=[(1, 0), (3, 0)])
    heads: list[bytes] = []

    async def relay(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        host, _, port = head.split(b" ")[1].decode().rpartition(":")
        up_r, up_w = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(relay(reader, up_w), relay(up_r, writer))

    async def main() -> None:
        async with serve(fake) as port:
            server = await asyncio.start_server(proxy, "127.0.0.1", 0)
            pport = server.sockets[0].getsockname()[1]
            async with server:
                async with spicepy.connect(
                    f"spice://127.0.0.1:{port}",
                    timeout=LIMIT,
                    proxy=f"http://127.0.0.1:{pport}",
                ):
                    pass
            expected = f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n".encode()
            assert [h.startswith(expected) for h in heads] == [True, True]

    run(main())
    assert sorted(t for _, t, _ in fake.linked) == [1, 3]


def test_record_channel_is_opt_in_and_send_audio_streams_pcm() -> None:
    """Without record=True the RECORD channel is reported as opt-in; with it,
    send_audio waits for START, then MODE (RAW), START_MARK and 10 ms DATA
    packets of the samples as S16LE, stamped 10 ms apart."""
    import numpy as np

    from spicepy.errors import SessionError

    fake = FakeSpice(channels=[(1, 0), (6, 0)], record_start=(2, 48000))
    rng = np.random.default_rng(5)
    samples = rng.integers(-32768, 32767, (1200, 2), dtype=np.int16)  # 25 ms

    async def main() -> str:
        async with serve(fake) as port:
            uri = f"spice://127.0.0.1:{port}"
            async with spicepy.connect(uri, timeout=LIMIT) as s:
                reason = s.skipped_channels[0].reason
                assert s.record_format is None
                with pytest.raises(SessionError, match="record=True"):
                    await s.send_audio(samples, 48000)
            async with spicepy.connect(uri, timeout=LIMIT, record=True) as s:
                with pytest.raises(ValueError, match="44100 Hz"):
                    await s.send_audio(samples, 44100, timeout=LIMIT)
                assert s.record_format == (48000, 2)  # the server's START
                await s.send_audio(samples, 48000, timeout=LIMIT)
                async with asyncio.timeout(LIMIT):
                    while len(fake.record_sent) < 2 + 3:
                        await asyncio.sleep(0.01)
            return reason

    assert run(main()) == "opt-in: connect(record=True)"
    types = [t for t, _ in fake.record_sent]
    assert types == [102, 103, 101, 101, 101]  # MODE, START_MARK, DATA x 3
    mode_time, mode = struct.unpack_from("<IH", fake.record_sent[0][1])
    assert mode == 1  # RAW: this server has no OPUS record cap
    assert struct.unpack("<I", fake.record_sent[1][1])[0] == mode_time
    data = [body for t, body in fake.record_sent if t == 101]
    times = [struct.unpack_from("<I", b)[0] for b in data]
    assert times == [mode_time, mode_time + 10, mode_time + 20]
    pcm = b"".join(b[4:] for b in data)
    assert pcm == samples.astype("<i2").tobytes()


def test_a_display_message_reaches_the_pixels_through_four_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README's path, live: a DRAW_FILL read by ``session/connection.py`` and
    decoded by the display machine (``channels/base.py``, done before the
    connection hands the event on) reaches ``canvas/canvas.py`` through
    ``session/core.py`` alone.  Recorded: the spicepy modules on the stack of
    ``Canvas.fill``'s caller (outermost first, repeats collapsed).  The
    display lane, which applies such fills in C (``test_session_lane``), is
    off here: this is the general path."""
    from _stack_spy import ROOT, record_callers

    from spicepy.canvas.canvas import Canvas
    from spicepy.session.core import SessionCore

    monkeypatch.setattr(SessionCore, "display_lane", lambda *a, **k: None)
    from spicepy.wire import msg_display as md
    from spicepy.wire.enums import BrushType, SurfaceFmt
    from spicepy.wire.messages import encode_message
    from spicepy.wire.types import CLIP_NONE, QMASK_NONE, Brush, DisplayBase, Rect

    fill = Canvas.fill
    stacks = record_callers(monkeypatch, Canvas, "fill")
    messages = [
        md.SurfaceCreate(0, 8, 8, SurfaceFmt.FMT_32_xRGB, 1),
        md.DrawFill(
            DisplayBase(0, Rect(1, 2, 3, 4), CLIP_NONE),
            md.Fill(Brush(BrushType.SOLID, color=0xFF), 8, QMASK_NONE),
        ),
    ]

    async def display(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        for msg in messages:  # mini headers (COMMON_CAPS)
            kind, body = encode_message(msg)
            w.write(struct.pack("<HI", kind, len(body)) + body)
        await w.drain()
        await r.read()

    fake = FakeSpice(channels=[(1, 0), (2, 0)], peers={2: display})

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=LIMIT):
                async with asyncio.timeout(LIMIT):
                    while not stacks:
                        await asyncio.sleep(0.01)

    run(main())
    assert Path(fill.__code__.co_filename).relative_to(ROOT).as_posix() == (
        "canvas/canvas.py"
    )
    assert stacks == [("session/connection.py", "session/core.py")]
