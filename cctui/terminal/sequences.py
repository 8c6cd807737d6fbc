"""Named sequences: what the guest's characters are, before any screen sees them.

The tokenizer's grammar (:data:`TOKEN`), the shapes the decoder reads a
token with (:data:`CSI`, :data:`ESC`, ...), the limits that keep hostile input
linear, and pure functions over text: dropping the controls that never do
anything, keeping an incomplete sequence back for the next feed, reading CSI
parameters.  Nothing here knows about a screen; what a sequence *does* is
:mod:`cctui.terminal.dispatch`'s business.
"""
from __future__ import annotations

import re
import sys
from typing import Tuple

# ------------------------------------------------------------------ limits
#: CSI parameters longer than this make the sequence ignored (tmux keeps 64 bytes too)
MAX_PARAMS = 64
#: a CSI parameter is clamped to this (a bigger one is never converted)
MAX_PARAM_VALUE = 9999
#: a title keeps at most this many characters
TITLE_LIMIT = 256
#: an incomplete sequence held for the next feed is shortened past this length
HELD_LIMIT = 1024

# ------------------------------------------------------- ignored controls
#: Controls that do nothing anywhere (outside strings they are ignored; inside
#: a CSI they are executed, i.e. ignored, and the sequence goes on): dropped
#: before tokenizing, so that binary data does not cost one token per byte.
#: CAN/SUB (abort a sequence), ESC, ST (0x9c) and the C0 that act are kept.
#: Inclusive code point ranges.
IGNORED_CONTROLS = ((0x00, 0x06), (0x0E, 0x17), (0x19, 0x19), (0x1C, 0x1F), (0x7F, 0x9B), (0x9D, 0x9F))
_IGNORED_CODES = [c for first, last in IGNORED_CONTROLS for c in range(first, last + 1)]
_IGNORED_ASCII = bytes(c for c in _IGNORED_CODES if c < 0x80)
# (a bytes regex: ~2.5x faster than a str one); C1 controls are 0xC2 0x80..0x9F in UTF-8
_IGNORED_C1 = re.compile(b"\xc2[" + b"".join(b"\\x%02x" % c for c in _IGNORED_CODES if c >= 0x80) + b"]")


def strip_ignored(text: str) -> str:
    """``text`` without :data:`IGNORED_CONTROLS`.  Done on the UTF-8 bytes
    (bytes.translate runs at memory speed; a regex scan would cost plain
    text ~8 ms/MB); C1 controls are encoded with a 0xC2 lead byte and go
    with a bytes regex (random bytes: 46 -> 18 ms/MB)."""
    raw = text.encode("utf-8", "surrogatepass")
    kept = raw.translate(None, _IGNORED_ASCII)
    if b"\xc2" in kept:
        # (0xC2 is always a lead byte here: the bytes are an encoding)
        kept = _IGNORED_C1.sub(b"", kept)
    if len(kept) != len(raw):
        return kept.decode("utf-8", "surrogatepass")
    return text


# --------------------------------------------------------------- the grammar
# Possessive quantifiers (Python 3.11+) only save backtracking here: every
# pattern matches the same without them, as on Python 3.9 and 3.10.
_POSSESSIVE = "+" if sys.version_info >= (3, 11) else ""

#: Every non-text token (text runs come out between them in ``TOKEN.split``;
#: the one capturing group is the token).  The grammar is total: a sequence
#: interrupted by a character it cannot hold is aborted (the token ends there
#: and does nothing), so nothing is ever handed on character by character and
#: every input is tokenized in one linear pass.  Every alternative starts with
#: a literal or a class (the ESC ones share one prefix): the regex engine then
#: skips text between tokens with a character-set scan (a leading repeated
#: group made plain text ~4x slower).
TOKEN = re.compile(r"""
(
  \x1b (?:
      # CSIs and ESCs aborted by the next ESC: a whole run is one token
      (?: \[ [ -?]*%(p)s | [ -/]*%(p)s ) (?=\x1b)
      (?: \x1b (?: \[ [ -?]*%(p)s | [ -/]*%(p)s ) (?=\x1b) )*
    | \[ (?:
          6n (?: \x1b\[6n )+ | 5n (?: \x1b\[5n )+               # a run of one status query
        | [0-9]{0,%(n)d}%(p)s [ST] (?: \x1b\[ [0-9]{0,%(n)d}%(p)s [ST] )+   # a run of SU/SD
        | [ -?\x07-\x09\x0d]* [@-~]?                               # CSI (or an aborted CSI)
      )
    | \] (?: P[0-9A-Fa-f]{7} | R | [^\x07\x1b\x9c]* (?: \x07 | \x1b\\ | \x9c )? )   # OSC
    | [P_^X] [^\x1b\x9c]* (?: \x1b\\ | \x9c )?                  # DCS, APC, PM, SOS
    | [ -/]* [0-~]?                                             # ESC [intermediates] final
  )
  | \r\n? | \n | [\x07-\x0c\x18\x1a\x9c]                       # C0 that act; CAN, SUB, ST
)""" % {"n": MAX_PARAMS, "p": _POSSESSIVE}, re.VERBOSE)

#: What may still be completed by more input: held back for the next feed.
INCOMPLETE = re.compile(r"""
\x1b (?:
    [ -/]*                                              # ESC [intermediates]
  | \[ [ -?\x07-\x09\x0d]*                               # CSI without its final
  | \] (?! P[0-9A-Fa-f]{7} | R ) [^\x07\x1b\x9c]* \x1b?   # OSC without its end
  | [P_^X] [^\x1b\x9c]* \x1b?                           # DCS, APC, PM, SOS without ST
)""", re.VERBOSE)

#: A CSI the decoder reads: private marker, parameters (digits, ``;`` and
#: ``:``: sub-parameters are read in SGR only; intermediates make it
#: ignored), final byte.
CSI = re.compile(r"\x1b\[(?P<marker>[<=>?]?)(?P<params>[0-9;:]{0,%d})(?P<final>[@-~])" % MAX_PARAMS)
#: The C0 controls executed inside a CSI (the sequence goes on, as in xterm,
#: tmux and ECMA-48): BEL, BS, HT, CR.  A LF, VT or FF aborts it (so that no
#: token but a string holds a LF: see :func:`window_end`).
CSI_CONTROLS = re.compile(r"[\x07-\x09\x0d]")
#: Everything but those controls (what is left of a CSI too long to hold).
NOT_CSI_CONTROLS = re.compile(r"[^\x07-\x09\x0d]+")
#: An ESC sequence the decoder reads: intermediates and final byte.
ESC = re.compile(r"\x1b(?P<intermediates>[ -/]*)(?P<final>[0-~])")
#: One SGR (the only CSI a flood may hold).
SGR = re.compile(r"\x1b\[[0-9;]{0,%d}m" % MAX_PARAMS)
#: The parameters of each SGR (``findall``).
SGR_PARAMS = re.compile(r"\x1b\[(?P<params>[0-9;:]{0,%d})m" % MAX_PARAMS)
#: One SU or SD in a run of them.
SCROLL_ITEM = re.compile(r"\x1b\[(?P<count>[0-9]*)(?P<final>[ST])")
#: The count of each SU in a run (``findall``).
SU_COUNTS = re.compile(r"\x1b\[(?P<count>[0-9]*)S")
#: A run of DECALN (idempotent: one does the same).
DECALN_RUN = re.compile(r"(?:\x1b#8){2,}")
#: The strings (OSC, DCS, APC, PM, SOS): the only tokens that may hold a LF.
STRING_START = re.compile(r"\x1b[\]P_^X]")
#: Where an OSC body stops at the latest.
OSC_END = re.compile(r"[\x07\x1b\x9c]")
#: Where a DCS, APC, PM or SOS body stops at the latest.
DCS_END = re.compile(r"[\x1b\x9c]")
#: A CSI aborted by a control or an ESC: it does nothing.  (No possessive
#: quantifiers: Python 3.9.)
ABORTED_CSI = re.compile(r"\x1b\[[ -?]*(?=[^ -~\x07-\x09\x0d])")
#: An aborted CSI holding controls (BEL, BS, HT, CR): it does what they do.
ABORTED_CSI_CONTROLS = re.compile(r"\x1b\[[ -?]*[\x07-\x09\x0d][ -?\x07-\x09\x0d]*(?=[^ -~\x07-\x09\x0d])")
#: A cheap test for :data:`ABORTED_CSI` (one regex scan: ~0.5 ms/MB of text).
ABORTED_HINT = re.compile(r"\x1b\[[\x1b\r\n]")


# ------------------------------------------------------------ pure helpers
def csi_param(p: str) -> int:
    """One CSI parameter, clamped to :data:`MAX_PARAM_VALUE` without
    converting a huge number."""
    p = p.lstrip("0")
    return MAX_PARAM_VALUE if len(p) > 4 else int(p or 0)


def csi_params(params: str) -> Tuple[int, ...]:
    """A CSI's parameters (``"1;;5"`` -> ``(1, 0, 5)``; none is ``(0,)``)."""
    return tuple(map(csi_param, params.split(";"))) if params else (0,)


def sgr_colons(params: str) -> str:
    """SGR parameters with colon sub-parameters in their ``;`` form (what
    pyte reads): ``38:2::r:g:b``, ``38:2:r:g:b`` and ``38:5:n`` (``48`` too)
    are colours, ``4:n`` underline on or off; ``58`` (underline colour) and
    other sub-parameters are dropped.  "" when nothing is left (the SGR then
    does nothing: an empty SGR would reset)."""
    out = []
    for p in params.split(";"):
        if ":" not in p:
            out.append(p)
            continue
        sub = p.split(":")
        head = csi_param(sub[0])
        if head == 38 or head == 48:
            kind = csi_param(sub[1])
            if kind == 5 and len(sub) >= 3:
                out += [str(head), "5", sub[2]]
            elif kind == 2 and len(sub) >= 5:
                out += [str(head), "2"] + (sub[3:6] if len(sub) >= 6 else sub[2:5])
        elif head == 4:
            out.append("24" if csi_param(sub[1]) == 0 else "4")
        elif head != 58:
            out.append(sub[0])
    return ";".join(out)


def incomplete_tail(text: str) -> Tuple[int, str]:
    """Where an incomplete sequence at the end of ``text`` starts
    (``len(text)`` when there is none), and the sequence to hold for the next
    feed: shortened past :data:`HELD_LIMIT` to one with the same effect once
    completed."""
    n = len(text)
    i = text.rfind("\x1b", max(0, n - (1 << 20)))
    if i < 0:
        return n, ""
    if i == n - 1:
        j = text.rfind("\x1b", 0, i)   # a string's ST may be half there
        if j >= 0 and text[j + 1:j + 2] in ("]", "P", "_", "^", "X") and INCOMPLETE.fullmatch(text, j, n):
            i = j
    elif not INCOMPLETE.fullmatch(text, i, n):
        return n, ""
    held = text[i:]
    if len(held) > HELD_LIMIT:
        kind = held[1]
        esc = "\x1b" if held.endswith("\x1b") and len(held) > 2 else ""
        if kind == "]":
            held = held[:2 + TITLE_LIMIT + 2] + esc
        elif kind in "P_^X":
            held = held[:2] + esc
        elif kind == "[":
            held = "\x1b[<"           # too long: ignored however it ends
        else:
            held = held[:3]            # ESC with intermediates: ignored
    return i, held


def window_end(text: str, pos: int, n: int, window: int) -> int:
    """Where the window of ``text[pos:n]`` to emulate next ends: right after
    the first LF past ``pos + window``, so that a flood skip does not waste
    the tokenizing of what follows.  No token but a string (OSC, DCS...) holds
    a LF: the cut goes past where any string that starts in the window
    could end.  ``n`` when the rest is short or no such LF exists."""
    if n - pos <= window:
        return n
    cut = text.find("\n", pos + window, n) + 1
    scan = pos
    while 0 < cut < n:
        m = STRING_START.search(text, scan, cut)
        if m is None:
            return cut
        end = (OSC_END if m.group() == "\x1b]" else DCS_END).search(text, m.end(), n)
        if end is None:
            break
        scan = end.start()
        if cut <= end.end() + 1:
            cut = text.find("\n", end.end() + 1, n) + 1
    return n
