"""Checks of what a server sends: every field typed and bounded, ProtocolError otherwise.

A client may reach its server over SSH and a server may be another version or
buggy, so its frames are read like a guest's: nothing is trusted, nothing is
unbounded, and a bad field names itself in the error.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from guest_pty_agent.protocol import ProtocolError

from ..api.instance import InstanceState
from ..guest_text import LABEL_LIMIT, printable, printable_env
from ..server.layout import Node
from ..server.screen_codec import decode_layout, decode_row
from ..terminal.model import CursorState, Match
from ..terminal.pyte_compat import Char
from ..server.pane_process import PaneState

SIZE_LIMIT = 1000               # rows or columns of a pane
TEXT_LIMIT = 64 * 1024          # any string field (shown cut: printable() to its own limit)
COUNT_LIMIT = 1 << 53           # row counters (JSON's exact integers)
ENV_ENTRIES = 512
ENV_BYTES = 64 * 1024
WINDOWS_LIMIT = 1000
PANES_LIMIT = 4096
VMS_LIMIT = 1000
HISTORY_ROWS_LIMIT = 500        # rows in one history reply
MATCHES_LIMIT = 10_000
MOUSE_MODES = (0, 9, 1000, 1002, 1003)
PANE_ID = re.compile(r"%[0-9]{1,9}")
MODE_FLAGS = ("alternate_screen", "mouse_sgr", "mouse_utf8", "mouse_urxvt", "focus_events",
              "bracketed_paste", "app_cursor_keys", "app_keypad", "reverse_video")


# -- field readers ---------------------------------------------------------------------------
def obj_of(value: Any, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object")
    return value


def field(obj: Dict[str, Any], name: str, what: str) -> Any:
    if name not in obj:
        raise ProtocolError(f"{what}: field {name!r} is missing")
    return obj[name]


def int_in(value: Any, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolError(f"{what} must be an integer from {lo} to {hi}")
    return value


def opt_int(value: Any, lo: int, hi: int, what: str) -> Optional[int]:
    return None if value is None else int_in(value, lo, hi, what)


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{what} must be true or false")
    return value


def text(value: Any, what: str, limit: int = TEXT_LIMIT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{what} must be a string of at most {limit} characters")
    return value


def opt_number(value: Any, what: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not -1e12 < value < 1e12:
        raise ProtocolError(f"{what} must be a number or null")
    return max(0.0, float(value))       # a wall clock stepped back: no negative durations


def pane_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not PANE_ID.fullmatch(value):
        raise ProtocolError(f"{what} must be a pane id %N")
    return value


def wire_row(value: Any, what: str) -> Any:
    """A wire row, checked (decoded once and thrown away): stored compact, decoded on read."""
    try:
        decode_row(value, 0)
    except ProtocolError as exc:
        raise ProtocolError(f"{what}: {exc}") from None
    return value


def row_cells(value: Any, cols: int) -> List[Char]:
    return decode_row(value, cols)


# -- SCREEN ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Modes:
    alternate_screen: bool = False
    mouse_tracking: int = 0
    mouse_sgr: bool = False
    mouse_utf8: bool = False
    mouse_urxvt: bool = False
    focus_events: bool = False
    bracketed_paste: bool = False
    app_cursor_keys: bool = False
    app_keypad: bool = False
    reverse_video: bool = False


@dataclass
class ScreenUpdate:
    """One SCREEN payload, checked and decoded: ready to apply without another check."""
    rows: int
    cols: int
    full: bool
    lines: Dict[int, List[Char]]
    cursor: CursorState
    title: str
    modes: Modes
    history_len: int
    pushed: int
    epoch: int


def parse_modes(value: Any) -> Modes:
    obj = obj_of(value, "SCREEN modes")
    flags = {name: flag(field(obj, name, "SCREEN modes"), f"mode {name!r}") for name in MODE_FLAGS}
    mouse = field(obj, "mouse_tracking", "SCREEN modes")
    if isinstance(mouse, bool) or mouse not in MOUSE_MODES:
        raise ProtocolError(f"mode 'mouse_tracking' must be one of {MOUSE_MODES}")
    return Modes(mouse_tracking=mouse, **flags)


def parse_screen(value: Any) -> ScreenUpdate:
    obj = obj_of(value, "SCREEN")
    rows = int_in(field(obj, "rows", "SCREEN"), 1, SIZE_LIMIT, "SCREEN rows")
    cols = int_in(field(obj, "cols", "SCREEN"), 1, SIZE_LIMIT, "SCREEN cols")
    full = flag(field(obj, "full", "SCREEN"), "SCREEN full")
    raw_lines = field(obj, "lines", "SCREEN")
    if not isinstance(raw_lines, list) or len(raw_lines) > rows:
        raise ProtocolError(f"SCREEN lines must be a list of at most {rows} rows")
    lines: Dict[int, List[Char]] = {}
    for entry in raw_lines:
        if not isinstance(entry, list) or len(entry) != 2:
            raise ProtocolError("a SCREEN line must be [y, row]")
        y = int_in(entry[0], 0, rows - 1, "a SCREEN line's y")
        if y in lines:
            raise ProtocolError(f"SCREEN line {y} is sent twice")
        try:
            lines[y] = decode_row(entry[1], cols)
        except ProtocolError as exc:
            raise ProtocolError(f"SCREEN line {y}: {exc}") from None
    cursor = field(obj, "cursor", "SCREEN")
    if not isinstance(cursor, list) or len(cursor) != 3:
        raise ProtocolError("SCREEN cursor must be [x, y, hidden]")
    x = int_in(cursor[0], 0, cols, "SCREEN cursor x")      # x == cols: after the last column
    cy = int_in(cursor[1], 0, rows - 1, "SCREEN cursor y")
    hidden = flag(cursor[2], "SCREEN cursor hidden")
    title = printable(text(field(obj, "title", "SCREEN"), "SCREEN title"), 4096)
    modes = parse_modes(field(obj, "modes", "SCREEN"))
    history = obj_of(field(obj, "history", "SCREEN"), "SCREEN history")
    hlen = int_in(field(history, "len", "SCREEN history"), 0, COUNT_LIMIT, "SCREEN history len")
    pushed = int_in(field(history, "pushed", "SCREEN history"), hlen, COUNT_LIMIT, "SCREEN history pushed")
    epoch = int_in(field(history, "epoch", "SCREEN history"), 0, COUNT_LIMIT, "SCREEN history epoch")
    return ScreenUpdate(rows, cols, full, lines, CursorState(min(x, cols - 1), cy, hidden), title,
                        modes, hlen, pushed, epoch)


# -- REPLYs to history and search -----------------------------------------------------------
@dataclass
class HistoryChunk:
    epoch: int
    pushed: int
    length: int
    start: int
    rows: List[Any]         # checked wire rows, absolute numbers start, start + 1, ...


def parse_history_reply(value: Any, asked_start: int, asked_count: int) -> HistoryChunk:
    obj = obj_of(value, "history reply")
    epoch = int_in(field(obj, "epoch", "history reply"), 0, COUNT_LIMIT, "history epoch")
    length = int_in(field(obj, "len", "history reply"), 0, COUNT_LIMIT, "history len")
    pushed = int_in(field(obj, "pushed", "history reply"), length, COUNT_LIMIT, "history pushed")
    start = int_in(field(obj, "start", "history reply"), 0, COUNT_LIMIT, "history start")
    rows = field(obj, "rows", "history reply")
    if not isinstance(rows, list) or len(rows) > HISTORY_ROWS_LIMIT:
        raise ProtocolError(f"history rows must be a list of at most {HISTORY_ROWS_LIMIT} rows")
    if rows and not (asked_start <= start and start + len(rows) <= asked_start + asked_count):
        raise ProtocolError(f"history rows {start}..{start + len(rows)} are not the rows asked for "
                            f"({asked_start}..{asked_start + asked_count})")
    return HistoryChunk(epoch, pushed, length, start,
                        [wire_row(r, f"history row {start + i}") for i, r in enumerate(rows)])


def parse_search_reply(value: Any) -> List[Match]:
    obj = obj_of(value, "search reply")
    hlen = int_in(field(obj, "history_len", "search reply"), 0, COUNT_LIMIT, "search history_len")
    matches = field(obj, "matches", "search reply")
    if not isinstance(matches, list) or len(matches) > MATCHES_LIMIT:
        raise ProtocolError(f"search matches must be a list of at most {MATCHES_LIMIT}")
    out: List[Match] = []
    for m in matches:
        if not isinstance(m, list) or len(m) != 3:
            raise ProtocolError("a search match must be [row, start, end]")
        row = int_in(m[0], 0, hlen + SIZE_LIMIT, "a match's row")
        start = int_in(m[1], 0, SIZE_LIMIT, "a match's start")
        end = int_in(m[2], start + 1, SIZE_LIMIT + 1, "a match's end")
        out.append(Match(row, start, end))
    return out


# -- LAYOUT ----------------------------------------------------------------------------------
@dataclass
class PaneMeta:
    vm: str
    title: str
    guest_title: str
    state: PaneState
    exit_code: Optional[int]
    exit_signal: Optional[int]
    error: str
    cwd: str
    env: Dict[str, str]
    current_command: str
    fg_pid: Optional[int]
    running_label: str
    runs: int
    duration: Optional[float]
    ended_at: Optional[float]


def _env(value: Any) -> Dict[str, str]:
    obj = obj_of(value, "META env")
    if len(obj) > ENV_ENTRIES:
        raise ProtocolError(f"META env holds at most {ENV_ENTRIES} entries")
    total = 0
    for key, val in obj.items():
        if not isinstance(val, str):
            raise ProtocolError("META env values must be strings")
        total += len(key) + len(val)
        if total > ENV_BYTES:
            raise ProtocolError(f"META env holds at most {ENV_BYTES} characters")
    return printable_env(obj)


def _state(value: Any) -> PaneState:
    try:
        return PaneState(text(value, "META state", 32))
    except ValueError:
        raise ProtocolError(f"META state {str(value)[:32]!r} is not a pane state") from None


def parse_meta(value: Any) -> PaneMeta:
    obj = obj_of(value, "META")

    def get(name: str) -> Any:
        return field(obj, name, "META")

    def label(name: str, limit: int = LABEL_LIMIT) -> str:
        return printable(text(get(name), f"META {name}"), limit)

    return PaneMeta(
        vm=label("vm"), title=label("title"), guest_title=label("guest_title"),
        state=_state(get("state")),
        exit_code=opt_int(get("exit_code"), -(1 << 31), 1 << 31, "META exit_code"),
        exit_signal=opt_int(get("exit_signal"), 0, 1024, "META exit_signal"),
        error=label("error"), cwd=label("cwd", 4096), env=_env(get("env")),
        current_command=label("current_command", 32),
        fg_pid=opt_int(get("fg_pid"), 0, 1 << 31, "META fg_pid"),
        running_label=label("running_label"), runs=int_in(get("runs"), 0, COUNT_LIMIT, "META runs"),
        duration=opt_number(get("duration"), "META duration"),
        ended_at=opt_number(get("ended_at"), "META ended_at"))


@dataclass
class VmInfo:
    name: str
    image: str
    state: InstanceState
    detail: str
    error: Optional[str]


def parse_vm(value: Any) -> VmInfo:
    obj = obj_of(value, "a LAYOUT vm")
    state = text(field(obj, "state", "a LAYOUT vm"), "vm state", 32)
    try:
        vm_state = InstanceState(state)
    except ValueError:
        raise ProtocolError(f"vm state {state!r} is not an instance state") from None
    error = field(obj, "error", "a LAYOUT vm")
    return VmInfo(name=printable(text(field(obj, "name", "a LAYOUT vm"), "vm name"), LABEL_LIMIT),
                  image=printable(text(field(obj, "image", "a LAYOUT vm"), "vm image"), LABEL_LIMIT),
                  state=vm_state,
                  detail=printable(text(field(obj, "detail", "a LAYOUT vm"), "vm detail"), LABEL_LIMIT),
                  error=None if error is None else printable(text(error, "vm error"), LABEL_LIMIT))


@dataclass
class WindowState:
    index: int
    name: str
    active: Optional[str]
    root: Optional[Node]


@dataclass
class LayoutState:
    session: str
    current: int
    windows: List[WindowState]
    clients: int
    size_rule: str


@dataclass
class LayoutFrame:
    """A LAYOUT payload: the layout the app draws, plus the panes' and VMs' facts."""
    layout: LayoutState
    panes: Dict[str, PaneMeta]
    vms: List[VmInfo]


def _layout_panes(node: Optional[Node]) -> List[str]:
    out: List[str] = []
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, str):
            out.append(n)
        else:
            stack.extend(n.children)
    return out


def parse_layout(value: Any) -> LayoutFrame:
    obj = obj_of(value, "LAYOUT")
    session = printable(text(field(obj, "session", "LAYOUT"), "LAYOUT session", 256), 256)
    current = int_in(field(obj, "current", "LAYOUT"), 0, COUNT_LIMIT, "LAYOUT current")
    raw_panes = obj_of(field(obj, "panes", "LAYOUT"), "LAYOUT panes")
    if len(raw_panes) > PANES_LIMIT:
        raise ProtocolError(f"LAYOUT holds at most {PANES_LIMIT} panes")
    panes = {pane_id(k, "a LAYOUT pane key"): parse_meta(v) for k, v in raw_panes.items()}
    raw_windows = field(obj, "windows", "LAYOUT")
    if not isinstance(raw_windows, list) or len(raw_windows) > WINDOWS_LIMIT:
        raise ProtocolError(f"LAYOUT windows must be a list of at most {WINDOWS_LIMIT}")
    windows: List[WindowState] = []
    seen_index = set()
    placed = set()
    for w in raw_windows:
        wobj = obj_of(w, "a LAYOUT window")
        index = int_in(field(wobj, "index", "a LAYOUT window"), 0, COUNT_LIMIT, "window index")
        if index in seen_index:
            raise ProtocolError(f"LAYOUT window {index} is sent twice")
        seen_index.add(index)
        name = printable(text(field(wobj, "name", "a LAYOUT window"), "window name", 256), 256)
        active_raw = field(wobj, "active", "a LAYOUT window")
        active = None if active_raw is None else pane_id(active_raw, "window active")
        root = decode_layout(field(wobj, "layout", "a LAYOUT window"))
        ids = _layout_panes(root)
        for ident in ids:
            pane_id(ident, "a layout's pane")
            if ident not in panes:
                raise ProtocolError(f"window {index}'s layout names {ident}, which LAYOUT panes lacks")
            if ident in placed:
                raise ProtocolError(f"pane {ident} is in two windows")
            placed.add(ident)
        if active is not None and active not in ids:
            raise ProtocolError(f"window {index}'s active pane {active} is not in its layout")
        windows.append(WindowState(index, name, active, root))
    raw_vms = field(obj, "vms", "LAYOUT")
    if not isinstance(raw_vms, list) or len(raw_vms) > VMS_LIMIT:
        raise ProtocolError(f"LAYOUT vms must be a list of at most {VMS_LIMIT}")
    vms = [parse_vm(v) for v in raw_vms]
    if len({v.name for v in vms}) != len(vms):
        raise ProtocolError("LAYOUT names a vm twice")
    clients = int_in(field(obj, "clients", "LAYOUT"), 0, 1 << 20, "LAYOUT clients")
    size_rule = printable(text(field(obj, "size_rule", "LAYOUT"), "LAYOUT size_rule", 32), 32)
    return LayoutFrame(LayoutState(session, current, windows, clients, size_rule), panes, vms)


def parse_detached(value: Any) -> str:
    obj = obj_of(value, "DETACHED")
    return printable(text(field(obj, "reason", "DETACHED"), "DETACHED reason"), LABEL_LIMIT)
