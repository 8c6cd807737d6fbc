"""Record tmux's view of terminal byte streams: the reference corpus that
tests/test_terminal_tmux.py compares :class:`cctui.terminal.TerminalModel` with.

pyte (the differential tests' reference) is wrong where tmux and xterm agree,
so this corpus is tmux 3.3a's ``capture-pane`` of exact byte streams: output
of real programs recorded through a pty, targeted probes of single control
sequences, and resize/reflow cases.

Each case is a list of steps (feed bytes, resize the pane).  For each case a
private tmux server (``tmux -L <unique>``, a generated config: status line
off, 10000 history lines, ``scroll-on-clear off`` as in xterm; not
``window-size manual``: set before the first session, it makes 3.3a's
server exit at once) runs one pane of the exact size whose only
program is ``sh -c 'stty raw -echo; cat part0; printf <title marker>; tmux
wait-for go0; cat part1; ...'``: nothing else prints, and ``-opost`` passes
every byte through unchanged.  The marker is a pane title (not screen
content; the model is never fed it): a ``pane-title-changed`` hook signals a
``wait-for`` channel once tmux has parsed it, so every byte before it has
been parsed too.  The hook signals once only: a second signal before anyone
waits would delete the channel, and a title change in the input itself
(``less`` pops the title stack) runs the hook again.

Then the recorder resizes (``resize-window``, which also makes the window
size manual) and captures ``capture-pane -p`` (rows, trailing blanks trimmed
by tmux), the history (``-S - -E -1``), the cursor and modes (``display
-p``), and for some cases the attributes (``capture-pane -e -N``: trailing
blanks kept, so their colours count).  The server is always killed.

Files: ``tests/data/tmux_corpus/NAME.bin`` (every fed byte, parts
concatenated) and ``NAME.json`` (steps with byte ranges, sizes, expected rows,
cursor, history, tmux version).

Re-record (needs tmux 3.3a, vim, less, man, top, git on PATH; runs programs
in a pty at TERM=xterm-256color, LC_ALL=C.UTF-8, a fixed size)::

    .venv/bin/python scripts/record_tmux_corpus.py            # every case
    .venv/bin/python scripts/record_tmux_corpus.py probe_nel  # some cases
    .venv/bin/python scripts/record_tmux_corpus.py --list

Probes and resize cases record the same bytes every time; so do the
programs here except ``top`` (times, processes).  Other hosts give other
``ls``/``dpkg``/``apt-cache`` output: re-record only the cases you change, then
check the test's NOT_YET_MATCHING/DELIBERATE entries still hold.  Interactive
programs get each key once the text it waits for has appeared and the
program has been quiet for QUIET seconds (a finished redraw sends no event).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "tmux_corpus"
TMUX_TIMEOUT = 20.0         # seconds for one tmux command or one wait-for
PROGRAM_TIMEOUT = 30.0      # seconds for one recorded program
MAX_PROGRAM_BYTES = 400_000  # a recorded program's output is cut here
QUIET = 0.3                 # seconds without output before a key is typed
GIT_COMMIT = "c1706f0"      # git log cases show history up to this commit only

Size = Tuple[int, int]  # (rows, cols)
Step = Union[bytes, Size]  # bytes to feed, or a resize to (rows, cols)


class Case:
    """One corpus entry: a pane size, then steps; ``attrs`` records colours too."""

    def __init__(self, name: str, doc: str, size: Size, steps: Callable[[], List[Step]],
                 attrs: bool = False) -> None:
        self.name, self.doc, self.size, self.steps, self.attrs = name, doc, size, steps, attrs


# ---------------------------------------------------------- real programs
def run_in_pty(cmd: str, size: Size, keys: Sequence[Tuple[bytes, bytes]] = (),
               cwd: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> Tuple[bytes, List[int]]:
    """Run ``sh -c cmd`` on a fresh pty of ``size``; returns everything it wrote
    and, for each key, the output offset at which it was sent.

    ``keys`` are (wait_for, send): once ``wait_for`` shows up in the output
    written since the previous key, ``send`` is typed.  Bounded in time and
    bytes; the program is killed at the end."""
    rows, cols = size
    full_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "xterm-256color", "LC_ALL": "C.UTF-8",
                "LANG": "C.UTF-8", "HOME": cwd or "/tmp", "COLUMNS": str(cols), "LINES": str(rows),
                "LESSHISTFILE": "-", "PAGER": "less", "MANPAGER": "less", "GIT_PAGER": "cat"}
    full_env.update(env or {})
    pid, fd = pty.fork()
    if pid == 0:  # child: set the size on its own terminal, then exec
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            if cwd:
                os.chdir(cwd)
            os.execve("/bin/sh", ["sh", "-c", cmd], full_env)
        finally:
            os._exit(127)
    out = bytearray()
    offsets: List[int] = []
    pending = list(keys)
    since = 0
    deadline = time.monotonic() + PROGRAM_TIMEOUT
    try:
        while time.monotonic() < deadline and len(out) < MAX_PROGRAM_BYTES:
            if pending and pending[0][0] in out[since:] and _quiet(fd, out):
                offsets.append(len(out))
                os.write(fd, pending[0][1])
                since = len(out)
                pending.pop(0)
                continue
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the program and its children are gone
                break
            if not chunk:
                break
            out += chunk
        if pending:
            raise RuntimeError("%r: never saw %r (output so far: %r)" % (cmd, pending[0][0], bytes(out[-300:])))
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return bytes(out[:MAX_PROGRAM_BYTES]), offsets


def _quiet(fd: int, out: bytearray) -> bool:
    """Read until the program has written nothing for QUIET seconds (a
    program that finished drawing sends no event); True when it went quiet."""
    while select.select([fd], [], [], QUIET)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return True
        if not chunk:
            return True
        out += chunk
        if len(out) >= MAX_PROGRAM_BYTES:
            return False
    return True


_SAMPLE_PY = "".join(
    "def function_%d(value, other=%d):\n    \"\"\"Docstring number %d.\"\"\"\n    return value * other + %d  # comment\n\n"
    % (i, i, i, i) for i in range(40))
_SAMPLE_TXT = "".join("line %03d: %s\n" % (i, "lorem ipsum dolor sit amet " * (1 + i % 4)) for i in range(200))


def _workdir() -> str:
    """A fresh directory with the sample files (its path never reaches the output)."""
    d = tempfile.mkdtemp(prefix="corpus-")
    Path(d, "sample.py").write_text(_SAMPLE_PY)
    Path(d, "sample.txt").write_text(_SAMPLE_TXT)
    return d


_PROGRAM_CACHE: Dict[str, Tuple[bytes, List[int]]] = {}


def program(key: str, cmd: str, size: Size, keys: Sequence[Tuple[bytes, bytes]] = (),
            env: Optional[Dict[str, str]] = None) -> Tuple[bytes, List[int]]:
    """``run_in_pty`` once per key (several cases cut the same recording)."""
    if key not in _PROGRAM_CACHE:
        workdir = _workdir()
        try:
            _PROGRAM_CACHE[key] = run_in_pty(cmd, size, keys, cwd=workdir, env=env)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return _PROGRAM_CACHE[key]


def _upto(key: str, cmd: str, size: Size, keys: Sequence[Tuple[bytes, bytes]], index: int) -> Callable[[], List[Step]]:
    """The recording cut where key ``index`` was sent (-1: all of it)."""
    def steps() -> List[Step]:
        data, offsets = program(key, cmd, size, keys)
        return [data if index < 0 else data[:offsets[index]]]
    return steps


def _whole(cmd: str, size: Size, env: Optional[Dict[str, str]] = None) -> Callable[[], List[Step]]:
    return lambda: [program(cmd, cmd, size, env=env)[0]]


_VIM = "vim --clean -i NONE sample.py"
_VIM_KEYS = [(b"function_1", b"Gofinal = function_1(2)  # \xe4\xb8\xad\xe6\x96\x87\x1b"), (b"\xe6\x96\x87", b"10Gdd"),
             (b"", b":set nu\r"), (b" 10 ", b":q!\r")]
_LESS = "less sample.txt"
_LESS_KEYS = [(b"line 010", b" "), (b"line 03", b"/ipsum dolor sit amet lorem\r"), (b"\x1b[", b"q")]
_MAN = "man ls"
_MAN_KEYS = [(b"NAME", b" "), (b"\x1b[", b"q")]
_UNICODE = ("python3 -c \"print('CJK 中文字 日本語 한국어|'); print('emoji 😀🚀👍🏽|'); "
            "print('combining e\\u0301 a\\u0308 n\\u0303|'); print('zwj 👩\\u200d💻 flag 🇩🇪|'); "
            "print('fullwidth ＡＢＣ half ｱｲｳ|'); print('box ┌─┐│└┘ ░▒▓█|'); "
            "print('中' * 45); print('x' + '日本' * 30)\"")
_GIT = "git -C %s log --graph --color=always --no-decorate --format='%%h %%s' -n 40 %s" % (
    shlex.quote(str(ROOT)), GIT_COMMIT)


def real_cases() -> List[Case]:
    std = (24, 80)
    return [
        Case("ls_color_1", "ls --color=always -1 /usr/bin | sed -n 1,200p: SGR colours, scrolling",
             std, _whole("ls --color=always -1 /usr/bin | sed -n 1,200p", std), attrs=True),
        Case("ls_color_columns", "ls --color=always -C /usr/share: tab-aligned columns",
             std, _whole("ls --color=always -C /usr/share", std)),
        Case("dpkg_wide_in_narrow", "dpkg -l | sed -n 1,60p written 160 wide, shown 80 wide: long lines wrap",
             std, _whole("dpkg -l | sed -n 1,60p", (24, 160), env={"COLUMNS": "160"})),
        Case("git_log_graph", "git log --graph --color of this repo: wrapping subjects",
             std, _whole(_GIT, std), attrs=True),
        Case("apt_cache_policy", "apt-cache policy tmux vim less",
             std, _whole("apt-cache policy tmux vim less", std)),
        Case("top_batch", "top -b -n 1 | sed -n 1,30p", std, _whole("top -b -n 1 | sed -n 1,30p", std)),
        Case("top_screen", "top -n 1 on a tty: one full-screen frame", std, _whole("top -n 1", std), attrs=True),
        Case("python_unicode", "python3 printing CJK, emoji, combining marks, ZWJ, flags",
             std, _whole(_UNICODE, std)),
        Case("vim_edit", "vim --clean: open, append a line with CJK, delete a line, :set nu",
             std, _upto("vim", _VIM, std, _VIM_KEYS, 3), attrs=True),
        Case("vim_quit", "vim --clean: the same, then :q! (back from the alternate screen)",
             std, _upto("vim", _VIM, std, _VIM_KEYS, -1)),
        Case("less_search", "less: page down, then a search (highlighted)",
             std, _upto("less", _LESS, std, _LESS_KEYS, 2), attrs=True),
        Case("less_quit", "less: the same, then q", std, _upto("less", _LESS, std, _LESS_KEYS, -1)),
        Case("man_page", "man ls through less, one page down", std, _upto("man", _MAN, std, _MAN_KEYS, 1),
             attrs=True),
        Case("small_vim", "vim --clean in a 8x30 pane", (8, 30),
             _upto("vim-small", _VIM, (8, 30), _VIM_KEYS, 3)),
    ]


# ---------------------------------------------------------------- probes
def _b(text: str) -> Callable[[], List[Step]]:
    return lambda: [text.encode()]


def _fill(rows: int, cols: int) -> str:
    """Distinct text on every row so a misplaced scroll shows."""
    return "\r\n".join(("r%02d" % y + "abcdefghijklmnopqrstuvwxyz" * 8)[:cols] for y in range(rows))


def probe_cases() -> List[Case]:
    s = (10, 30)
    fill = "\x1b[H" + _fill(10, 30)
    return [
        Case("probe_decstbm_homes", "CSI r (DECSTBM) moves the cursor home", s,
             _b(fill + "\x1b[4;8rX")),
        Case("probe_decstbm_origin_homes", "DECSTBM with origin mode homes to the margin's top", s,
             _b(fill + "\x1b[?6h\x1b[4;8rX\x1b[3;2HY")),
        Case("probe_decstbm_reset", "CSI r without parameters resets the margins and homes", s,
             _b(fill + "\x1b[4;8r\x1b[6;6H\x1b[rX")),
        Case("probe_nel", "NEL (ESC E) goes to column 0 of the next row", s,
             _b("abc\x1bEdef\x1bEghi")),
        Case("probe_nel_at_bottom_margin", "NEL at the bottom margin scrolls the region", s,
             _b(fill + "\x1b[2;5r\x1b[5;10HA\x1bEB")),
        Case("probe_lf_below_margin", "LF under the scroll region moves down to the last row, no scroll", s,
             _b(fill + "\x1b[2;5r\x1b[7;3HA\nB\nC\nD\nE\nF")),
        Case("probe_lf_at_margin", "LF at the bottom margin scrolls only the region", s,
             _b(fill + "\x1b[2;5r\x1b[5;3HA\nB\nC")),
        Case("probe_ri_at_top_margin", "RI (ESC M) at the top margin scrolls the region down", s,
             _b(fill + "\x1b[3;6r\x1b[3;4HA\x1bMB\x1bMC")),
        Case("probe_cup_outside_margin", "CUP and CUU/CUD are clamped at margins only inside", s,
             _b(fill + "\x1b[3;6r\x1b[8;1H\x1b[5AX\x1b[1;1H\x1b[20BY")),
        Case("probe_hpa", "HPA (CSI n `) sets the column", s,
             _b("abc\x1b[10`X\x1b[`Y\x1b[99`Z")),
        Case("probe_cht", "CHT (CSI n I) moves to the n-th next tab stop", s,
             _b("a\x1b[IX\x1b[2IY\x1b[9IZ")),
        Case("probe_cbt", "CBT (CSI n Z) moves back to previous tab stops", s,
             _b("\x1b[1;28Ha\x1b[ZX\x1b[2ZY\x1b[9ZZ")),
        Case("probe_tab_stops", "HTS, TBC 0 and TBC 3", s,
             _b("\x1b[1;5H\x1bH\x1b[1;1H\tA\t\x1b[gB\x1b[1;1H\x1b[3g\r\n\tC")),
        Case("probe_decsc_decrc", "ESC 7 / ESC 8 save and restore position and attributes", s,
             _b("\x1b[1;31m\x1b[3;5H\x1b7\x1b[0;32m\x1b[8;8HA\x1b8B"), attrs=True),
        Case("probe_scosc_scorc", "CSI s / CSI u save and restore the position", s,
             _b("\x1b[1;33m\x1b[3;5H\x1b[s\x1b[0m\x1b[8;8HA\x1b[uB"), attrs=True),
        Case("probe_decrc_without_save", "ESC 8 with nothing saved goes home with default attributes", s,
             _b("\x1b[1;31m\x1b[5;5HA\x1b8B"), attrs=True),
        Case("probe_decsc_origin", "DECSC saves origin mode; DECRC restores it", s,
             _b(fill + "\x1b[4;8r\x1b[?6h\x1b[2;3H\x1b7\x1b[?6l\x1b[1;1HA\x1b8B\x1b[1;1HC")),
        Case("probe_decsc_alt_1049", "DECSC on the main screen, DECRC on and after the 1049 alternate screen", s,
             _b("\x1b[3;5H\x1b7\x1b[?1049h\x1b[6;6HA\x1b8B\x1b[?1049lC")),
        Case("probe_decrc_in_alt", "DECRC on the alternate screen of a position saved on the main one", s,
             _b("\x1b[3;5H\x1b7\x1b[?1049h\x1b[6;6HA\x1b8B")),
        Case("probe_alt_47_cursor", "leaving the 47 alternate screen keeps the cursor where it is", s,
             _b("\x1b[3;5Hmain\x1b[?47h\x1b[6;6Halt\x1b[?47lX")),
        Case("probe_alt_screen_1049", "1049 saves the cursor, clears the alternate screen, restores", s,
             _b(fill + "\x1b[4;7H\x1b[?1049hALT\x1b[9;9HZ\x1b[?1049lX")),
        Case("probe_alt_screen_47", "47 switches screens without clearing or saving the cursor", s,
             _b("main\x1b[?47halt\x1b[?47lX\x1b[?47hY\x1b[?47l")),
        Case("probe_wide_last_column", "a wide character that does not fit in the last column wraps", s,
             _b("x" * 29 + "中A\r\n" + "y" * 28 + "中B\r\n" + "\x1b[?7l" + "z" * 29 + "中C")),
        Case("probe_wide_overwrite", "overwriting either half of a wide character blanks the other", s,
             _b("中文字\r\x1b[2CX\r\n中文字\r\x1b[1CY\r\n中文字\x1b[3D\x1b[1PZ\r\n中文字\r\x1b[1@")),
        Case("probe_unknown_intermediates", "unknown sequences with intermediates are consumed, not printed", s,
             _b("a\x1b[1\"qb\x1b[!pc\x1b[>1;2$pd\x1b[?1$pe\x1b[0 qf\x1b[2*xg\x1b[1'zh\x1b[>4;2mi\x1b[=5uj")),
        Case("probe_declrmm", "DECLRMM (CSI ? 69 h) with DECSLRM (CSI 5;20 s), then text", s,
             _b(fill + "\x1b[?69h\x1b[5;20s\x1b[3;3Hinside margins text long enough to wrap here"
                "\x1b[?69l\x1b[5;5HX")),
        Case("probe_sgr", "SGR: bold, italic, underline, blink, reverse, strike, 16/256/RGB colours, resets", s,
             _b("\x1b[1mB\x1b[22m \x1b[3mI\x1b[23m \x1b[4mU\x1b[24m \x1b[5mK\x1b[25m \x1b[7mR\x1b[27m "
                "\x1b[9mS\x1b[29m \x1b[31mr\x1b[92mg\x1b[44mb\x1b[103my\x1b[39;49m "
                "\x1b[38;5;208mo\x1b[48;5;17mn\x1b[38;2;10;20;30mt\x1b[48;2;200;100;50mu\x1b[0m "
                "\x1b[1;4;7;31;42mall\x1b[mnone\r\n\x1b[1;36mcyan"), attrs=True),
        Case("probe_sgr_colon", "SGR with colon sub-parameters (38:2::r:g:b, 38:5:n, 4:3)", s,
             _b("\x1b[38:2::10:20:30ma\x1b[0m \x1b[38:5:208mb\x1b[0m \x1b[4:3mc\x1b[0m \x1b[48:5:17md\x1b[0me"),
             attrs=True),
        Case("probe_rep", "REP (CSI n b) repeats the last character", s,
             _b("ab\x1b[5bc\r\n中\x1b[3b")),
        Case("probe_ech_dch_ich", "ECH, DCH, ICH", s,
             _b("0123456789\x1b[1;3H\x1b[2X\r\n0123456789\x1b[2;3H\x1b[2P\r\n0123456789\x1b[3;3H\x1b[2@")),
        Case("probe_il_dl_outside_margins", "IL/DL outside the scroll region do nothing", s,
             _b(fill + "\x1b[3;6r\x1b[8;1H\x1b[2L\x1b[1;1H\x1b[2M\x1b[4;1H\x1b[2L")),
        Case("probe_su_sd_margins", "SU/SD (CSI S / CSI T) scroll only the region", s,
             _b(fill + "\x1b[3;6r\x1b[2S\x1b[1T")),
        Case("probe_irm", "insert mode (CSI 4 h) shifts the row right", s,
             _b("0123456789\r\x1b[4hAB\x1b[4lC")),
        Case("probe_decawm_off", "autowrap off: the last column is overwritten", s,
             _b("\x1b[?7l" + "a" * 35 + "\x1b[?7h\r\n" + "b" * 35)),
        Case("probe_bs_at_pending_wrap", "BS and CUB from the pending-wrap position", s,
             _b("a" * 30 + "\x08X\r\n" + "b" * 30 + "\x1b[2DY\r\n" + "c" * 30 + "\rZ")),
        Case("probe_cr_lf_after_wrap", "CR LF after exactly a full row gives one row, not two", s,
             _b("a" * 30 + "\r\nb\r\n" + "c" * 60 + "\r\nd")),
        Case("probe_ed_el", "ED 0/1/2 and EL 0/1/2", s,
             _b(fill + "\x1b[3;10H\x1b[1K\x1b[4;10H\x1b[K\x1b[5;10H\x1b[2K\x1b[8;10H\x1b[J\x1b[2;10H\x1b[1J")),
        Case("probe_decaln", "DECALN (ESC # 8) fills the screen with E and homes", s,
             _b("abc\x1b#8X")),
        Case("probe_ris", "RIS (ESC c) clears everything", s,
             _b(fill + "\x1b[1;31m\x1b[3;6r\x1bcX")),
        Case("probe_vpa_origin", "VPA and CUP in origin mode are relative to the margins", s,
             _b(fill + "\x1b[4;8r\x1b[?6h\x1b[2dA\x1b[20dB\x1b[1;1HC")),
        Case("probe_region_scroll_history", "lines scrolled out of a partial region do not enter history", s,
             _b(fill + "\x1b[2;5r\x1b[5;1H" + "\n" * 6 + "\x1b[r\x1b[10;1H" + "\n" * 3 + "Z")),
        Case("probe_full_scroll_history", "lines scrolled off the full screen enter history", s,
             _b("\r\n".join("line %d" % i for i in range(25)))),
        Case("probe_ed3", "ED 3 clears the history", s,
             _b("\r\n".join("line %d" % i for i in range(25)) + "\x1b[3J")),
        Case("probe_ed2_history", "ED 2 does not push the screen into history (scroll-on-clear off)", s,
             _b("\r\n".join("line %d" % i for i in range(15)) + "\x1b[2J\x1b[HX")),
        Case("probe_controls_in_csi", "C0 controls inside a CSI sequence are executed", s,
             _b("abc\x1b[2\x08DX\r\n\x1b[1\r;5HY")),
        Case("probe_c1_8bit", "C1 controls sent as UTF-8 (U+009B CSI, U+0085 NEL) are not controls", s,
             lambda: [b"a\xc2\x9b2Cb\xc2\x85c"]),
        Case("probe_invalid_utf8", "invalid UTF-8 bytes", s,
             lambda: [b"a\xffb\xc3c\xe4\xb8d\xf0\x9f\x98e\xed\xa0\x80f"]),
        Case("probe_combining_at_start", "a combining mark at the start of a row, after a wrap, after a wide char", s,
             _b("\u0301a\r\n" + "x" * 30 + "\u0301y\r\n中\u0301z")),
        Case("probe_zero_width", "zero-width characters (ZWSP, soft hyphen, VS16, word joiner)", s,
             _b("a\u200bb\u00adc\u2764\ufe0fd\u2060e")),
        Case("probe_zwj", "a ZWJ between two characters and in an emoji sequence", s,
             _b("b\u200dc|\U0001F469\u200d\U0001F4BB|")),
        Case("probe_dec_graphics", "DEC special graphics (ESC ( 0) line drawing", s,
             _b("\x1b(0lqqk\r\nx  x\r\nmqqj\x1b(B done")),
        Case("probe_cursor_hidden", "DECTCEM hides the cursor", s, _b("ab\x1b[?25l")),
        Case("probe_osc_dcs_swallowed", "OSC, DCS, APC, PM, SOS strings are not drawn", s,
             _b("a\x1b]0;title\x07b\x1b]8;;http://x\x1b\\c\x1bPq#0\x1b\\d\x1b_apc\x1b\\e\x1b^pm\x1b\\f\x1bXsos\x1b\\g")),
        Case("probe_cursor_pending_wrap", "the cursor after a full last row (pending wrap)", s,
             _b("\x1b[10;1H" + "w" * 30)),
    ]


# ----------------------------------------------------------- resize/reflow
def _long_lines(n: int, width: int) -> str:
    return "\r\n".join(("L%d:" % i + "0123456789" * 20)[:width] for i in range(n))


def resize_cases() -> List[Case]:
    return [
        Case("resize_grow_pulls_history", "growing the pane brings scrollback rows back", (10, 30),
             lambda: ["\r\n".join("line %d" % i for i in range(30)).encode(), (20, 30)]),
        Case("resize_shrink_pushes_history", "shrinking the pane pushes top rows into history", (10, 30),
             lambda: ["\r\n".join("line %d" % i for i in range(8)).encode(), (4, 30)]),
        Case("resize_shrink_cursor_top", "shrinking with the cursor high drops blank rows below", (10, 30),
             lambda: [b"one\r\ntwo\x1b[1;1H", (4, 30)]),
        Case("reflow_narrow", "soft-wrapped long lines, then the pane narrows", (12, 40),
             lambda: [_long_lines(4, 70).encode(), (12, 25)]),
        Case("reflow_widen", "soft-wrapped lines in a narrow pane, then it widens", (12, 20),
             lambda: [_long_lines(4, 50).encode(), (12, 60)]),
        Case("reflow_narrow_then_widen", "narrow then widen back: the original lines return", (12, 40),
             lambda: [_long_lines(4, 70).encode(), (12, 25), (12, 40)]),
        Case("reflow_hard_newlines_kept", "lines that end exactly at the edge with CRLF are not joined", (8, 20),
             lambda: [("a" * 20 + "\r\n" + "b" * 20 + "\r\n" + "c" * 5).encode(), (8, 40)]),
        Case("reflow_cursor_on_wrapped_line", "the cursor in the middle of a soft-wrapped line follows it", (8, 30),
             lambda: [("x" * 70 + "\x1b[2;10H").encode(), (8, 50), (8, 20)]),
        Case("reflow_cursor_at_end", "the cursor after the text of a wrapped line, then more text", (8, 30),
             lambda: [("y" * 45).encode(), (8, 20), b"Z"]),
        Case("reflow_scrollback", "long lines scroll into history; widening rejoins them and pulls rows back",
             (6, 20), lambda: [_long_lines(10, 45).encode(), (6, 50)]),
        Case("reflow_scrollback_narrow", "narrowing re-wraps history rows too", (6, 40),
             lambda: [_long_lines(10, 35).encode(), (6, 15)]),
        Case("reflow_alt_screen_not_reflowed", "the alternate screen is cut, not reflowed; the main one is", (8, 30),
             lambda: [("m" * 50 + "\x1b[?1049h" + "a" * 50).encode(), (8, 15), b"\x1b[?1049l", (8, 30)]),
        Case("reflow_alt_screen_cut", "the alternate screen narrowed: rows are cut, not re-wrapped", (8, 30),
             lambda: [("m" * 50 + "\x1b[?1049h" + "a" * 50 + "\r\nshort").encode(), (8, 15)]),
        Case("reflow_wide_chars", "wrapped CJK text re-wraps on whole characters", (6, 11),
             lambda: [("中" * 16).encode(), (6, 8)]),
        Case("reflow_shrink_rows_and_cols", "both dimensions shrink at once", (10, 30),
             lambda: [_long_lines(6, 50).encode(), (5, 18)]),
    ]


def all_cases() -> List[Case]:
    return real_cases() + probe_cases() + resize_cases()


# ------------------------------------------------------------------ tmux
_CONF = """\
set -g status off
set -g history-limit 10000
set -g scroll-on-clear off
set -g default-terminal tmux-256color
set -g escape-time 0
"""


class Tmux:
    """A private tmux server for one case; always killed by :meth:`close`."""

    def __init__(self, tmp: str, tag: str) -> None:
        self.sock = "cctui-corpus-%d-%s" % (os.getpid(), tag)
        self.conf = os.path.join(tmp, "tmux.conf")
        # TMUX_TMPDIR: the socket lives (and goes) with the case's directory;
        # kill-server leaves the socket file behind.
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": tmp,
                    "SHELL": "/bin/sh", "TERM": "xterm-256color", "TMUX_TMPDIR": tmp}

    def argv(self, *args: str) -> List[str]:
        return ["tmux", "-u", "-L", self.sock, "-f", self.conf, *args]

    def __call__(self, *args: str) -> str:
        res = subprocess.run(self.argv(*args), env=self.env, capture_output=True, timeout=TMUX_TIMEOUT)
        if res.returncode != 0:
            raise RuntimeError("tmux %s: %s" % (" ".join(args), res.stderr.decode(errors="replace")))
        return res.stdout.decode("utf-8", errors="surrogateescape")

    def close(self) -> None:
        subprocess.run(self.argv("kill-server"), env=self.env, capture_output=True, timeout=TMUX_TIMEOUT)


def _rows(text: str) -> List[str]:
    """capture-pane's output: one row per line, each ended by a newline."""
    assert text.endswith("\n") or not text, text[-50:]
    return text.split("\n")[:-1]


def record(case: Case, tag: str, version: str) -> Tuple[bytes, dict]:
    steps = case.steps()
    parts = [s for s in steps if isinstance(s, bytes)]
    with tempfile.TemporaryDirectory(prefix="tmux-corpus-") as tmp:
        tmux = Tmux(tmp, tag)
        hooks = "".join(
            "set-hook -ag pane-title-changed \"if -F '#{&&:#{==:#{pane_title},CORPUS-DONE-%d},#{!=:#{@done%d},1}}'"
            " 'set -g @done%d 1; wait-for -S done%d'\"\n" % (i, i, i, i) for i in range(len(parts)))
        Path(tmux.conf).write_text(_CONF + hooks)
        script = ["stty raw -echo"]
        for i, part in enumerate(parts):
            path = os.path.join(tmp, "part%d" % i)
            Path(path).write_bytes(part)
            script.append("cat %s" % shlex.quote(path))
            script.append("printf '\\033]2;CORPUS-DONE-%d\\033\\\\'" % i)
            script.append(" ".join(shlex.quote(a) for a in tmux.argv("wait-for", "go%d" % i)))
        script.append("exec sleep 3600")
        rows, cols = case.size
        try:
            tmux("new-session", "-d", "-s", "corpus", "-x", str(cols), "-y", str(rows), "; ".join(script))
            pane = "corpus:0.0"
            fed, out_steps, size = 0, [], case.size
            part_no = 0
            for step in steps:
                if isinstance(step, bytes):
                    tmux("wait-for", "done%d" % part_no)
                    tmux("wait-for", "-S", "go%d" % part_no)
                    out_steps.append({"feed": [fed, fed + len(step)]})
                    fed += len(step)
                    part_no += 1
                else:
                    tmux("resize-window", "-t", "corpus", "-x", str(step[1]), "-y", str(step[0]))
                    out_steps.append({"resize": list(step)})
                    size = step
            info = tmux("display", "-p", "-t", pane, "#{cursor_x} #{cursor_y} #{cursor_flag} #{alternate_on} "
                        "#{history_size} #{pane_height} #{pane_width}").split()
            cx, cy, flag, alt, hsize, height, width = (int(v) for v in info)
            assert (height, width) == tuple(size), (case.name, height, width, size)
            screen = _rows(tmux("capture-pane", "-p", "-t", pane))
            history = _rows(tmux("capture-pane", "-p", "-t", pane, "-S", "-", "-E", "-1")) if hsize else []
            expected: dict = {
                "name": case.name, "description": case.doc, "size": list(case.size), "steps": out_steps,
                "tmux": version,
                "screen": screen, "cursor": [cx, cy], "cursor_visible": bool(flag),
                "alternate_screen": bool(alt), "history": history,
            }
            if case.attrs:
                expected["screen_sgr"] = _rows(tmux("capture-pane", "-p", "-e", "-N", "-t", pane))
        finally:
            tmux.close()
    data = b"".join(parts)
    assert len(screen) == size[0], (case.name, len(screen))
    assert len(history) == hsize, (case.name, len(history), hsize)
    return data, expected


def dump(expected: dict) -> str:
    """JSON with one key, step or row per line: diffs of a re-recording stay readable."""
    def value(v: object) -> str:
        if isinstance(v, list) and v and all(isinstance(x, (str, dict)) for x in v):
            return "[\n" + ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in v) + "\n ]"
        return json.dumps(v, ensure_ascii=False)
    return "{\n" + ",\n".join(" %s: %s" % (json.dumps(k), value(v)) for k, v in expected.items()) + "\n}\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="record only these cases (default: all)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.list:
        for c in cases:
            print("%-34s %s" % (c.name, c.doc))
        return 0
    known = {c.name for c in cases}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error("unknown case(s): %s" % ", ".join(unknown))
    version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=True).stdout.strip()
    if version != "tmux 3.3a":
        print("warning: recording with %s, the corpus was made with tmux 3.3a" % version, file=sys.stderr)
    CORPUS.mkdir(parents=True, exist_ok=True)
    for i, case in enumerate(cases):
        if args.names and case.name not in args.names:
            continue
        data, expected = record(case, str(i), version)
        (CORPUS / (case.name + ".bin")).write_bytes(data)
        (CORPUS / (case.name + ".json")).write_text(dump(expected))
        print("%-34s %7d bytes  %d history rows" % (case.name, len(data), len(expected["history"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
