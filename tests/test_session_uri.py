"""SPICE URI parsing and host-subject parsing (no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.session.transport import parse_host_subject
from spicepy.session.uri import SpiceUri, parse_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("spice://127.0.0.1:5900", SpiceUri("127.0.0.1", port=5900)),
        ("spice://example.org:5930", SpiceUri("example.org", port=5930)),
        ("127.0.0.1:5901", SpiceUri("127.0.0.1", port=5901)),
        (
            "spice://host?port=5900&tls-port=5901",
            SpiceUri("host", port=5900, tls_port=5901),
        ),
        ("spice://host?tls-port=5901", SpiceUri("host", tls_port=5901)),
        ("spice+tls://host:5901", SpiceUri("host", tls_port=5901)),
        (
            "spice://h:5900?password=s%20cr%26t",
            SpiceUri("h", port=5900, password="s cr&t"),
        ),
        ("spice://[::1]:5900", SpiceUri("::1", port=5900)),
        ("SPICE://Host:1", SpiceUri("host", port=1)),
        ("spice+unix:///run/spice.sock", SpiceUri(unix_path="/run/spice.sock")),
        (
            "spice+unix:///tmp/a%20b?password=x",
            SpiceUri(unix_path="/tmp/a b", password="x"),
        ),
        ("spice://h:5900?port=5900", SpiceUri("h", port=5900)),
    ],
)
def test_parse_valid(uri: str, expected: SpiceUri) -> None:
    assert parse_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("vnc://host:5900", "not a SPICE URI (scheme 'vnc'): 'vnc://host:5900'"),
        ("http://host:80", "not a SPICE URI (scheme 'http'): 'http://host:80'"),
        ("spice://host", "SPICE URI without a port: 'spice://host'"),
        ("spice://:5900", "SPICE URI without a host: 'spice://:5900'"),
        ("spice://host:0", "port out of range: 0"),
        ("spice://host:70000", "bad port in 'spice://host:70000'"),
        ("spice://host?port=abc", "port is not a number: 'abc'"),
        ("spice://h?port=", "port is not a number: ''"),
        ("spice://host?port=65536", "port out of range: 65536"),
        ("spice://host?tls-port=65536", "tls-port out of range: 65536"),
        ("spice://host?tls-port=99999", "tls-port out of range: 99999"),
        (
            "spice://host:5900?port=5901",
            "two different ports in 'spice://host:5900?port=5901'",
        ),
        (
            "spice+tls://host:5901?tls-port=5902",
            "two different TLS ports in 'spice+tls://host:5901?tls-port=5902'",
        ),
        ("spice://host:5900?foo=1&bar=2", "unknown URI parameter(s): bar, foo"),
        ("spice+unix://", "spice+unix URI without a path: 'spice+unix://'"),
    ],
)
def test_parse_invalid(uri: str, message: str) -> None:
    """Each refusal says what is wrong, naming the URI or the value."""
    with pytest.raises(ValueError) as exc:
        parse_uri(uri)
    assert str(exc.value) == message


def test_port_bounds_and_blank_password() -> None:
    assert parse_uri("spice://h:65535").port == 65535
    assert parse_uri("spice://h?tls-port=65535").tls_port == 65535
    assert parse_uri("spice://h?port=1").port == 1
    # an empty password is a password (spice-gtk sends the empty ticket)
    assert parse_uri("spice://h:1?password=").password == ""
    assert parse_uri("spice://h:1").password is None


def test_tls_only_and_str_round_trip() -> None:
    for text in (
        "spice://h:1",
        "spice+tls://h:2",
        "spice://h?port=1&tls-port=2",
        "spice+unix:///x/y",
        "spice://[::1]:5",
    ):
        assert str(parse_uri(text)) == text
    assert parse_uri("spice+tls://h:2").tls_only
    assert not parse_uri("spice://h?port=1&tls-port=2").tls_only


def test_with_password_keeps_uri_password_when_none() -> None:
    uri = parse_uri("spice://h:1?password=a")
    assert uri.with_password(None).password == "a"
    assert uri.with_password("b").password == "b"


@given(st.text(max_size=60))
def test_parse_never_raises_anything_but_valueerror(text: str) -> None:
    try:
        uri = parse_uri(text)
    except ValueError:
        return
    assert uri.port is not None or uri.tls_port is not None or uri.unix_path


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (
            "C=XX,L=city,O=org,CN=name",
            [("C", "XX"), ("L", "city"), ("O", "org"), ("CN", "name")],
        ),
        ("  C=UK", [("C", "UK")]),
        ("C=UK,    O=B", [("C", "UK"), ("O", "B")]),
        ("O=a\\,b,CN=c\\\\d", [("O", "a,b"), ("CN", "c\\d")]),
        ("CN=with space ", [("CN", "with space ")]),
        ("", []),
        ("C=UK,", [("C", "UK")]),  # spice-common: an empty last key ends the list
    ],
)
def test_host_subject_grammar(subject: str, expected: list[tuple[str, str]]) -> None:
    assert parse_host_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("C", "host subject entry without '=': 'C'"),
        ("CN", "host subject entry without '=': 'CN'"),
        ("C=", "empty value for 'C' in host subject"),
        ("CN=", "empty value for 'CN' in host subject"),
        ("=x", "empty key in host subject"),
        ("C=UK,O", "host subject entry without '=': 'O'"),
        ("CN=a\\b", "invalid character after '\\' in host subject"),
        ("CN=a\\", "invalid character after '\\' in host subject"),
        ("XYZ=1", "unknown key 'XYZ' in host subject"),
        ("C=UK,,O=x", "host subject entry without '='"),
        ("C,N=x", "host subject entry without '='"),
        ("C\\,N=x", "unknown key 'C,N' in host subject"),  # escaped: part of the key
    ],
)
def test_host_subject_errors(subject: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_host_subject(subject)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("query", "password"),
    [
        ("password=a+b", "a+b"),  # '+' is not a space outside form encoding
        ("password=50%2541", "50%41"),  # unescaped once: "%25" is the '%'
        ("password=x%3By;tls-port=5901", "x;y"),  # ';' separates items too
        ("password=%E2%82%AC", "\u20ac"),  # UTF-8
    ],
)
def test_query_values_are_unescaped_once(query: str, password: str) -> None:
    """spice-gtk spice_parse_uri: items split on '&' or ';' (sscanf
    "%[^;&]"), each value through g_uri_unescape_string exactly once."""
    assert parse_uri(f"spice://h:5900?{query}").password == password
    assert parse_uri("spice://h?port=1;tls-port=2") == SpiceUri("h", port=1, tls_port=2)
