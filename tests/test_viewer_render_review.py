"""viewer.render: the cursor sprite's XOR words are in the window's pixel format."""

from __future__ import annotations

import numpy as np
import pytest

from spicepy.canvas.cursor import CursorImage


def test_xor_words_are_window_pixels() -> None:
    pygame = pytest.importorskip("pygame")
    from spicepy.viewer.render import cursor_sprite

    rgba = np.zeros((1, 3, 4), np.uint8)  # transparent: only the XOR shows
    xor = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)  # R, G, B
    sprite = cursor_sprite(CursorImage(rgba, 0, 0, xor), 5, 5)
    window = pygame.Surface((4, 4), 0, 32)  # the 32-bit XRGB a window has
    assert sprite.xor is not None
    assert sprite.xor[0].tolist() == [
        window.map_rgb(255, 0, 0),
        window.map_rgb(0, 255, 0),
        window.map_rgb(0, 0, 255),
    ]
