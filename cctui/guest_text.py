"""The one place where text that came from a guest is made safe to show.

Everything a guest chooses (titles, working directories, environment values,
error messages an agent sends, the console log) may hold escape sequences, C1
controls, lone surrogates or megabytes of text.  Widgets and logs only ever
see what :func:`printable` returns: control characters become visible
symbols (so a user still sees that they are there), and the length is capped.
Markup is a separate concern: widgets either show ``rich.text.Text`` or escape
with ``rich.markup.escape``.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping

#: What a title, a path or an environment value may show at most (characters).
FIELD_LIMIT = 4096
#: What a one-line label (a pane title, a VM's error in the tree) may show at most.
LABEL_LIMIT = 256
#: Environment variables kept for the panel at most (a guest may report thousands).
ENV_ENTRIES_LIMIT = 1024
ELLIPSIS = "…"

# C0 and DEL, C1, lone surrogates, and the bidirectional overrides/isolates
# (they reorder what follows on the user's screen: a spoofing tool).
_UNSAFE_BEYOND_C0 = "\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_UNSAFE_BEYOND_C0}]")
_UNSAFE_KEEP_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_UNSAFE_BEYOND_C0}]")
# Escape sequences are dropped whole (a coloured console line reads as text),
# the stray controls left after that are shown as symbols.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"             # CSI
    r"|\x1b[\]P_^X][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, APC, PM, SOS (to their end)
    r"|\x1b[ -/]*[0-~]"                    # two-byte ESC, charset selection
)


def _symbol(match: "re.Match[str]") -> str:
    ch = match.group()
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)          # U+2400 CONTROL PICTURES: ␛ for ESC
    if code == 0x7F:
        return "\u2421"                    # ␡
    return "\ufffd"


def printable(text: object, limit: int = FIELD_LIMIT, keep_newlines: bool = False) -> str:
    """``text`` as safe, visible characters, at most ``limit`` of them.

    Anything that is not a ``str`` (a guest may send a number where a string
    belongs) is shown through ``str``; the cap is applied before the scan so
    the cost is bounded by ``limit``, not by what the guest sent."""
    if not isinstance(text, str):
        text = str(text)
    cut = len(text) > limit
    if cut:
        text = text[: limit + 64]          # room for escape sequences that are dropped
    if keep_newlines:
        text = _ESCAPE_SEQUENCE.sub("", text)
        text = _UNSAFE_KEEP_NEWLINE.sub(_symbol, text)
    else:
        text = _UNSAFE.sub(_symbol, text)
    if cut or len(text) > limit:
        text = text[: max(0, limit - 1)] + ELLIPSIS
    return text


def printable_env(env: Mapping[Any, object]) -> Dict[str, str]:
    """A guest-reported environment, bounded in entries and in each name and value."""
    out: Dict[str, str] = {}
    for key, value in env.items():
        if len(out) >= ENV_ENTRIES_LIMIT:
            break
        out[printable(key, LABEL_LIMIT)] = printable(value)
    return out
