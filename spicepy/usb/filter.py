"""usbredir device filters: remote-viewer's ``--usbredir-auto-redirect-filter`` rules.

Theory of operation (usbredir ``usbredirfilter.c``, which spice-gtk and QEMU
use): a filter is rules separated by ``|``, each five integers separated by
``,``: class, vendor id, product id, device version (BCD), allow; ``-1`` is
"any".  Numbers are read as C's ``strtol(s, &end, 0)`` does (decimal, ``0x``
hex, a leading ``0`` means octal, the whole token must be consumed) and kept
as a C ``int``; empty rules and empty tokens (doubled separators) are skipped.
A device is checked by its class unless that is 0x00 or 0xEF ("see the
interfaces"), then by each interface's class; the first rule that matches
decides (allow or deny), no match means deny unless ``default_allow``.  Every
check must allow.  Non-boot HID interfaces (class 3, subclass 0, protocol 0)
of a device with more than one interface are skipped unless all are, so a
keyboard's media-key interface does not keep the rest from being redirected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from spicepy.channels.usbredir import UsbDeviceInfo

__all__ = [
    "FilterRule",
    "FilterVerdict",
    "check_filter",
    "format_filter",
    "parse_filter",
]

ANY = -1
#: class values that defer to the interfaces (per-interface, and miscellaneous/IAD)
_PER_INTERFACE = (0x00, 0xEF)
_HID = 0x03
_NUMBER = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_LONG = 1 << 63
_INT = 1 << 32


@dataclass(frozen=True, slots=True)
class FilterRule:
    device_class: int = ANY
    vendor_id: int = ANY
    product_id: int = ANY
    device_version_bcd: int = ANY
    allow: bool = True

    def __post_init__(self) -> None:
        for name, top in (
            ("device_class", 0xFF),
            ("vendor_id", 0xFFFF),
            ("product_id", 0xFFFF),
            ("device_version_bcd", 0xFFFF),
        ):
            value = getattr(self, name)
            if not ANY <= value <= top:
                raise ValueError(f"filter rule {name} {value} is outside -1..{top}")

    def matches(self, device_class: int, device: UsbDeviceInfo) -> bool:
        return (
            self.device_class in (ANY, device_class)
            and self.vendor_id in (ANY, device.vendor_id)
            and self.product_id in (ANY, device.product_id)
            and self.device_version_bcd in (ANY, device.device_version_bcd)
        )


class FilterVerdict(Enum):
    ALLOW = "allow"
    DENY = "deny"  # a rule said no (usbredirfilter's -EPERM)
    NO_MATCH = "no match"  # no rule matched a class (-ENOENT)


def _strtoi(token: str) -> int:
    """C ``(int) strtol(token, &end, 0)`` with ``*end`` required to be NUL."""
    m = _NUMBER.fullmatch(token)
    if m is None:
        raise ValueError(f"bad number {token!r} in the filter")
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        value = int(digits[2:], 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if sign == "-" else value
    value = max(-_LONG, min(_LONG - 1, value))  # strtol saturates
    return (value + _INT // 2) % _INT - _INT // 2  # then the cast to int wraps


def parse_filter(
    text: str, token_sep: str = ",", rule_sep: str = "|"
) -> tuple[FilterRule, ...]:
    """The rules of a filter string (usbredirfilter_string_to_rules).

    Raises:
        ValueError: a rule without exactly five numbers, a bad number, or a
            value out of range.
    """
    rules = []
    for rule in _split(text, rule_sep):
        tokens = _split(rule, token_sep)
        if len(tokens) != 5:
            raise ValueError(f"filter rule {rule!r} needs 5 values, not {len(tokens)}")
        cls, vendor, product, version, allow = (_strtoi(t) for t in tokens)
        rules.append(FilterRule(cls, vendor, product, version, allow != 0))
    return tuple(rules)


def _split(text: str, seps: str) -> list[str]:
    """``strtok``: split on any character of ``seps``, dropping empty pieces."""
    if not seps:
        return [text] if text else []
    pattern = "[" + re.escape(seps) + "]"
    return [piece for piece in re.split(pattern, text) if piece]


def format_filter(rules: Sequence[FilterRule]) -> str:
    """The string form (usbredirfilter_rules_to_string's layout, without the
    trailing separator)."""

    def num(value: int, width: int) -> str:
        return "-1" if value == ANY else f"0x{value:0{width}x}"

    return "|".join(
        f"{num(r.device_class, 2)},{num(r.vendor_id, 4)},{num(r.product_id, 4)},"
        f"{num(r.device_version_bcd, 4)},{int(r.allow)}"
        for r in rules
    )


def _check1(
    rules: Sequence[FilterRule],
    device_class: int,
    device: UsbDeviceInfo,
    default_allow: bool,
) -> FilterVerdict:
    for rule in rules:
        if rule.matches(device_class, device):
            return FilterVerdict.ALLOW if rule.allow else FilterVerdict.DENY
    return FilterVerdict.ALLOW if default_allow else FilterVerdict.NO_MATCH


def check_filter(
    rules: Sequence[FilterRule],
    device: UsbDeviceInfo,
    *,
    default_allow: bool = False,
    skip_non_boot_hid: bool = True,
) -> FilterVerdict:
    """What ``rules`` say about ``device`` (usbredirfilter_check)."""
    if device.device_class not in _PER_INTERFACE:
        verdict = _check1(rules, device.device_class, device, default_allow)
        if verdict is not FilterVerdict.ALLOW:
            return verdict
    interfaces = device.interfaces
    skipped = 0
    for intf in interfaces:
        if (
            skip_non_boot_hid
            and len(interfaces) > 1
            and intf.interface_class == _HID
            and intf.interface_subclass == 0
            and intf.interface_protocol == 0
        ):
            skipped += 1
            continue
        verdict = _check1(rules, intf.interface_class, device, default_allow)
        if verdict is not FilterVerdict.ALLOW:
            return verdict
    if skipped and skipped == len(interfaces):
        # every interface was a non-boot HID one: check them after all
        return check_filter(
            rules, device, default_allow=default_allow, skip_non_boot_hid=False
        )
    return FilterVerdict.ALLOW
