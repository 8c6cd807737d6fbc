"""Terminal modes: the DECSET numbers the emulator acts on, and their flags.

A guest sets a private mode with ``CSI ? n h`` and resets it with
``CSI ? n l``; :class:`DecMode` names the numbers the emulator itself looks
at.  pyte keeps every mode set in ``Screen.mode`` (private ones shifted, see
:func:`~cctui.terminal.pyte_compat.private_mode`): the flags below are what
to look for there (the model's properties read them).
"""
from __future__ import annotations

from enum import IntEnum

from .pyte_compat import DECAWM, DECOM, DECSCNM, IRM, LNM, private_mode


class DecMode(IntEnum):
    """Private mode numbers (``CSI ? n h`` / ``CSI ? n l``)."""

    DECCKM = 1               #: cursor keys send ``ESC O x``
    DECCOLM = 3              #: 80/132 columns: ignored, as xterm does by default (pyte would clear)
    DECSCNM = 5              #: reverse video: the cell caches are dropped when it changes
    MOUSE_X10 = 9            #: mouse presses reported
    ALT_SCREEN_47 = 47       #: alternate screen
    MOUSE_NORMAL = 1000      #: presses and releases
    MOUSE_BUTTON = 1002      #: ... and drags
    MOUSE_ANY = 1003         #: ... and all motion
    FOCUS_EVENTS = 1004
    MOUSE_UTF8 = 1005
    MOUSE_SGR = 1006
    MOUSE_URXVT = 1015
    ALT_SCREEN_1047 = 1047   #: alternate screen
    ALT_SCREEN_1049 = 1049   #: alternate screen, cursor saved on entry and restored on exit
    BRACKETED_PASTE = 2004


#: the mouse tracking modes: setting one resets the others
MOUSE_TRACKING_MODES = (DecMode.MOUSE_X10, DecMode.MOUSE_NORMAL, DecMode.MOUSE_BUTTON, DecMode.MOUSE_ANY)
#: the modes that switch to the alternate screen
ALT_SCREEN_MODES = (DecMode.ALT_SCREEN_47, DecMode.ALT_SCREEN_1047, DecMode.ALT_SCREEN_1049)

# flags in Screen.mode
DECCKM = private_mode(DecMode.DECCKM)
MOUSE_X10 = private_mode(DecMode.MOUSE_X10)
MOUSE_NORMAL = private_mode(DecMode.MOUSE_NORMAL)
MOUSE_BUTTON = private_mode(DecMode.MOUSE_BUTTON)
MOUSE_ANY = private_mode(DecMode.MOUSE_ANY)
FOCUS_EVENTS = private_mode(DecMode.FOCUS_EVENTS)
MOUSE_UTF8 = private_mode(DecMode.MOUSE_UTF8)
MOUSE_SGR = private_mode(DecMode.MOUSE_SGR)
MOUSE_URXVT = private_mode(DecMode.MOUSE_URXVT)
BRACKETED_PASTE = private_mode(DecMode.BRACKETED_PASTE)
#: the flags of :data:`MOUSE_TRACKING_MODES`
MOUSE_TRACKING = tuple(private_mode(m) for m in MOUSE_TRACKING_MODES)

__all__ = ["DecMode", "MOUSE_TRACKING_MODES", "ALT_SCREEN_MODES", "DECCKM", "MOUSE_X10", "MOUSE_NORMAL",
           "MOUSE_BUTTON", "MOUSE_ANY", "FOCUS_EVENTS", "MOUSE_UTF8", "MOUSE_SGR", "MOUSE_URXVT",
           "BRACKETED_PASTE", "MOUSE_TRACKING", "IRM", "LNM", "DECOM", "DECAWM", "DECSCNM"]
