"""Dispatch: what each token does, decided once per token string.

A token of :data:`~cctui.terminal.sequences.TOKEN` becomes an *op*, a tuple
whose first item is one of the ``OP_*`` codes below; the hot loop
(:mod:`cctui.terminal.hotloop`) runs it.  Which screen method runs a sequence
is read from named tables of method *names* (as pyte's ``Stream`` keeps
them), the CSI one sorted by final byte as tmux's ``input_csi_table`` is:
:data:`CSI_TABLE`, :data:`ESC_TABLE`, :data:`C0_TABLE`, :data:`OSC_TABLE`.
A sequence in no table does nothing.  :func:`check_handlers` makes sure, when
the emulator's module is imported, that the screen has a method for every
name; a :class:`Decoder` looks a method up once per distinct token.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, NamedTuple, Tuple

from .bounded import BoundedDict
from .sequences import CSI, CSI_CONTROLS, ESC, NOT_CSI_CONTROLS, csi_params

# ------------------------------------------------------------------ op codes
#: ``(OP_SGR, params)``: an SGR; the hot loop keeps the attributes itself.
OP_SGR = 0
#: ``(OP_CUP, y, x, args)``: CUP/HVP with at most two parameters; ``y``, ``x``
#: 0-based and not yet clamped; ``args`` for the method under DECOM.
OP_CUP = 1
#: ``(OP_LF, cr)``: LF, VT or FF (index at the bottom margin, CR under LNM);
#: CR LF when ``cr``.
OP_LF = 2
#: ``(OP_EL, how)``: EL 0, 1 or 2 with cached cells.
OP_EL = 3
#: ``(OP_CR,)``: carriage return.
OP_CR = 4
#: ``(OP_CALL, method, args, private)``: a CSI run by a screen method; an
#: exception pyte raises for parameters it cannot take ignores the sequence.
OP_CALL = 5
#: ``(OP_RUN, method, args, name)``: an ESC sequence, C0 control, OSC or run
#: of SU/SD run by the screen method ``name``.
OP_RUN = 6
#: ``(OP_NOP,)``: nothing (unknown, ignored, aborted, or a string swallowed).
OP_NOP = 7
#: ``(OP_REPLY, method, args, private[, times])``: a query: the answer reads
#: the state and changes nothing.  ``times``: the same query so many times in
#: a row (one token), answered as often.
OP_REPLY = 8

NOP = (OP_NOP,)


# ------------------------------------------------------------------ tables
def call_handler(op: Tuple[Any, ...]) -> None:
    """Run an OP_CALL/OP_REPLY op: ``op[1](*op[2])``, with ``private=True`` when
    ``op[3]`` says so.  Parameters pyte's method cannot take make the sequence
    do nothing (a guest chooses them), as xterm ignores a malformed sequence."""
    try:
        if op[3]:
            op[1](*op[2], private=True)
        else:
            op[1](*op[2])
    except (TypeError, AssertionError, ValueError, IndexError, KeyError):
        pass


class CsiEntry(NamedTuple):
    final: str      #: the final byte
    marker: str     #: the private marker: "" or "?" (the method gets ``private=True``) or ">"
    name: str       #: the screen method
    op: int         #: the op it decodes to: OP_CALL, or a fast path the hot loop runs itself


#: The CSI sequences the emulator runs, sorted by final byte, then marker.
#: Parameters are ``;``-separated numbers (:func:`~.sequences.csi_params`);
#: with intermediates, sub-parameters, the markers ``<`` and ``=`` or more
#: than :data:`~.sequences.MAX_PARAMS` characters of parameters a sequence
#: is ignored.
CSI_TABLE: Tuple[CsiEntry, ...] = (
    CsiEntry("@", "", "insert_characters", OP_CALL),            # ICH
    CsiEntry("A", "", "cursor_up", OP_CALL),                    # CUU
    CsiEntry("B", "", "cursor_down", OP_CALL),                  # CUD
    CsiEntry("C", "", "cursor_forward", OP_CALL),               # CUF
    CsiEntry("D", "", "cursor_back", OP_CALL),                  # CUB
    CsiEntry("E", "", "cursor_down1", OP_CALL),                 # CNL
    CsiEntry("F", "", "cursor_up1", OP_CALL),                   # CPL
    CsiEntry("G", "", "cursor_to_column", OP_CALL),             # CHA
    CsiEntry("H", "", "cursor_position", OP_CUP),               # CUP
    CsiEntry("J", "", "erase_in_display", OP_CALL),             # ED
    CsiEntry("J", "?", "erase_in_display", OP_CALL),            # DECSED
    CsiEntry("K", "", "erase_in_line", OP_EL),                  # EL
    CsiEntry("K", "?", "erase_in_line", OP_CALL),               # DECSEL
    CsiEntry("L", "", "insert_lines", OP_CALL),                 # IL
    CsiEntry("M", "", "delete_lines", OP_CALL),                 # DL
    CsiEntry("P", "", "delete_characters", OP_CALL),            # DCH
    CsiEntry("S", "", "scroll_up", OP_CALL),                    # SU
    CsiEntry("T", "", "scroll_down", OP_CALL),                  # SD
    CsiEntry("X", "", "erase_characters", OP_CALL),             # ECH
    CsiEntry("Z", "", "cursor_back_tab", OP_CALL),              # CBT
    CsiEntry("`", "", "cursor_to_column", OP_CALL),             # HPA
    CsiEntry("a", "", "cursor_forward", OP_CALL),               # HPR
    CsiEntry("b", "", "repeat_character", OP_CALL),             # REP
    CsiEntry("c", "", "report_device_attributes", OP_REPLY),    # DA
    CsiEntry("c", ">", "report_secondary_device_attributes", OP_REPLY),  # DA2
    CsiEntry("c", "?", "report_device_attributes", OP_REPLY),   # (answered by nothing)
    CsiEntry("d", "", "cursor_to_line", OP_CALL),               # VPA
    CsiEntry("e", "", "cursor_down", OP_CALL),                  # VPR
    CsiEntry("f", "", "cursor_position", OP_CUP),               # HVP
    CsiEntry("g", "", "clear_tab_stop", OP_CALL),               # TBC
    CsiEntry("h", "", "set_mode", OP_CALL),                     # SM
    CsiEntry("h", "?", "set_mode", OP_CALL),                    # DECSET
    CsiEntry("l", "", "reset_mode", OP_CALL),                   # RM
    CsiEntry("l", "?", "reset_mode", OP_CALL),                  # DECRST
    CsiEntry("m", "", "select_graphic_rendition", OP_SGR),      # SGR
    CsiEntry("n", "", "report_device_status", OP_REPLY),        # DSR
    CsiEntry("n", "?", "report_device_status", OP_REPLY),       # DECDSR (answered by nothing)
    CsiEntry("r", "", "set_margins", OP_CALL),                  # DECSTBM
    CsiEntry("s", "", "save_cursor_sco", OP_CALL),              # SCOSC (DECLRMM is never on)
    CsiEntry("u", "", "restore_cursor_sco", OP_CALL),           # SCORC
)


class EscEntry(NamedTuple):
    intermediates: str  #: the bytes 0x20-0x2f between ESC and the final byte
    final: str
    name: str           #: the screen method (called without arguments)


#: The ESC sequences the emulator runs, sorted by intermediates, then final byte.
#: (What each does to a flood that is skipped: ``flood.FLOOD_EFFECTS``, by name.)
ESC_TABLE: Tuple[EscEntry, ...] = (
    EscEntry("", "7", "save_cursor"),            # DECSC
    EscEntry("", "8", "restore_cursor"),         # DECRC
    EscEntry("", "=", "keypad_application"),     # DECKPAM
    EscEntry("", ">", "keypad_numeric"),         # DECKPNM
    EscEntry("", "D", "index"),                  # IND
    EscEntry("", "E", "next_line"),              # NEL
    EscEntry("", "H", "set_tab_stop"),           # HTS
    EscEntry("", "M", "reverse_index"),          # RI
    EscEntry("", "c", "reset"),                  # RIS
    EscEntry("#", "8", "alignment_display"),     # DECALN
)

#: C0 controls run by a screen method.  LF, VT and FF (:data:`OP_LF`) and CR
#: (:data:`OP_CR`) are the hot loop's own; BEL, CAN, SUB and ST do nothing;
#: every other C0 and C1 control is dropped before tokenizing
#: (:data:`~.sequences.IGNORED_CONTROLS`).
C0_TABLE: Tuple[Tuple[str, str], ...] = (
    ("\x08", "backspace"),                       # BS
    ("\t", "tab"),                               # HT
)

#: OSC numbers acted on (``OSC n ; text ST``): the screen method gets the text.
#: Every other string (OSC, DCS, APC, PM, SOS) is swallowed.
OSC_TABLE: Tuple[Tuple[str, str], ...] = (
    ("0", "set_title"),                          # icon name and title
    ("2", "set_title"),                          # title
)

#: The method that runs a run of SU/SD (one token: see ``TOKEN``).
SCROLL_RUN = "scroll_run"
#: The method that runs a CSI holding controls (``CSI 2 BS D``): it gets the
#: controls and the op of the sequence without them.
CONTROLS_IN_CSI = "controls_in_csi"


def _check_tables() -> None:
    tables: Dict[str, List[Any]] = {
        "CSI_TABLE": [(e.final, e.marker) for e in CSI_TABLE],
        "ESC_TABLE": [(e.intermediates, e.final) for e in ESC_TABLE],
        "C0_TABLE": [c for c, _ in C0_TABLE],
        "OSC_TABLE": [n for n, _ in OSC_TABLE],
    }
    for name, keys in tables.items():
        if keys != sorted(set(keys)):
            raise ValueError("dispatch.%s must be sorted, without duplicates" % name)


_check_tables()


def handler_names() -> FrozenSet[str]:
    """Every screen method the tables name."""
    return frozenset([e.name for e in CSI_TABLE] + [e.name for e in ESC_TABLE] + [n for _, n in C0_TABLE]
                     + [n for _, n in OSC_TABLE] + [SCROLL_RUN, CONTROLS_IN_CSI])


def check_handlers(screen_class: type) -> None:
    """Raise ``TypeError`` unless ``screen_class`` has a method for every name
    in the tables (pyte's ``Stream(strict=True)`` check, made at import)."""
    missing = sorted(n for n in handler_names() if not callable(getattr(screen_class, n, None)))
    if missing:
        raise TypeError("%s lacks the handlers %s" % (screen_class.__name__, ", ".join(missing)))


# ------------------------------------------------------------------ decoding
_CSI: Dict[Tuple[str, str], CsiEntry] = {(e.marker, e.final): e for e in CSI_TABLE}
_ESC: Dict[Tuple[str, str], str] = {(e.intermediates, e.final): e.name for e in ESC_TABLE}
_C0: Dict[str, str] = dict(C0_TABLE)
_OSC: Dict[str, str] = dict(OSC_TABLE)


class Decoder:
    """Token -> op for one screen.  ``cache`` holds the ops of tokens up to
    40 characters (the hot loop looks there first), so a method is looked up
    by name once per distinct token."""

    __slots__ = ("cache", "_screen")

    def __init__(self, screen: Any) -> None:
        self.cache: Dict[str, Tuple[Any, ...]] = BoundedDict(4096)
        self._screen = screen

    def op(self, seq: str) -> Tuple[Any, ...]:
        """What one token does (from the cache if there)."""
        return self.cache.get(seq) or self.decode(seq)

    def decode(self, seq: str) -> Tuple[Any, ...]:
        """What one token does (cached when short)."""
        op = self._decode(seq)
        if len(seq) <= 40:
            self.cache[seq] = op
        return op

    def _decode(self, seq: str) -> Tuple[Any, ...]:
        c = seq[0]
        if c != "\x1b":
            if c == "\n" or c == "\x0b" or c == "\x0c":
                return (OP_LF, False)    # VT and FF are line feeds (pyte's too)
            if c == "\r":
                return (OP_LF, True) if len(seq) == 2 else (OP_CR,)
            name = _C0.get(c)
            if name is None:
                return NOP  # BEL: nothing to ring; CAN, SUB, ST outside a string
            return (OP_RUN, getattr(self._screen, name), (), name)
        kind = seq[1:2]
        if kind == "[":
            if CSI_CONTROLS.search(seq, 2):
                # controls inside: run them, then the sequence without them
                controls = NOT_CSI_CONTROLS.sub("", seq[2:])
                rest = CSI_CONTROLS.sub("", seq)
                return (OP_RUN, getattr(self._screen, CONTROLS_IN_CSI), (controls, self._decode(rest)),
                        CONTROLS_IN_CSI)
            if seq[-1] in "ST" and "\x1b" in seq[2:]:
                return (OP_RUN, getattr(self._screen, SCROLL_RUN), (seq,), SCROLL_RUN)  # a run of SU/SD
            if seq[-1] == "n" and len(seq) > 4 and seq[4] == "\x1b":
                # the same query n times: one answer, repeated
                return self._decode(seq[:4]) + (len(seq) // 4,)
            m = CSI.fullmatch(seq)
            if m is None:
                return NOP  # aborted, intermediates, too long
            return self._decode_csi(*m.group("marker", "params", "final"))
        if kind == "]":
            if seq[-1] == "\x07" or seq[-1] == "\x9c":
                body = seq[2:-1]
            elif seq.endswith("\x1b\\"):
                body = seq[2:-2]
            else:
                return NOP       # palette (linux), or an aborted string
            number, sep, text = body.partition(";")
            name = _OSC.get(number) if sep else None
            return NOP if name is None else (OP_RUN, getattr(self._screen, name), (text,), name)
        if kind in "P_^X":
            return NOP           # DCS, APC, PM, SOS (or a lone ESC)
        m = ESC.fullmatch(seq)
        if m is None:
            return NOP           # aborted
        name = _ESC.get((m.group("intermediates"), m.group("final")))
        return NOP if name is None else (OP_RUN, getattr(self._screen, name), (), name)

    def _decode_csi(self, marker: str, params: str, final: str) -> Tuple[Any, ...]:
        entry = _CSI.get((marker, final))
        if entry is None:
            return NOP
        if marker == ">" and params not in ("", "0"):
            return NOP  # (kept as it was: DA2 answers "" and "0" only, tmux "00" too)
        op = entry.op
        if op == OP_SGR:
            return (OP_SGR, params)
        if ":" in params:
            return NOP  # sub-parameters: read in SGR only
        method = getattr(self._screen, entry.name)
        args = csi_params(params)
        private = marker == "?"
        if op == OP_REPLY:
            return (OP_REPLY, method, args, private)
        if op == OP_CUP and len(args) <= 2:
            y = args[0]
            x = args[1] if len(args) > 1 else 0
            return (OP_CUP, max(0, (y or 1) - 1), max(0, (x or 1) - 1), args)
        if op == OP_EL and len(args) == 1 and args[0] in (0, 1, 2):
            return (OP_EL, args[0])
        return (OP_CALL, method, args, private)
