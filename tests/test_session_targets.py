"""resolve(): a URI, a .vv file or a libvirt domain becomes one Target."""

from __future__ import annotations

from pathlib import Path

import pytest

from spicepy.session import libvirt
from spicepy.session.targets import is_connection_file, resolve
from spicepy.session.transport import TlsConfig
from spicepy.session.uri import SpiceUri
from spicepy.wire.enums import ChannelType

VV = """[virt-viewer]
type=spice
host=h
port=5900
tls-port=5901
password=from-file
ca=PEM\\n
host-subject=CN=h
proxy=http://p:3128
username=alice
disable-channels=record
delete-this-file=1
"""


def test_uri() -> None:
    target = resolve("spice://h:5900", password="pw", ca_file="/ca.pem")
    assert target.uri == SpiceUri("h", port=5900, password="pw")
    assert target.tls == TlsConfig(ca_file="/ca.pem")
    assert target.proxy is None and target.username is None


def test_vv_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "console.vv"
    path.write_text(VV)
    target = resolve(str(path), delete_file=False)
    assert target.uri == SpiceUri("h", port=5900, tls_port=5901, password="from-file")
    assert target.tls == TlsConfig(ca_data="PEM\n", host_subject="CN=h")
    assert (target.proxy, target.username) == ("http://p:3128", "alice")
    assert target.disable_channels == {ChannelType.RECORD}
    assert path.exists()
    # the user's own options win; the file goes, as it asked
    target = resolve(
        str(path), password="pw", ca_file="/ca.pem", proxy="", verify=False
    )
    assert target.uri.password == "pw"
    assert target.tls == TlsConfig(ca_file="/ca.pem", host_subject="CN=h", verify=False)
    assert target.proxy == ""
    assert not path.exists()


def test_any_existing_file_is_a_connection_file(tmp_path: Path) -> None:
    path = tmp_path / "download"
    path.write_text(VV.replace("delete-this-file=1", ""))
    assert is_connection_file(str(path))
    assert resolve(str(path)).uri.port == 5900
    assert not is_connection_file("spice://h:1")
    assert not is_connection_file("h:5900")


def test_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def fake(
        domain: str, connect: str, *, ca_file: str | None
    ) -> libvirt.DomainDisplay:
        seen.append((domain, connect, ca_file))
        return libvirt.DomainDisplay(
            uri=SpiceUri("127.0.0.1", port=5900, password="dom"),
            tls=TlsConfig(ca_file=ca_file),
            name=domain,
        )

    monkeypatch.setattr(libvirt, "domain_display", fake)
    target = resolve("vm1", connect="qemu:///system", host_subject="CN=x")
    assert seen == [("vm1", "qemu:///system", None)]
    assert target.uri == SpiceUri("127.0.0.1", port=5900, password="dom")
    assert target.tls == TlsConfig(host_subject="CN=x")
