"""remote-viewer connection files (``.vv``): parse them into a URI and TLS settings.

Format (virt-viewer ``man remote-viewer``, CONNECTION FILE): a GLib key file
with a mandatory ``[virt-viewer]`` group and ``type`` key.  GKeyFile rules
apply: ``#`` comments, blank lines ignored, spaces around ``=`` ignored,
values unescaped (``\\n \\t \\r \\s \\\\``), booleans ``true/false/1/0``,
lists separated by ``;``.  ``ca`` is the PEM text itself (lines joined with
``\\n``), not a file name.  ``delete-this-file=1`` asks the client to remove
the file once read (silently, if it cannot).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from spicepy.session.transport import TlsConfig
from spicepy.session.uri import SpiceUri, parse_channel_names

log = logging.getLogger(__name__)

__all__ = ["ConnectionFile", "parse_keyfile", "parse_vv", "read_vv"]

GROUP = "virt-viewer"
#: a connection file is a few KB; refuse to read anything that is not one
MAX_FILE_BYTES = 1 << 20
#: what GKeyFile strips around keys and values (g_ascii_isspace, not str.isspace)
_SPACE = " \t\n\v\f\r"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class ConnectionFile:
    """What a ``.vv`` file says, in spicepy's terms.

    ``uri`` carries host/ports/unix path/password and ``secure_channels``;
    ``tls`` the CA (PEM data) and host subject; ``proxy`` an HTTP CONNECT
    proxy URL; ``disable_channels`` channel types not to open.  ``keys`` holds
    every key of the group as read (unescaped), including the ones spicepy
    has no use for (hotkeys, smartcard, usbredir...).  ``title`` and
    ``full_screen`` (None: the file does not say) are for a viewer's windows.
    """

    uri: SpiceUri
    tls: TlsConfig
    proxy: str | None = None
    username: str | None = None
    disable_channels: frozenset[int] = frozenset()
    tls_ciphers: str | None = None
    title: str | None = None
    full_screen: bool | None = None
    delete_this_file: bool = False
    keys: dict[str, str] = field(default_factory=dict)


def _unescape(raw: str, where: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                raise ValueError(f"{where}: invalid escape '\\{nxt}'")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_keyfile(text: str) -> dict[str, dict[str, str]]:
    """A GLib key file: group -> key -> raw (still escaped) value.

    Localised keys (``key[de]=``) are skipped; a later duplicate key wins, as
    in GKeyFile.

    Raises:
        ValueError: a line that is neither a comment, a group nor key=value,
            or a key before the first group.
    """
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        stripped = line.lstrip(_SPACE)
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            if not stripped.rstrip(_SPACE).endswith("]"):
                raise ValueError(f"line {number}: unterminated group name")
            name = stripped.rstrip(_SPACE)[1:-1]
            current = groups.setdefault(name, {})
            continue
        key, sep, value = stripped.partition("=")
        key = key.rstrip(_SPACE)
        if not sep or not key:
            raise ValueError(f"line {number}: not a key=value line: {line!r}")
        if current is None:
            raise ValueError(f"line {number}: key {key!r} outside any group")
        if "[" in key:
            continue
        current[key] = value.lstrip(_SPACE)
    return groups


def _bool(raw: str, key: str) -> bool:
    value = raw.strip(_SPACE)
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValueError(f"{key}: not a boolean: {raw!r}")


def _int(raw: str, key: str) -> int:
    try:
        return int(raw.strip(_SPACE), 10)
    except ValueError:
        raise ValueError(f"{key}: not an integer: {raw!r}") from None


def _port(raw: str, key: str) -> int | None:
    """A port; -1 and 0 mean "none" (oVirt and libvirt write -1 for unused)."""
    value = _int(raw, key)
    if value <= 0:
        return None
    if value > 65535:
        raise ValueError(f"{key}: out of range: {value}")
    return value


def _list(raw: str) -> list[str]:
    items, cur, i = [], [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and raw[i + 1 : i + 2] == ";":
            cur.append(";")
            i += 2
            continue
        if ch == ";":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    if cur:
        items.append("".join(cur))
    return [_unescape(item, "list") for item in items]


def parse_vv(text: str) -> ConnectionFile:
    """Parse the text of a connection file.

    Raises:
        ValueError: no ``[virt-viewer]`` group, no ``type``, a type other than
            ``spice``, no address, a bad port/boolean/escape/channel name or
            ``fullscreen`` integer, or
            ``unix-path`` together with ``host``/ports.
    """
    groups = parse_keyfile(text)
    if GROUP not in groups:
        raise ValueError(f"not a connection file: no [{GROUP}] group")
    raw = groups[GROUP]
    keys = {k: _unescape(v, k) for k, v in raw.items() if k not in _LIST_KEYS}
    keys.update({k: ";".join(_list(v)) for k, v in raw.items() if k in _LIST_KEYS})
    kind = keys.get("type", "").strip(_SPACE)
    if not kind:
        raise ValueError("connection file without the mandatory 'type' key")
    if kind != "spice":
        raise ValueError(f"connection type {kind!r} is not supported (only spice)")

    def text_key(name: str) -> str | None:
        value = keys.get(name)
        return value if value else None

    host = text_key("host")
    unix_path = text_key("unix-path")
    port = _port(raw["port"], "port") if "port" in raw else None
    tls_port = _port(raw["tls-port"], "tls-port") if "tls-port" in raw else None
    if unix_path is not None:
        if host is not None or port is not None or tls_port is not None:
            raise ValueError("unix-path cannot be combined with host, port or tls-port")
    elif host is None:
        raise ValueError("connection file without host (or unix-path)")
    elif port is None and tls_port is None:
        raise ValueError("connection file without port or tls-port")
    secure = (
        parse_channel_names(_list(raw["secure-channels"]))
        if "secure-channels" in raw
        else None
    )
    uri = SpiceUri(
        host=host or "",
        port=None if unix_path is not None else port,
        tls_port=None if unix_path is not None else tls_port,
        unix_path=unix_path,
        password=text_key("password"),
        secure_channels=secure,
    )
    tls = TlsConfig(ca_data=text_key("ca"), host_subject=text_key("host-subject"))
    disabled = (
        parse_channel_names(_list(raw["disable-channels"]))
        if "disable-channels" in raw
        else frozenset()
    )
    delete = "delete-this-file" in raw and _bool(
        raw["delete-this-file"], "delete-this-file"
    )
    # an int in remote-viewer (g_key_file_get_integer): any non-zero is on
    full = _int(raw["fullscreen"], "fullscreen") != 0 if "fullscreen" in raw else None
    return ConnectionFile(
        uri=uri,
        tls=tls,
        proxy=text_key("proxy"),
        username=text_key("username"),
        disable_channels=disabled,
        tls_ciphers=text_key("tls-ciphers"),
        title=text_key("title"),
        full_screen=full,
        delete_this_file=delete,
        keys=keys,
    )


_LIST_KEYS = frozenset({"secure-channels", "disable-channels", "disable-effects"})


def read_vv(path: str | os.PathLike[str], *, delete: bool = True) -> ConnectionFile:
    """Read and parse a ``.vv`` file; honour ``delete-this-file`` when ``delete``.

    The file is removed only after it parsed; failing to remove it is logged,
    not raised (remote-viewer "will fail silently").

    Raises:
        ValueError: see ``parse_vv``; also a file over 1 MiB or not UTF-8.
        OSError: the file cannot be read.
    """
    p = Path(path)
    with p.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{p}: too large for a connection file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 text") from exc
    parsed = parse_vv(text)
    if delete and parsed.delete_this_file:
        try:
            p.unlink()
        except OSError as exc:
            log.info("could not delete connection file %s: %s", p, exc)
    return parsed
