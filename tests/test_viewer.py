"""The viewer's logic without a desktop: placement and scaling (geometry),
damage -> window pixels (render, on SDL's dummy video driver), HID usage ->
set-1 scancodes (session.hidkeys), the key state machine and its hotkeys
(keyboard), and the audio FIFO (audio)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels.inputs import EXTENDED, make_scancode
from spicepy.session.core import ChangedRect
from spicepy.session.frames import Monitor
from spicepy.session.hidkeys import (
    PAUSE_BYTES,
    USAGE_TO_SCANCODE,
    scancode_for_usage,
    usage_for,
)
from spicepy.session.keymap import CHARS, KEYS
from spicepy.viewer.geometry import Head, Viewport, heads, layout
from spicepy.viewer.keyboard import Hotkey, Keyboard
from spicepy.wire.enums import CursorType

sizes = st.integers(1, 300)


def scaled_whole(frame: np.ndarray, vp: Viewport) -> np.ndarray:
    """The picture scaled in one go: the reference the damage must build."""
    out = np.zeros((vp.win_h, vp.win_w), frame.dtype)
    pic = frame[np.ix_(vp.ymap, vp.xmap)]
    out[vp.y : vp.y + pic.shape[0], vp.x : vp.x + pic.shape[1]] = pic
    return out


# --- geometry -----------------------------------------------------------------------
@given(sizes, sizes, sizes, sizes)
def test_fit_keeps_the_aspect_inside_the_window_centred(
    gw: int, gh: int, ww: int, wh: int
) -> None:
    vp = layout(gw, gh, ww, wh, "fit")
    assert vp.out_w <= ww and vp.out_h <= wh
    assert vp.out_w == ww or vp.out_h == wh  # the limiting side fills the window
    # aspect: out_w/out_h == gw/gh up to the one pixel the other side rounds off
    assert abs(vp.out_w * gh - vp.out_h * gw) <= max(gw, gh)
    assert vp.x == (ww - vp.out_w) // 2 and vp.y == (wh - vp.out_h) // 2
    assert len(vp.xmap) == vp.out_w and len(vp.ymap) == vp.out_h
    assert vp.xmap[0] == 0 and vp.xmap[-1] <= gw - 1
    assert np.all(np.diff(vp.xmap) >= 0) and np.all(np.diff(vp.ymap) >= 0)


@given(sizes, sizes, sizes, sizes)
def test_one_to_one_is_the_identity_cropped_or_centred(
    gw: int, gh: int, ww: int, wh: int
) -> None:
    vp = layout(gw, gh, ww, wh, "1")
    assert (vp.out_w, vp.out_h) == (min(gw, ww), min(gh, wh))
    assert np.array_equal(vp.xmap, np.arange(vp.out_w))
    assert vp.identity == (gw <= ww and gh <= wh)


rects = st.tuples(st.integers(0, 80), st.integers(0, 80), sizes, sizes)


@settings(max_examples=60)
@given(
    st.integers(1, 80),
    st.integers(1, 80),
    st.integers(1, 120),
    st.integers(1, 120),
    st.sampled_from(["fit", "1"]),
    st.lists(rects, min_size=1, max_size=6),
)
def test_damage_rect_by_rect_equals_the_whole_scaled_frame(
    gw: int,
    gh: int,
    ww: int,
    wh: int,
    mode: str,
    damage: list[tuple[int, int, int, int]],
) -> None:
    vp = layout(gw, gh, ww, wh, mode)
    rng = np.random.default_rng(gw * 1000 + gh)
    old = rng.integers(0, 2**31, (gh, gw))
    new = rng.integers(0, 2**31, (gh, gw))
    window = scaled_whole(old, vp)
    frame = old.copy()
    for left, top, w, h in damage:
        rect = ChangedRect(left, top, min(gw, left + w), min(gh, top + h))
        if rect.left >= rect.right or rect.top >= rect.bottom:
            continue
        frame[rect.top : rect.bottom, rect.left : rect.right] = new[
            rect.top : rect.bottom, rect.left : rect.right
        ]
        dst = vp.window_rect(rect)
        if dst is None:
            continue
        xs = vp.xmap[dst.left - vp.x : dst.right - vp.x]
        ys = vp.ymap[dst.top - vp.y : dst.bottom - vp.y]
        # the window rectangle shows only this guest rectangle's pixels
        assert xs.min() >= rect.left and xs.max() < rect.right
        assert ys.min() >= rect.top and ys.max() < rect.bottom
        window[dst.top : dst.bottom, dst.left : dst.right] = frame[np.ix_(ys, xs)]
    np.testing.assert_array_equal(window, scaled_whole(frame, vp))


@given(sizes, sizes, sizes, sizes, st.integers(-50, 400), st.integers(-50, 400))
def test_window_to_guest_follows_the_maps_and_clamps(
    gw: int, gh: int, ww: int, wh: int, wx: int, wy: int
) -> None:
    vp = layout(gw, gh, ww, wh, "fit")
    gx, gy = vp.to_guest(wx, wy)
    assert 0 <= gx < gw and 0 <= gy < gh
    px, py = wx - vp.x, wy - vp.y
    if 0 <= px < vp.out_w and 0 <= py < vp.out_h:
        assert (gx, gy) == (vp.xmap[px], vp.ymap[py])


def test_layout_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        layout(10, 10, 10, 10, "2")
    with pytest.raises(ValueError):
        layout(0, 10, 10, 10, "fit")


# --- heads: one window per display channel / monitor ---------------------------------
monitor_lists = st.lists(
    st.builds(
        Monitor,
        st.integers(0, 3),
        st.integers(-20, 90),
        st.integers(-20, 90),
        st.integers(0, 60),
        st.integers(0, 60),
    ),
    max_size=4,
    unique_by=lambda m: m.monitor_id,
)


@given(
    st.dictionaries(
        st.integers(0, 3),
        st.tuples(st.integers(0, 80), st.integers(0, 80), monitor_lists),
        max_size=3,
    )
)
def test_heads_cover_each_displays_monitors_inside_its_surface(
    surfaces: dict[int, tuple[int, int, list[Monitor]]],
) -> None:
    got = heads(surfaces)
    assert [h.display for h in got] == sorted(h.display for h in got)
    for display, (w, h, monitors) in surfaces.items():
        mine = [x for x in got if x.display == display]
        if w < 1 or h < 1:
            assert mine == []  # no surface: no window
            continue
        inside = []  # each monitor's area clipped to the surface, pixel sets
        for m in sorted(monitors, key=lambda m: m.monitor_id):
            xs = set(range(max(m.x, 0), min(m.x + m.width, w)))
            ys = set(range(max(m.y, 0), min(m.y + m.height, h)))
            if xs and ys:
                inside.append((m.monitor_id, min(xs), min(ys), len(xs), len(ys)))
        if inside:
            assert [(x.monitor, x.x, x.y, x.width, x.height) for x in mine] == inside
        else:  # nothing announced that meets the surface: all of it, one window
            assert mine == [Head(display, None, 0, 0, w, h)]


@given(
    st.tuples(st.integers(0, 50), st.integers(0, 50), sizes, sizes),
    st.tuples(st.integers(0, 100), st.integers(0, 100), sizes, sizes),
)
def test_head_local_is_the_damage_inside_it_moved_to_its_corner(
    area: tuple[int, int, int, int], damage: tuple[int, int, int, int]
) -> None:
    head = Head(0, 1, *area)
    rect = ChangedRect(
        damage[0], damage[1], damage[0] + damage[2], damage[1] + damage[3]
    )
    surface = np.zeros((500, 500), bool)
    surface[rect.top : rect.bottom, rect.left : rect.right] = True
    seen = surface[head.y : head.y + head.height, head.x : head.x + head.width]
    local = head.local(rect)
    if local is None:
        assert not seen.any()
    else:
        expect = np.zeros_like(seen)
        expect[local.top : local.bottom, local.left : local.right] = True
        np.testing.assert_array_equal(seen, expect)


def test_pointer_positions_name_the_monitor_on_display_0_else_the_channel() -> None:
    # spice-gtk's get_display_id: monitor ids only on display channel 0
    assert Head(0, 2, 0, 0, 8, 8).mouse_display == 2
    assert Head(0, None, 0, 0, 8, 8).mouse_display == 0
    assert Head(1, 0, 0, 0, 8, 8).mouse_display == 1
    assert Head(1, None, 0, 0, 8, 8).mouse_display == 1


# --- HID usages -> set-1 ------------------------------------------------------------
def test_every_pc_key_usage_has_a_scancode() -> None:
    # HID keyboard page: a..z, 1..0, Enter..Slash, CapsLock..KP., 102nd, Menu,
    # and the eight modifiers: every key of a 105-key PC keyboard
    pc = [*range(0x04, 0x66), *range(0xE0, 0xE8)]
    missing = [hex(u) for u in pc if scancode_for_usage(u) is None]
    assert missing == []
    assert scancode_for_usage(0x03) is None  # ErrorUndefined: no key
    assert scancode_for_usage(0x102) is None  # SDL's media keys above the page


def test_one_scancode_per_key_except_the_iso_hash_alias() -> None:
    by_code: dict[int, list[int]] = {}
    for usage, code in USAGE_TO_SCANCODE.items():
        by_code.setdefault(code, []).append(usage)
    shared = {code: us for code, us in by_code.items() if len(us) > 1}
    # non-US '#' (0x32) sits where US has backslash (0x31): one PC key
    assert shared == {KEYS["backslash"]: [0x31, 0x32]}


def test_codes_come_from_keymap_names_and_characters() -> None:
    for ch in "abcxyz0123456789-=[];',./`":
        assert USAGE_TO_SCANCODE[usage_for(ch)] == CHARS[ch][0]
    named = ("enter", "esc", "f1", "f12", "kp_enter", "ralt", "rctrl", "up")
    beyond_us = ("printscreen", "pause", "f13", "f24", "nonus_backslash", "ro")
    for name in named + beyond_us:
        assert USAGE_TO_SCANCODE[usage_for(name)] == KEYS[name]
    with pytest.raises(ValueError):
        usage_for("no such key")


@given(st.sampled_from(sorted(USAGE_TO_SCANCODE)), st.booleans())
def test_every_code_goes_on_the_wire(usage: int, release: bool) -> None:
    code = USAGE_TO_SCANCODE[usage]
    wire = make_scancode(code, release).to_bytes(4, "little").rstrip(b"\0")
    extended = bool(code & EXTENDED)
    assert wire[0] == 0xE0 if extended else len(wire) == 1
    assert wire[-1] & 0x7F == code & 0x7F
    assert bool(wire[-1] & 0x80) == release


def test_pause_is_its_make_sequence() -> None:
    # make E1 1D 45, then the break half E1 9D C5 at once (PC/AT set 1)
    assert PAUSE_BYTES[:3] == bytes((0xE1, 0x1D, 0x45))
    assert PAUSE_BYTES[3:] == bytes((0xE1, 0x1D | 0x80, 0x45 | 0x80))


# --- the key state machine --------------------------------------------------------
U = usage_for
CODE = USAGE_TO_SCANCODE


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int, bool] | bytes] = []
        self.kb = Keyboard(self.key, self.raw)

    def key(self, code: int, down: bool) -> None:
        self.sent.append((code, down))

    def raw(self, data: bytes) -> None:
        self.sent.append(data)


key_usages = st.sampled_from(
    [U("a"), U("lshift"), U("rshift"), U("lctrl"), U("lalt"), U("ralt"), U("f1")]
    + [U("end"), U("up"), U("kp_enter"), U("rctrl")]
)


@given(st.lists(st.tuples(key_usages, st.booleans()), max_size=40))
def test_guest_keys_stay_consistent_and_focus_loss_releases_them(
    moves: list[tuple[int, bool]],
) -> None:
    r = Recorder()
    for usage, down in moves:
        (r.kb.press if down else r.kb.release)(usage)
    r.kb.release_all()
    held: set[int] = set()
    for item in r.sent:
        assert isinstance(item, tuple)
        code, down = item
        if down:
            assert code not in held  # no double press
            held.add(code)
        else:
            assert code in held  # never a release the guest did not get a press for
            held.discard(code)
    assert held == set() and r.kb.guest == {}


def test_media_keys_past_the_hid_page_go_as_their_codes() -> None:
    # SDL_SCANCODE_AUDIONEXT (258): keymap's "nextsong", E0 19; held like any key
    r = Recorder()
    r.kb.press(258)
    r.kb.release_all()
    assert r.sent == [(KEYS["nextsong"], True), (KEYS["nextsong"], False)]
    assert KEYS["nextsong"] == EXTENDED | 0x19


def test_plain_keys_and_no_auto_repeat() -> None:
    r = Recorder()
    assert r.kb.press(U("a")) is None
    r.kb.press(U("a"))  # toolkit repeat
    r.kb.release(U("a"))
    r.kb.release(U("a"))  # a release without press
    assert r.sent == [(0x1E, True), (0x1E, False)]


def test_ctrl_alt_alone_toggles_the_grab() -> None:
    r = Recorder()
    r.kb.press(U("lctrl"))
    r.kb.press(U("lalt"))
    assert r.kb.release(U("lalt")) is Hotkey.GRAB
    assert r.kb.release(U("lctrl")) is None
    assert r.sent == [
        (KEYS["lctrl"], True),
        (KEYS["lalt"], True),
        (KEYS["lalt"], False),
        (KEYS["lctrl"], False),
    ]
    r.kb.press(U("lctrl"))
    r.kb.press(U("lalt"))
    r.kb.press(U("a"))  # a chord with a key: no toggle
    r.kb.release(U("a"))
    assert r.kb.release(U("lalt")) is None
    r.kb.press(U("lctrl"))
    r.kb.press(U("ralt"))  # AltGr is no hotkey Alt
    assert r.kb.release(U("ralt")) is None


def test_ctrl_alt_end_sends_ctrl_alt_del() -> None:
    r = Recorder()
    r.kb.press(U("rctrl"))
    r.kb.press(U("lalt"))
    r.sent.clear()
    assert r.kb.press(U("end")) is None
    assert r.kb.release(U("end")) is None  # End itself never reaches the guest
    assert r.sent == [(KEYS["delete"], True), (KEYS["delete"], False)]


def test_ctrl_alt_shift_fn_sends_ctrl_alt_fn() -> None:
    r = Recorder()
    for name in ("lctrl", "lalt", "lshift"):
        r.kb.press(U(name))
    r.sent.clear()
    r.kb.press(U("f2"))
    r.kb.release(U("f2"))
    assert r.sent == [
        (KEYS["lshift"], False),
        (KEYS["f2"], True),
        (KEYS["f2"], False),
        (KEYS["lshift"], True),
    ]


def test_ctrl_alt_f_and_s_are_local() -> None:
    r = Recorder()
    r.kb.press(U("lctrl"))
    r.kb.press(U("lalt"))
    r.sent.clear()
    assert r.kb.press(U("f")) is Hotkey.FULLSCREEN
    r.kb.release(U("f"))
    assert r.kb.press(U("s")) is Hotkey.SCALE
    r.kb.release(U("s"))
    assert r.sent == []
    r.kb.release(U("lalt"))
    assert r.kb.press(U("f")) is None  # Ctrl+F alone goes to the guest
    assert r.sent[-1] == (CHARS["f"][0], True)


def test_pause_goes_raw_without_a_release() -> None:
    r = Recorder()
    r.kb.press(U("pause"))
    r.kb.release(U("pause"))
    assert r.sent == [PAUSE_BYTES]
    plain = Keyboard(r.key)  # no raw path: the E0 46 code
    r.sent.clear()
    plain.press(U("pause"))
    plain.release(U("pause"))
    assert r.sent == [(KEYS["pause"], True), (KEYS["pause"], False)]


# --- render (SDL dummy video) ------------------------------------------------------
@pytest.fixture
def sdl() -> Iterator[Any]:
    pygame = pytest.importorskip("pygame")
    old = os.environ.get("SDL_VIDEODRIVER")
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.display.init()
    try:
        yield pygame
    finally:
        pygame.display.quit()
        if old is None:
            del os.environ["SDL_VIDEODRIVER"]
        else:
            os.environ["SDL_VIDEODRIVER"] = old


@pytest.mark.parametrize("win", [(64, 48), (50, 30), (90, 70)], ids=str)
def test_renderer_paints_exactly_the_damage(sdl: Any, win: tuple[int, int]) -> None:
    from spicepy.viewer.render import Renderer

    pygame = sdl
    window = pygame.display.set_mode(win)
    rng = np.random.default_rng(7)
    bgrx = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    r = Renderer("fit")
    r.guest_size = (64, 48)
    r.relayout(window)
    r.repaint(window, bgrx)
    vp = r.viewport
    assert vp is not None
    words = bgrx.view(np.uint32)[..., 0] & 0xFFFFFF  # the X byte is not shown

    def shown() -> np.ndarray:
        view = pygame.surfarray.pixels2d(window)
        try:
            return np.array(view).T & 0xFFFFFF
        finally:
            del view

    np.testing.assert_array_equal(shown(), scaled_whole(words, vp))
    r.dirty.clear()
    before = shown()
    bgrx[10:20, 30:40] = 255 - bgrx[10:20, 30:40]
    r.paint(window, bgrx, (ChangedRect(30, 10, 40, 20),))
    after = shown()
    dst = vp.window_rect(ChangedRect(30, 10, 40, 20))
    assert dst is not None
    assert [tuple(d) for d in r.dirty] == [
        (dst.left, dst.top, dst.right - dst.left, dst.bottom - dst.top)
    ]
    outside = np.ones(after.shape, bool)
    outside[dst.top : dst.bottom, dst.left : dst.right] = False
    np.testing.assert_array_equal(after[outside], before[outside])  # damage only
    words = bgrx.view(np.uint32)[..., 0] & 0xFFFFFF
    np.testing.assert_array_equal(after, scaled_whole(words, vp))


# --- audio FIFO ---------------------------------------------------------------------
def test_audio_fifo_prebuffers_plays_in_order_and_bounds_its_delay() -> None:
    from spicepy.audio import AudioFrame
    from spicepy.viewer import audio

    out = audio.AudioOut()
    out._device, out._format = object(), (48000, 2)  # no SDL device: pull by hand
    out._prebuffer = int(audio.PREBUFFER * 48000) * 4
    frames = [np.full((480, 2), i + 1, np.int16) for i in range(30)]  # 10 ms each

    def pull(n: int) -> np.ndarray:
        buf = bytearray(n * 4)
        out._fill(None, memoryview(buf))
        return np.frombuffer(bytes(buf), np.int16).reshape(-1, 2)

    out.play(AudioFrame(0, 48000, frames[0]))
    assert not pull(480).any()  # 10 ms queued < PREBUFFER: silence
    for f in frames[1:5]:
        out.play(AudioFrame(0, 48000, f))
    got = pull(5 * 480)  # 50 ms queued: plays, in order
    np.testing.assert_array_equal(got, np.concatenate(frames[:5]))
    assert not pull(100).any() and out.underruns == 1
    for f in frames[5:30]:  # 250 ms: over MAX_BUFFERED by nothing
        out.play(AudioFrame(0, 48000, f))
    out.play(AudioFrame(0, 48000, np.full((480, 2), 99, np.int16)))
    got = pull(25 * 480)  # the oldest 10 ms went
    np.testing.assert_array_equal(got[:480], frames[6])
    np.testing.assert_array_equal(got[-480:], np.full((480, 2), 99, np.int16))
    assert out.dropped_bytes == 480 * 4
    # a stream's end, under PREBUFFER: it waits for more, then plays out
    assert not pull(100).any() and out.underruns == 2
    tail = np.full((480, 2), 7, np.int16)
    out.play(AudioFrame(0, 48000, tail))
    assert not pull(480).any()  # 10 ms < PREBUFFER: more may come
    out._last_in -= audio.PREBUFFER + 0.01  # nothing came for PREBUFFER s
    np.testing.assert_array_equal(pull(480), tail)


def test_renderer_of_a_head_shows_its_area_of_the_surface(sdl: Any) -> None:
    from spicepy.viewer.render import Renderer

    pygame = sdl
    window = pygame.display.set_mode((30, 20))
    rng = np.random.default_rng(5)
    bgrx = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    head = Head(0, 1, 25, 13, 30, 20)  # a monitor inside a bigger surface
    r = Renderer("1")
    r.guest_size, r.origin = (head.width, head.height), (head.x, head.y)
    r.relayout(window)
    r.repaint(window, bgrx)

    def shown() -> np.ndarray:
        view = pygame.surfarray.pixels2d(window)
        try:
            return np.array(view).T & 0xFFFFFF
        finally:
            del view

    def area() -> np.ndarray:
        return bgrx.view(np.uint32)[13:33, 25:55, 0] & 0xFFFFFF

    np.testing.assert_array_equal(shown(), area())
    bgrx[:] = 255 - bgrx  # everything changes; one surface rectangle is damage
    local = head.local(ChangedRect(20, 10, 40, 25))
    assert local == ChangedRect(0, 0, 15, 12)
    before = shown()
    r.paint(window, bgrx, (local,))
    after = shown()
    np.testing.assert_array_equal(after[:12, :15], area()[:12, :15])
    np.testing.assert_array_equal(after[12:], before[12:])
    np.testing.assert_array_equal(after[:, 15:], before[:, 15:])


def test_microphone_fifo_gives_whole_10ms_frames_and_bounds_its_delay() -> None:
    from spicepy.viewer import audio

    mic = audio.AudioIn(48000, 2)  # not opened: SDL's callback called by hand
    pcm = np.arange(2 * 48000, dtype=np.int16).reshape(-1, 2)  # 1 s, all distinct

    def capture(first: int, n: int) -> None:
        mic._store(None, memoryview(pcm[first : first + n].astype("<i2").tobytes()))

    capture(0, 700)  # one 10 ms frame (480) and 220 more
    np.testing.assert_array_equal(mic.take(), pcm[:480])
    assert mic.take().shape == (0, 2)  # 220 wait for the next 10 ms
    capture(700, 260)
    np.testing.assert_array_equal(mic.take(), pcm[480:960])
    capture(960, 12000 + 100)  # 250 ms + 100 frames: the oldest 100 go
    assert mic.dropped_bytes == 100 * 4
    got = mic.take()
    np.testing.assert_array_equal(got, pcm[1060 : 1060 + 12000])


def test_drawn_pointer_moves_and_leaves_the_guest_picture(sdl: Any) -> None:
    from spicepy.canvas.cursor import CursorImage
    from spicepy.viewer.render import Renderer, Sprite, cursor_surface

    pygame = sdl
    window = pygame.display.set_mode((64, 48))
    rng = np.random.default_rng(3)
    bgrx = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    rgba = np.zeros((5, 4, 4), np.uint8)
    rgba[1:4, 1:3] = (255, 0, 0, 255)  # an opaque red block in a clear frame
    image = CursorImage(rgba, 1, 1)
    r = Renderer("1")
    r.guest_size = (64, 48)
    r.relayout(window)
    r.repaint(window, bgrx)

    def shown() -> np.ndarray:
        view = pygame.surfarray.pixels2d(window)
        try:
            return np.array(view).T & 0xFFFFFF
        finally:
            del view

    picture = shown()
    r.move_sprite(window, bgrx, Sprite(cursor_surface(image), 10, 20))
    first = shown()
    assert (first[21:24, 11:13] == 0xFF0000).all()  # drawn where asked
    changed = np.argwhere(first != picture)
    assert changed.min(0).tolist() >= [20, 10] and changed.max(0).tolist() <= [24, 13]
    r.move_sprite(window, bgrx, Sprite(cursor_surface(image), 40, 5))
    second = shown()
    np.testing.assert_array_equal(second[15:30, 5:20], picture[15:30, 5:20])  # gone
    assert (second[6:9, 41:43] == 0xFF0000).all()
    r.move_sprite(window, bgrx, None)
    np.testing.assert_array_equal(shown(), picture)


def test_inverting_pointer_is_the_spec_and_xor_under_damage_and_moves(
    sdl: Any,
) -> None:
    from spicepy.canvas.cursor import composite_cursor, decode_cursor
    from spicepy.viewer.render import Renderer, cursor_sprite

    pygame = sdl
    window = pygame.display.set_mode((64, 48))
    rng = np.random.default_rng(4)
    bgrx = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    # a MONO 16x16 shape: AND plane, XOR plane; mask 1 + colour 1 inverts
    and_bits = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    xor_bits = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    image = decode_cursor(CursorType.MONO, 16, 16, 3, 5, and_bits + xor_bits)
    assert image.xor is not None and image.xor.any()  # some pixels invert
    r = Renderer("1")
    r.guest_size = (64, 48)
    r.relayout(window)
    r.repaint(window, bgrx)

    def shown() -> np.ndarray:
        view = pygame.surfarray.pixels2d(window)
        try:
            words = np.array(view).T
        finally:
            del view
        return np.stack([(words >> s) & 0xFF for s in (16, 8, 0)], -1).astype(np.uint8)

    def expected(x: int, y: int) -> np.ndarray:
        screen = np.ascontiguousarray(bgrx[..., 2::-1])
        composite_cursor(screen, image, x, y)
        return screen

    picture = shown()
    r.move_sprite(window, bgrx, cursor_sprite(image, 20, 12))
    np.testing.assert_array_equal(shown(), expected(20, 12))
    # damage over part of the pointer: the XOR is not applied twice
    bgrx[10:20, 10:22] = 255 - bgrx[10:20, 10:22]
    r.paint(window, bgrx, (ChangedRect(10, 10, 22, 20),))
    np.testing.assert_array_equal(shown(), expected(20, 12))
    r.move_sprite(window, bgrx, cursor_sprite(image, 60, 45))  # clipped at the edge
    np.testing.assert_array_equal(shown(), expected(60, 45))
    r.move_sprite(window, bgrx, None)
    np.testing.assert_array_equal(shown(), expected(-100, -100))
    assert not np.array_equal(shown(), picture)  # (the damage stayed)


def test_relative_motion_is_scaled_to_guest_pixels() -> None:
    vp = layout(1280, 800, 640, 400, "fit")
    assert vp.guest_delta(10, -4) == (20.0, -8.0)
    assert layout(640, 480, 640, 480, "1").guest_delta(3, 5) == (3.0, 5.0)
