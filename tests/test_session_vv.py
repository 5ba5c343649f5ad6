"""remote-viewer connection files (.vv) and the port each channel uses (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.session.uri import SpiceUri, parse_channel_names
from spicepy.session.vv import parse_keyfile, parse_vv, read_vv
from spicepy.wire.enums import ChannelType

MAIN, DISPLAY, INPUTS = ChannelType.MAIN, ChannelType.DISPLAY, ChannelType.INPUTS
ALL_TYPES = frozenset(ChannelType)

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

# what oVirt / libvirt-based portals write (keys they use, values escaped)
FULL = r"""# generated
[virt-viewer]
type=spice
host=vm.example.org
port=-1
tls-port = 5901
password=s3cr;et\sx
title=My VM:%d - Press SHIFT+F12 to Release Cursor
delete-this-file=1
fullscreen=0
ca=-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n
host-subject=O=example.org,CN=vm.example.org
secure-channels=main;inputs;cursor;playback;record;display;smartcard;usbredir
disable-channels=record;
tls-ciphers=DEFAULT
proxy=http://user:pw@proxy.example.org:3128
toggle-fullscreen=shift+f11
title[de]=Meine VM

[ovirt]
host=engine.example.org
"""


def test_full_ovirt_style_file() -> None:
    vv = parse_vv(FULL)
    assert vv.uri == SpiceUri(
        host="vm.example.org",
        port=None,  # -1 is "no plain port"
        tls_port=5901,
        password="s3cr;et x",
        secure_channels=frozenset(
            {
                MAIN,
                INPUTS,
                ChannelType.CURSOR,
                ChannelType.PLAYBACK,
                ChannelType.RECORD,
                DISPLAY,
                ChannelType.SMARTCARD,
                ChannelType.USBREDIR,
            }
        ),
    )
    assert vv.tls.ca_data == PEM
    assert vv.tls.host_subject == "O=example.org,CN=vm.example.org"
    assert vv.tls.ca_file is None and vv.tls.verify
    assert vv.proxy == "http://user:pw@proxy.example.org:3128"
    assert vv.delete_this_file
    assert vv.disable_channels == {ChannelType.RECORD}
    assert vv.tls_ciphers == "DEFAULT"
    assert vv.title == "My VM:%d - Press SHIFT+F12 to Release Cursor"
    assert vv.keys["toggle-fullscreen"] == "shift+f11"
    assert "title[de]" not in vv.keys


def test_minimal_file_from_the_manual() -> None:
    vv = parse_vv(
        "[virt-viewer]\ntype=spice\nhost=betsiboka\nport=5900\nfullscreen=1\n"
    )
    assert vv.uri == SpiceUri("betsiboka", port=5900)
    assert vv.tls.ca_data is None and vv.proxy is None and not vv.delete_this_file


def test_unix_path() -> None:
    vv = parse_vv("[virt-viewer]\ntype=spice\nunix-path=/run/vm.sock\n")
    assert vv.uri == SpiceUri(unix_path="/run/vm.sock")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[other]\ntype=spice\n", "no \\[virt-viewer\\] group"),
        ("[virt-viewer]\nhost=h\nport=1\n", "mandatory 'type'"),
        ("[virt-viewer]\ntype=vnc\nhost=h\nport=1\n", "only spice"),
        ("[virt-viewer]\ntype=spice\nport=1\n", "without host"),
        ("[virt-viewer]\ntype=spice\nhost=h\n", "without port"),
        ("[virt-viewer]\ntype=spice\nhost=h\nport=x\n", "not an integer"),
        ("[virt-viewer]\ntype=spice\nhost=h\nport=70000\n", "out of range"),
        (
            "[virt-viewer]\ntype=spice\nhost=h\nport=1\ndelete-this-file=yes\n",
            "boolean",
        ),
        (
            "[virt-viewer]\ntype=spice\nhost=h\nport=1\nsecure-channels=main;foo\n",
            "foo",
        ),
        ("[virt-viewer]\ntype=spice\nhost=h\nport=1\npassword=a\\qb\n", "escape"),
        ("[virt-viewer]\ntype=spice\nunix-path=/s\nhost=h\n", "cannot be combined"),
        ("type=spice\n", "outside any group"),
        ("[virt-viewer]\njunk\n", "not a key=value"),
        ("[virt-viewer\ntype=spice\n", "unterminated"),
    ],
)
def test_bad_files(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vv(text)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_value_error(text: str) -> None:
    try:
        parse_vv(text)
    except ValueError:
        pass


# (GLib writes no escape for \v and \f and strips them at a value's start)
@given(
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\v\f"),
        max_size=40,
    )
)
def test_escaped_password_round_trips(password: str) -> None:
    escaped = (
        password.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace(" ", "\\s")
    )
    vv = parse_vv(f"[virt-viewer]\ntype=spice\nhost=h\nport=1\npassword={escaped}\n")
    assert vv.uri.password == (password or None)


def test_later_duplicate_key_wins_and_comments_are_skipped() -> None:
    groups = parse_keyfile("[g]\n# c\n  a = 1\na=2\n\n[h]\nb=x y \n")
    assert groups == {"g": {"a": "2"}, "h": {"b": "x y "}}


def test_read_vv_deletes_only_when_asked(tmp_path: Path) -> None:
    text = "[virt-viewer]\ntype=spice\nhost=h\nport=5900\ndelete-this-file=1\n"
    keep = tmp_path / "keep.vv"
    keep.write_text(text.replace("=1\n", "=0\n"))
    assert read_vv(keep).uri.port == 5900 and keep.exists()
    kept = tmp_path / "kept.vv"
    kept.write_text(text)
    read_vv(kept, delete=False)
    assert kept.exists()
    gone = tmp_path / "gone.vv"
    gone.write_text(text)
    assert read_vv(gone).delete_this_file and not gone.exists()
    bad = tmp_path / "bad.vv"
    bad.write_text(text.replace("type=spice", "type=vnc"))
    with pytest.raises(ValueError):
        read_vv(bad)
    assert bad.exists()  # not deleted when it did not parse


def test_read_vv_refuses_huge_or_binary(tmp_path: Path) -> None:
    big = tmp_path / "big.vv"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(ValueError, match="too large"):
        read_vv(big)
    binary = tmp_path / "bin.vv"
    binary.write_bytes(b"[virt-viewer]\ntype=\xff\n")
    with pytest.raises(ValueError, match="UTF-8"):
        read_vv(binary)


# -- which port each channel uses ------------------------------------------------


def test_channel_names() -> None:
    assert parse_channel_names(["main", " Display ", ""]) == {MAIN, DISPLAY}
    assert parse_channel_names(["all"]) == ALL_TYPES
    with pytest.raises(ValueError, match="bogus"):
        parse_channel_names(["bogus"])


BOTH = SpiceUri("h", port=5900, tls_port=5901)


@given(st.sampled_from(sorted(ALL_TYPES)), st.booleans())
def test_single_port_decides(ctype: int, plain: bool) -> None:
    assert SpiceUri("h", port=5900).channel_uses_tls(ctype, plain) is False
    assert SpiceUri("h", tls_port=5901).channel_uses_tls(ctype, plain) is True
    assert SpiceUri(unix_path="/s").channel_uses_tls(ctype, plain) is False


@given(st.sampled_from(sorted(ALL_TYPES)))
def test_both_ports_secure_by_default_plain_on_request(ctype: int) -> None:
    assert BOTH.channel_uses_tls(ctype) is True
    assert BOTH.channel_uses_tls(ctype, plain=True) is False


@given(
    st.sampled_from(sorted(ALL_TYPES)),
    st.frozensets(st.sampled_from(sorted(ALL_TYPES))),
    st.booleans(),
)
def test_secure_channels_are_exactly_the_tls_ones(
    ctype: int, secure: frozenset[int], plain: bool
) -> None:
    uri = SpiceUri("h", port=5900, tls_port=5901, secure_channels=secure)
    assert uri.channel_uses_tls(ctype, plain) is (ctype in secure)


def test_vv_secure_channels_drive_the_choice() -> None:
    vv = parse_vv(
        "[virt-viewer]\ntype=spice\nhost=h\nport=5900\ntls-port=5901\n"
        "secure-channels=main;inputs\n"
    )
    assert vv.uri.channel_uses_tls(MAIN) and vv.uri.channel_uses_tls(INPUTS)
    assert not vv.uri.channel_uses_tls(DISPLAY)


@pytest.mark.parametrize("unused", ["0", "-1"])
def test_port_zero_or_minus_one_is_no_port(unused: str) -> None:
    """TCP port 0 cannot be connected to: 0 like oVirt's -1 means "no plain
    port", so the TLS port is the only one."""
    vv = parse_vv(f"[virt-viewer]\ntype=spice\nhost=h\nport={unused}\ntls-port=5901\n")
    assert vv.uri.port is None and vv.uri.tls_port == 5901 and vv.uri.tls_only
    with pytest.raises(ValueError, match="without port or tls-port"):
        parse_vv(f"[virt-viewer]\ntype=spice\nhost=h\nport={unused}\n")


def test_escaped_list_separator_is_part_of_an_item() -> None:
    # GKeyFile lists: "\;" is a literal ';' inside an item, not a separator
    head = "[virt-viewer]\ntype=spice\nhost=h\nport=1\n"
    vv = parse_vv(head + "disable-effects=wallpaper\\;x;animation\n")
    assert vv.keys["disable-effects"] == "wallpaper;x;animation"
    with pytest.raises(ValueError, match="^unknown SPICE channel name 'main;'$"):
        parse_vv(head + "secure-channels=main\\;;display\n")
