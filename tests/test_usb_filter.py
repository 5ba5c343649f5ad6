"""spicepy.usb.filter against libusbredirparser's own usbredirfilter (ctypes):
the same strings parse to the same rules or fail alike, and the same rules give
the same verdict for the same device.  Skipped where the library is missing."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels.usbredir import UsbDeviceInfo, UsbInterface
from spicepy.usb.filter import (
    FilterRule,
    FilterVerdict,
    check_filter,
    format_filter,
    parse_filter,
)

_LIB = ctypes.util.find_library("usbredirparser")
needs_lib = pytest.mark.skipif(_LIB is None, reason="libusbredirparser not installed")

#: remote-viewer's default --usbredir-auto-redirect-filter (spice-gtk)
REMOTE_VIEWER_DEFAULT = "0x03,-1,-1,-1,0|-1,-1,-1,-1,1"
KEYBOARD = UsbDeviceInfo(0x0627, 0x0001, (UsbInterface(0, 3, 1, 1),))
DISK = UsbDeviceInfo(0x46F4, 0x0001, (UsbInterface(0, 8, 6, 0x50),), 0, 0, 0, 0x0100)
#: a keyboard with a media-key interface (non-boot HID) and a vendor interface
COMBO = UsbDeviceInfo(
    0x1234, 0x5678, (UsbInterface(0, 3, 0, 0), UsbInterface(1, 0xFF, 0, 0))
)


class _Rule(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_int)
        for n in ("device_class", "vendor_id", "product_id", "version", "allow")
    ]


def _lib() -> ctypes.CDLL:
    assert _LIB is not None
    lib = ctypes.CDLL(_LIB)
    lib.usbredirfilter_string_to_rules.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.POINTER(_Rule)),
        ctypes.POINTER(ctypes.c_int),
    ]
    u8p = ctypes.POINTER(ctypes.c_uint8)
    lib.usbredirfilter_check.argtypes = [
        ctypes.POINTER(_Rule), ctypes.c_int,
        ctypes.c_uint8, ctypes.c_uint8, ctypes.c_uint8,
        u8p, u8p, u8p, ctypes.c_int,
        ctypes.c_uint16, ctypes.c_uint16, ctypes.c_uint16, ctypes.c_int,
    ]  # fmt: skip
    lib.usbredirfilter_free.argtypes = [ctypes.c_void_p]
    return lib


def c_parse(
    text: str, token_sep: str = ",", rule_sep: str = "|"
) -> list[FilterRule] | None:
    """usbredirfilter_string_to_rules: the rules, or None when it refuses."""
    lib = _lib()
    out = ctypes.POINTER(_Rule)()
    count = ctypes.c_int()
    rc = lib.usbredirfilter_string_to_rules(
        text.encode(),
        token_sep.encode(),
        rule_sep.encode(),
        ctypes.byref(out),
        ctypes.byref(count),
    )
    if rc:
        assert rc == -errno.EINVAL
        return None
    try:
        return [
            FilterRule(
                r.device_class, r.vendor_id, r.product_id, r.version, r.allow != 0
            )
            for r in (out[i] for i in range(count.value))
        ]
    finally:
        lib.usbredirfilter_free(out)


def c_check(rules: list[FilterRule], dev: UsbDeviceInfo, flags: int) -> FilterVerdict:
    lib = _lib()
    arr = (_Rule * max(1, len(rules)))(
        *(
            _Rule(
                r.device_class,
                r.vendor_id,
                r.product_id,
                r.device_version_bcd,
                int(r.allow),
            )
            for r in rules
        )
    )
    n = len(dev.interfaces)
    cls = (ctypes.c_uint8 * max(1, n))(*(i.interface_class for i in dev.interfaces))
    sub = (ctypes.c_uint8 * max(1, n))(*(i.interface_subclass for i in dev.interfaces))
    proto = (ctypes.c_uint8 * max(1, n))(
        *(i.interface_protocol for i in dev.interfaces)
    )
    rc = lib.usbredirfilter_check(
        arr, len(rules),
        dev.device_class, dev.device_subclass, dev.device_protocol,
        cls, sub, proto, n,
        dev.vendor_id, dev.product_id, dev.device_version_bcd, flags,
    )  # fmt: skip
    return {0: FilterVerdict.ALLOW, -errno.EPERM: FilterVerdict.DENY}.get(
        rc, FilterVerdict.NO_MATCH if rc == -errno.ENOENT else None
    )  # type: ignore[return-value]


def py_parse(
    text: str, token_sep: str = ",", rule_sep: str = "|"
) -> list[FilterRule] | None:
    try:
        return list(parse_filter(text, token_sep, rule_sep))
    except ValueError:
        return None


# -- fixed cases ---------------------------------------------------------------------


def test_remote_viewer_default_keeps_hid_and_takes_the_rest() -> None:
    rules = parse_filter(REMOTE_VIEWER_DEFAULT)
    assert rules == (FilterRule(3, -1, -1, -1, False), FilterRule(-1, -1, -1, -1, True))
    assert check_filter(rules, KEYBOARD) is FilterVerdict.DENY
    assert check_filter(rules, DISK) is FilterVerdict.ALLOW
    # the media-key interface is skipped; the vendor interface is allowed
    assert check_filter(rules, COMBO) is FilterVerdict.ALLOW
    assert check_filter(rules, COMBO, skip_non_boot_hid=False) is FilterVerdict.DENY


def test_vendor_product_rule_and_no_match() -> None:
    rules = parse_filter("-1,0x46f4,0x0001,-1,1")
    assert check_filter(rules, DISK) is FilterVerdict.ALLOW
    assert check_filter(rules, KEYBOARD) is FilterVerdict.NO_MATCH
    assert check_filter(rules, KEYBOARD, default_allow=True) is FilterVerdict.ALLOW
    assert check_filter((), DISK) is FilterVerdict.NO_MATCH


@pytest.mark.parametrize(
    ("text", "value"),
    [("010", 8), (" 0x1F", 31), ("-1", -1), ("+7", 7), ("0", 0), ("255", 255),
     # (int) of a long: 2**32 - 1 wraps to -1; strtol saturates at LONG_MAX
     # (-1 as an int) and LONG_MIN (0)
     ("4294967295", -1), ("99999999999999999999", -1), ("-99999999999999999999", 0)],
)  # fmt: skip
def test_numbers_are_read_like_strtol(text: str, value: int) -> None:
    assert parse_filter(f"{text},-1,-1,-1,1")[0].device_class == value
    if _LIB is not None:
        assert c_parse(f"{text},-1,-1,-1,1") == list(parse_filter(f"{text},-1,-1,-1,1"))


@pytest.mark.parametrize(
    "text",
    ["08,-1,-1,-1,1", "0x,-1,-1,-1,1", "1 ,-1,-1,-1,1", "-1,-1,-1,1", "256,-1,-1,-1,1",
     "-1,-1,-1,-1,1,1", "-2,-1,-1,-1,1", "-1,0x10000,-1,-1,1", "a,-1,-1,-1,1"],
)  # fmt: skip
def test_bad_filters_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_filter(text)


def test_empty_rules_and_tokens_are_skipped() -> None:
    assert parse_filter("") == ()
    assert parse_filter("||-1,,-1,-1,,-1,0||") == (FilterRule(allow=False),)


def test_format_round_trips() -> None:
    rules = parse_filter("0x08,0x46f4,-1,0x0100,1|-1,-1,-1,-1,0")
    assert format_filter(rules) == "0x08,0x46f4,-1,0x0100,1|-1,-1,-1,-1,0"
    assert parse_filter(format_filter(rules)) == rules


# -- against libusbredirparser -------------------------------------------------------

_NUM = st.one_of(
    st.integers(-1, 0xFFFF).map(str),
    st.integers(0, 0xFFFF).map(hex),
    st.integers(0, 0o777).map(lambda v: "0" + format(v, "o")),
    st.integers(-(1 << 70), 1 << 70).map(str),  # strtol saturates, int wraps
    st.text(alphabet="0123456789abcdefxX+- \t", max_size=6),
)
_RULE = st.lists(_NUM, min_size=0, max_size=7).map(",".join)
_FILTER = st.one_of(
    st.lists(_RULE, max_size=4).map("|".join),
    st.text(alphabet="0123456789x-,| \t", max_size=40),
)


@needs_lib
@settings(max_examples=400, deadline=None)
@given(text=_FILTER)
def test_parse_agrees_with_libusbredirparser(text: str) -> None:
    assert py_parse(text) == c_parse(text)


@needs_lib
@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="0123456789-,;: ", max_size=30))
def test_other_separators_agree(text: str) -> None:
    assert py_parse(text, ",;", ":") == c_parse(text, ",;", ":")


def _any_or(top: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(-1), st.integers(0, top))


_RULES = st.lists(
    st.builds(
        FilterRule,
        st.one_of(st.just(-1), st.sampled_from([0, 3, 8, 9, 0xE0, 0xEF, 0xFF])),
        st.one_of(st.just(-1), st.sampled_from([0x0627, 0x46F4, 0x1234])),
        _any_or(3),
        _any_or(3),
        st.booleans(),
    ),
    max_size=5,
)
_CLASSES = st.sampled_from([0, 3, 8, 9, 0xE0, 0xEF, 0xFF])
_DEVICES = st.builds(
    UsbDeviceInfo,
    st.sampled_from([0x0627, 0x46F4, 0x1234]),
    st.integers(0, 3),
    st.lists(
        st.builds(
            UsbInterface,
            st.integers(0, 31),
            _CLASSES,
            st.integers(0, 1),
            st.integers(0, 1),
        ),
        max_size=4,
    ).map(tuple),
    _CLASSES,
    st.just(0),
    st.just(0),
    st.integers(0, 3),
)


@needs_lib
@settings(max_examples=400, deadline=None)
@given(rules=_RULES, device=_DEVICES, default_allow=st.booleans(), skip=st.booleans())
def test_verdicts_agree_with_libusbredirparser(
    rules: list[FilterRule], device: UsbDeviceInfo, default_allow: bool, skip: bool
) -> None:
    flags = (1 if default_allow else 0) | (0 if skip else 2)  # usbredirfilter.h flags
    ours = check_filter(
        rules, device, default_allow=default_allow, skip_non_boot_hid=skip
    )
    assert ours is c_check(rules, device, flags)


@needs_lib
def test_the_flag_values_used_above_are_the_libraries() -> None:
    rules = list(parse_filter(REMOTE_VIEWER_DEFAULT))
    assert c_check(rules, COMBO, 0) is FilterVerdict.ALLOW  # media keys skipped
    assert c_check(rules, COMBO, 2) is FilterVerdict.DENY  # dont_skip_non_boot_hid
    assert c_check([], DISK, 1) is FilterVerdict.ALLOW  # default_allow
