"""tmux key names (``Enter``, ``C-c``, ``M-x``, ``PPage``, ``F5``...) -> the bytes a terminal sends.

The encoding itself is the TUI's (``cctui.tui.keys``, xterm's sequences, with
application cursor mode): this module only translates tmux's names into it. A
word that is not a key name is sent as text, as tmux does.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

from ..tui.keys import encode_key

# tmux name (lower case) -> the key name encode_key knows
_NAMED = {
    "enter": "enter", "escape": "escape", "tab": "tab", "btab": "backtab", "bspace": "backspace",
    "space": "space", "up": "up", "down": "down", "left": "left", "right": "right",
    "home": "home", "end": "end", "ppage": "pageup", "pageup": "pageup", "pgup": "pageup",
    "npage": "pagedown", "pagedown": "pagedown", "pgdn": "pagedown", "ic": "insert",
    "insert": "insert", "dc": "delete", "delete": "delete",
    **{f"f{n}": f"f{n}" for n in range(1, 13)},
}
_MODIFIERS = {"c": "ctrl", "m": "alt", "s": "shift"}
KEY_WORD_LIMIT = 4096


def parse_key(word: str) -> Optional[Tuple[str, Optional[str]]]:
    """``(key, character)`` for encode_key, or None when ``word`` is no key name (text)."""
    mods = []
    rest = word
    while len(rest) > 2 and rest[1] == "-" and rest[0].lower() in _MODIFIERS:
        mods.append(_MODIFIERS[rest[0].lower()])
        rest = rest[2:]
    if len(rest) == 2 and rest[0] == "^" and not mods:      # ^C is C-c
        mods, rest = ["ctrl"], rest[1]
    name = _NAMED.get(rest.lower())
    if name is not None:
        return "+".join(mods + [name]), None
    if len(rest) == 1 and mods:
        character = rest.lower() if "ctrl" in mods else rest
        return "+".join(mods + [character.lower()]), character
    return None


def encode_keys(words: Sequence[str], literal: bool = False, app_cursor: bool = False) -> bytes:
    """What ``send-keys`` types: each word a key name, else its text (all text with -l)."""
    out = bytearray()
    for word in words:
        key = None if literal else parse_key(word)
        encoded = encode_key(key[0], key[1], app_cursor) if key is not None else None
        out += encoded if encoded is not None else word.encode("utf-8", "surrogateescape")
    return bytes(out)
