"""Domain XML to SPICE display (no libvirt needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.session.libvirt import display_from_xml, libvirt_host
from spicepy.session.uri import SpiceUri
from spicepy.wire.enums import ChannelType

ALL = frozenset(ChannelType)


def domain(graphics: str, name: str = "vm1") -> str:
    return (
        f"<domain type='kvm'><name>{name}</name><devices>"
        "<graphics type='vnc' port='5901'/>"
        f"{graphics}<video><model type='qxl'/></video></devices></domain>"
    )


def test_running_domain_with_password_and_both_ports() -> None:
    d = display_from_xml(
        domain(
            "<graphics type='spice' port='5900' tlsPort='5901' autoport='yes' "
            "listen='127.0.0.1' passwd='s&amp;cret'>"
            "<listen type='address' address='127.0.0.1'/></graphics>"
        ),
        ca_file="/ca.pem",
    )
    assert d.uri == SpiceUri("127.0.0.1", port=5900, tls_port=5901, password="s&cret")
    assert d.tls.ca_file == "/ca.pem" and d.name == "vm1"


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", ""])
def test_wildcard_listen_means_the_libvirt_host(listen: str) -> None:
    xml = domain(
        f"<graphics type='spice' port='5900' listen='{listen}'>"
        f"<listen type='address' address='{listen}'/></graphics>"
    )
    assert display_from_xml(xml, host="kvm.example.org").uri.host == "kvm.example.org"


def test_no_listen_at_all_and_ipv6_address() -> None:
    xml = domain("<graphics type='spice' port='5900'/>")
    assert display_from_xml(xml, host="h").uri == SpiceUri("h", port=5900)
    xml = domain(
        "<graphics type='spice' port='5900'>"
        "<listen type='network' address='fd00::5' network='default'/></graphics>"
    )
    assert display_from_xml(xml).uri.host == "fd00::5"


def test_socket_listen() -> None:
    xml = domain(
        "<graphics type='spice' autoport='no'>"
        "<listen type='socket' socket='/run/libvirt/qemu/vm1.sock'/></graphics>"
    )
    assert display_from_xml(xml).uri == SpiceUri(unix_path="/run/libvirt/qemu/vm1.sock")


def test_tls_only_unallocated_plain_port() -> None:
    xml = domain("<graphics type='spice' port='-1' tlsPort='5902' autoport='yes'/>")
    assert display_from_xml(xml).uri == SpiceUri("127.0.0.1", tls_port=5902)


@pytest.mark.parametrize(
    ("attrs", "channels", "expected"),
    [
        ("", "", None),
        ("", "<channel name='main' mode='secure'/>", {ChannelType.MAIN}),
        ("defaultMode='secure'", "", ALL),
        (
            "defaultMode='secure'",
            "<channel name='display' mode='insecure'/>",
            ALL - {ChannelType.DISPLAY},
        ),
        (
            "defaultMode='insecure'",
            "<channel name='inputs' mode='secure'/><channel name='main' mode='any'/>",
            {ChannelType.INPUTS},
        ),
        ("defaultMode='insecure'", "", set()),
    ],
)
def test_channel_modes_become_secure_channels(
    attrs: str, channels: str, expected: set[int] | None
) -> None:
    xml = domain(
        f"<graphics type='spice' port='5900' tlsPort='5901' {attrs}>{channels}"
        "</graphics>"
    )
    secure = display_from_xml(xml).uri.secure_channels
    assert secure == (None if expected is None else frozenset(expected))


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<domain", "does not parse"),
        ("<network/>", "not a domain"),
        (domain(""), "no SPICE display"),
        (domain("<graphics type='spice' port='-1' autoport='yes'/>"), "running"),
        (domain("<graphics type='spice' port='x'/>"), "not a number"),
        (domain("<graphics type='spice' port='99999'/>"), "out of range"),
        (domain("<graphics type='spice' port='1' defaultMode='odd'/>"), "defaultMode"),
        (
            domain("<graphics type='spice' port='1'><channel name='foo'/></graphics>"),
            "foo",
        ),
    ],
)
def test_bad_xml(xml: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        display_from_xml(xml)


@given(st.text(max_size=300))
def test_any_text_is_a_display_or_a_value_error(text: str) -> None:
    try:
        display_from_xml(text)
    except ValueError:
        pass


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("qemu:///system", "127.0.0.1"),
        ("qemu+ssh://root@kvm.example.org/system", "kvm.example.org"),
        ("qemu+tcp://10.0.0.5:16509/system", "10.0.0.5"),
    ],
)
def test_libvirt_host(uri: str, host: str) -> None:
    assert libvirt_host(uri) == host


def test_the_first_listen_element_is_the_display_address() -> None:
    """libvirt mirrors the first <listen> child into graphics/@listen (domain_conf:
    the first listen is the one QEMU is given); later ones are not listened on."""
    xml = domain(
        "<graphics type='spice' port='5900'>"
        "<listen type='address' address='192.0.2.1'/>"
        "<listen type='address' address='192.0.2.2'/></graphics>"
    )
    assert display_from_xml(xml).uri.host == "192.0.2.1"


def test_oversized_xml_is_refused_before_parsing() -> None:
    # MAX_XML_CHARS (4 MiB): no domain description comes near it
    padding = "<!--" + "x" * (4 << 20) + "-->"
    xml = domain("<graphics type='spice' port='5900'/>").replace(
        "<devices>", padding + "<devices>"
    )
    with pytest.raises(ValueError, match="^domain XML too large$"):
        display_from_xml(xml)
    # the same description without the padding is fine
    assert display_from_xml(xml.replace(padding, "")).uri.port == 5900
