"""The heavy optional imports wait until a session needs them: PyAV (~25 MB of
RSS, ~0.1 s) until the first VP8/H.264 stream or Opus packet; ``cryptography``
until a ticket is RSA-encrypted (every link to a real server, ~9.5 MB) and its
``x509`` part (~6 MB more) until a TLS certificate's subject is checked.  Each
test runs in a fresh interpreter, since this one has imported everything."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from spicepy.testing.fake_server import FakeServer
from spicepy.testing.hostile import HostileServer, Scenario, bitmap_copy, primary
from spicepy.wire import msg_display as md

HEAVY = ("av", "cryptography")


def _fresh(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Run ``code`` in a new interpreter; the ``heavy`` modules it left imported."""
    code += f"\nimport sys; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-P", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    loaded: list[str] = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    return loaded


def _picture(server: FakeServer, channel_id: int) -> Iterator[bytes]:
    yield primary(server, 64, 48)
    yield bitmap_copy(server, 1, 64, 48, area=(64, 48))
    yield server.pack(md.DisplayMark())


def test_plain_tcp_screenshot_imports_no_x509(tmp_path: Path) -> None:
    """The whole ``spicepy screenshot`` command, over plain TCP (the link's
    ticket still needs RSA: ``cryptography``; PyAV loads as the display channel
    opens, to advertise only the decoders FFmpeg has)."""
    out = tmp_path / "shot.png"
    with HostileServer(Scenario("one raw bitmap, then a MARK", display=_picture)) as s:
        code = (
            "import runpy, sys\n"
            f"sys.argv = ['spicepy', 'screenshot', {s.uri!r}, '-o', {str(out)!r},"
            " '--timeout', '30']\n"
            "try:\n"
            "    runpy.run_module('spicepy', run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
        )
        loaded = _fresh(code, ("cryptography.x509",))
        assert not s.errors, s.errors
    assert out.is_file()
    assert loaded == []


def test_session_imports_neither_pyav_nor_cryptography() -> None:
    """Importing the session (transport, media) is not enough."""
    code = (
        "import spicepy.session.session\n"
        "from spicepy.canvas.video import video_display_caps\n"
        "from spicepy.audio import OPUS_AVAILABLE\n"
    )
    assert _fresh(code) == []


def test_mjpeg_stream_does_not_import_pyav_and_vp8_does() -> None:
    """PyAV loads at the first VP8 STREAM_CREATE (the control that shows the
    check above can see it), not at an MJPEG one."""
    pytest.importorskip("av")
    code = (
        "import sys\n"
        "from spicepy.canvas.video import VIDEO_CODECS, VideoDecoder\n"
        "from spicepy.wire.enums import VideoCodecType as V\n"
        "assert V.MJPEG not in VIDEO_CODECS\n"
        "assert 'av' not in sys.modules\n"
        "VideoDecoder(V.VP8, 64, 48)\n"
    )
    assert _fresh(code) == ["av"]


def test_host_subject_parsing_needs_no_cryptography() -> None:
    """TLS host-subject parsing is ours; only the certificate check imports
    ``cryptography``, whose OIDs match our dotted table exactly."""
    pytest.importorskip("cryptography")
    code = (
        "from spicepy.session.transport import _SUBJECT_KEYS, parse_host_subject\n"
        "parse_host_subject('C=IL,L=Raanana,O=Red Hat,CN=my server')\n"
    )
    assert _fresh(code) == []
    code += (
        "from cryptography.x509.oid import NameOID as N\n"
        "names = {'C': N.COUNTRY_NAME, 'ST': N.STATE_OR_PROVINCE_NAME,\n"
        "    'L': N.LOCALITY_NAME, 'O': N.ORGANIZATION_NAME,\n"
        "    'OU': N.ORGANIZATIONAL_UNIT_NAME, 'CN': N.COMMON_NAME,\n"
        "    'DC': N.DOMAIN_COMPONENT, 'emailAddress': N.EMAIL_ADDRESS,\n"
        "    'SN': N.SURNAME, 'GN': N.GIVEN_NAME, 'serialNumber': N.SERIAL_NUMBER}\n"
        "assert _SUBJECT_KEYS == {k: v.dotted_string for k, v in names.items()}\n"
    )
    assert _fresh(code) == ["cryptography"]
