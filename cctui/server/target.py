"""Targets as tmux spells them: ``SESSION[:WINDOW[.PANE]]``, parsed in one place.

A window or pane left out means the session's current window and that window's
active pane, as in tmux. A tmux pane id ``%N`` names one pane wherever a target
is taken (it wins over a session that is named like one, as in tmux); the
server finds its session and window.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

NAME_LIMIT = 64
# tmux forbids ':' and '.' in session names (they separate a target's parts).
_NAME = re.compile(r"[A-Za-z0-9_@+=,%~-]{1,64}")
_INDEX = re.compile(r"[0-9]{1,6}")
PANE_ID = re.compile(r"%[0-9]{1,9}")


class TargetError(ValueError):
    """A target or session name that cannot be parsed; the message says why."""


@dataclass(frozen=True)
class Target:
    session: str
    window: Optional[int] = None
    pane: Optional[int] = None
    pane_id: Optional[str] = None       # "%N": session, window and pane are the pane's own

    def __str__(self) -> str:
        if self.pane_id is not None:
            return self.pane_id
        text = self.session
        if self.window is not None:
            text += f":{self.window}"
            if self.pane is not None:
                text += f".{self.pane}"
        return text


def check_session_name(name: str) -> str:
    """A session name a target can name: letters, digits and ``_@+=,%~-``, at most 64."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TargetError(f"bad session name {name[:80]!r}: use 1-{NAME_LIMIT} letters, digits "
                          "or _@+=,%~- (no ':' or '.', they separate a target's parts)"
                          if isinstance(name, str) else "a session name must be a string")
    return name


def parse_target(text: str) -> Target:
    """``s``, ``s:1`` or ``s:1.2`` (also ``s:`` and ``s:.2``: the current window)."""
    if not isinstance(text, str) or not text:
        raise TargetError("empty target: give SESSION[:WINDOW[.PANE]]")
    if PANE_ID.fullmatch(text):
        return Target("", pane_id=text)
    session, colon, rest = text.partition(":")
    check_session_name(session)
    if not colon:
        return Target(session)
    window_text, dot, pane_text = rest.partition(".")
    if dot and not pane_text:
        raise TargetError(f"bad target {text[:80]!r}: a '.' must be followed by a pane index")
    window = _index(window_text, "window", text) if window_text else None
    pane = _index(pane_text, "pane", text) if dot else None
    return Target(session, window, pane)


def check_pane_id(text: object) -> str:
    """A tmux pane id, ``%N``."""
    if not isinstance(text, str) or not PANE_ID.fullmatch(text):
        raise TargetError("a pane id is % and 1-9 digits")
    return text


def _index(text: str, what: str, target: str) -> int:
    if not _INDEX.fullmatch(text):
        raise TargetError(f"bad target {target[:80]!r}: the {what} must be a number, not {text[:20]!r}")
    return int(text)
