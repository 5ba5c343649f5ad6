"""viewer.keyboard: which Ctrl+Alt chords are the viewer's (see the module's
docstring) and which reach the guest unchanged."""

from __future__ import annotations

from spicepy.session.hidkeys import USAGE_TO_SCANCODE, usage_for
from spicepy.viewer.keyboard import Keyboard

U = usage_for


def test_ctrl_alt_fn_without_shift_is_the_guests() -> None:
    """Only Ctrl+Alt+Shift+Fn is a hotkey; Ctrl+Alt+Fn is sent as it is, the Fn
    held in the guest for as long as it is held here (not tapped)."""
    sent: list[tuple[int, bool]] = []
    kb = Keyboard(lambda code, down: sent.append((code, down)))
    ctrl, alt, f2 = U("lctrl"), U("lalt"), U("f2")
    kb.press(ctrl)
    kb.press(alt)
    assert kb.press(f2) is None
    code = USAGE_TO_SCANCODE[f2]
    assert sent[-1] == (code, True) and (code, False) not in sent
    kb.release(f2)
    assert sent[-1] == (code, False)
    # with Shift: the viewer's hotkey, sent as Ctrl+Alt+F2 without the Shift
    sent.clear()
    kb.press(U("lshift"))
    kb.press(f2)
    shift = USAGE_TO_SCANCODE[U("lshift")]
    assert sent[1:] == [(shift, False), (code, True), (code, False), (shift, True)]
