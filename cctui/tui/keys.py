"""Textual key events -> the bytes an xterm sends (VT220/xterm, modifiers included).

The guest sees ``TERM=xterm-256color``, so it expects xterm's encodings:
``CSI 1;<mod> A`` for a modified arrow, ``CSI <n>;<mod> ~`` for editing keys,
``SS3 A`` for an unmodified arrow in application cursor mode (DECCKM).
"""
from __future__ import annotations

from typing import Optional

ESC = "\x1b"
CSI = ESC + "["
SS3 = ESC + "O"

# key -> (final byte, uses SS3 in application mode)
_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
# key -> number in CSI <n> ~
_TILDE = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6,
          "f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24}
_SS3_F = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
_PLAIN = {"enter": "\r", "tab": "\t", "escape": ESC, "backspace": "\x7f", "space": " "}
_CTRL_PUNCT = {"@": 0, "space": 0, "[": 27, "left_square_bracket": 27, "\\": 28,
               "backslash": 28, "]": 29, "right_square_bracket": 29, "^": 30,
               "circumflex_accent": 30, "_": 31, "underscore": 31, "?": 127,
               "question_mark": 127}


def _split(key: str) -> tuple:
    parts = key.split("+")
    name = parts[-1]
    mods = set(parts[:-1])
    return name, "shift" in mods, ("alt" in mods or "meta" in mods), "ctrl" in mods


def encode_key(key: str, character: Optional[str], app_cursor: bool = False) -> Optional[bytes]:
    """The bytes for a key press, or None for a key a terminal would not send."""
    name, shift, alt, ctrl = _split(key)
    if name == "backtab" or (name == "tab" and shift):
        return (CSI + "Z").encode()
    mod = 1 + (1 if shift else 0) + (2 if alt else 0) + (4 if ctrl else 0)
    if name in _CURSOR:
        final = _CURSOR[name]
        if mod > 1:
            return f"{CSI}1;{mod}{final}".encode()
        return ((SS3 if app_cursor else CSI) + final).encode()
    if name in _TILDE:
        num = _TILDE[name]
        return (f"{CSI}{num};{mod}~" if mod > 1 else f"{CSI}{num}~").encode()
    if name in _SS3_F:
        return (f"{CSI}1;{mod}{_SS3_F[name]}" if mod > 1 else SS3 + _SS3_F[name]).encode()
    prefix = ESC if alt else ""
    if name in _PLAIN and not ctrl:
        if name == "backspace" and alt:
            return (ESC + "\x7f").encode()
        return (prefix + _PLAIN[name]).encode()
    if ctrl:
        if name == "backspace":
            return (prefix + "\x08").encode()
        if name == "enter":
            return (prefix + "\r").encode()
        if len(name) == 1 and name.isalpha():
            return (prefix + chr(ord(name.lower()) & 0x1F)).encode()
        if name in _CTRL_PUNCT:
            return (prefix + chr(_CTRL_PUNCT[name])).encode()
        if len(name) == 1 and name.isdigit():
            digit = {"2": 0, "3": 27, "4": 28, "5": 29, "6": 30, "7": 31, "8": 127}.get(name)
            return (prefix + chr(digit)).encode() if digit is not None else name.encode()
    if character and character.isprintable():
        return (prefix + character).encode("utf-8", "replace")
    if character and len(character) == 1 and ord(character) < 32:
        return (prefix + character).encode()
    if alt and len(name) == 1:
        return (ESC + name).encode()
    return None


def encode_paste(text: str, bracketed: bool) -> bytes:
    """A paste: newlines as CR (what a terminal sends); wrapped when the guest asked (2004).

    The end marker is stripped from the text so a paste cannot break out of the bracket.
    """
    body = text.replace("\r\n", "\r").replace("\n", "\r")
    if bracketed:
        body = body.replace("\x1b[201~", "")
        return ("\x1b[200~" + body + "\x1b[201~").encode("utf-8", "replace")
    return body.encode("utf-8", "replace")


def encode_mouse(button: int, x: int, y: int, press: bool, motion: bool, sgr: bool,
                 shift: bool = False, alt: bool = False, ctrl: bool = False) -> Optional[bytes]:
    """An xterm mouse report; x, y are 0-based cells. button: 0,1,2; 64/65 for the wheel."""
    code = button + (32 if motion else 0) + (4 if shift else 0) + (8 if alt else 0) + (16 if ctrl else 0)
    if sgr:
        return f"{CSI}<{code};{x + 1};{y + 1}{'M' if press else 'm'}".encode()
    if not press:
        code = 3 + (32 if motion else 0)
    if x > 222 or y > 222:
        return None  # the legacy encoding cannot say it
    return (CSI + "M" + chr(32 + code) + chr(33 + x) + chr(33 + y)).encode("latin-1")
