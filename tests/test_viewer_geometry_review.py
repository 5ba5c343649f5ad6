"""Window <-> guest coordinates of a centred, scaled picture (viewer.geometry):
the letterbox offset is part of every conversion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spicepy.session.core import ChangedRect
from spicepy.viewer.geometry import layout


def test_window_pixels_of_the_letterboxed_picture_map_to_the_guest() -> None:
    # a 100x100 guest fitted into 300x200: 200x200 picture, 50 px bars left/right
    v = layout(100, 100, 300, 200, "fit")
    assert (v.x, v.y, v.out_w, v.out_h) == (50, 0, 200, 200)
    assert v.to_guest(50, 0) == (0, 0)  # the picture's first pixel
    assert v.to_guest(249, 199) == (99, 99)  # its last
    assert v.to_guest(150, 100) == (50, 50)  # its centre
    assert v.to_guest(10, 100) == (0, 50)  # the left bar clamps to the edge
    assert v.to_guest(299, 100) == (99, 50)


@given(
    gw=st.integers(1, 64),
    gh=st.integers(1, 64),
    ww=st.integers(1, 200),
    wh=st.integers(1, 200),
    mode=st.sampled_from(["fit", "1"]),
)
def test_to_guest_inverts_window_rect(
    gw: int, gh: int, ww: int, wh: int, mode: str
) -> None:
    """Each guest pixel shown in the window maps back to itself from every
    window pixel of its image (window_rect and to_guest agree)."""
    v = layout(gw, gh, ww, wh, mode)
    for gx, gy in {(0, 0), (gw - 1, gh - 1), (gw // 2, gh // 3)}:
        r = v.window_rect(ChangedRect(gx, gy, gx + 1, gy + 1))
        if r is None:
            continue  # cropped away (1:1 in a smaller window) or scaled out
        for wx, wy in ((r.left, r.top), (r.right - 1, r.bottom - 1)):
            assert v.to_guest(wx, wy) == (gx, gy)


@given(
    gw=st.integers(1, 4000),
    gh=st.integers(1, 4000),
    ww=st.integers(1, 4000),
    wh=st.integers(1, 4000),
)
def test_a_motion_across_the_fitted_picture_crosses_the_guest(
    gw: int, gh: int, ww: int, wh: int
) -> None:
    """Relative mouse, "fit": a motion over the whole picture moves over the
    whole guest on each axis (the axes scale apart: the fitted size is rounded)."""
    v = layout(gw, gh, ww, wh, "fit")
    assert v.guest_delta(v.out_w, v.out_h) == (gw, gh)


@given(
    gw=st.integers(1, 4000),
    gh=st.integers(1, 4000),
    ww=st.integers(1, 4000),
    wh=st.integers(1, 4000),
    d=st.integers(-50, 50),
)
def test_one_to_one_motion_is_one_to_one_even_cropped(
    gw: int, gh: int, ww: int, wh: int, d: int
) -> None:
    """ "1": one window pixel is one guest pixel, also when the window is
    smaller than the guest and the picture is cropped."""
    assert layout(gw, gh, ww, wh, "1").guest_delta(d, -d) == (d, -d)
