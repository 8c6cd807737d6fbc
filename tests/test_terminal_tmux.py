"""The terminal model shows what tmux 3.3a shows, on a recorded corpus.

pyte (the differential tests' reference) is wrong where tmux and xterm agree;
tests/data/tmux_corpus holds tmux's own ``capture-pane`` of byte streams
(real programs, one-sequence probes, resize/reflow cases), recorded by
scripts/record_tmux_corpus.py (its docstring says how to re-record).  tmux is
not needed here.

Every case is fed whole and split at random points, and compared row by row
(trailing blanks ignored: tmux trims them), with the cursor (tmux's column may
be ``cols`` at a pending wrap; the model reports ``cols - 1``), cursor
visibility, the alternate screen, the scrollback, and for some cases colours
and attributes.

Nothing is skipped: a case the model does not match yet is listed in
NOT_YET_MATCHING and asserted to still differ (fix the model, then remove the
entry); DELIBERATE names the aspects (screen, cursor, alternate, history,
attributes) of a case where we do not follow tmux on purpose: those must
still differ, the others must match.
"""
from __future__ import annotations

import difflib
import json
import random
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from cctui.terminal import TerminalModel
from helpers.feeds import split_at

CORPUS = Path(__file__).resolve().parent / "data" / "tmux_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.json"))

# case -> what the model shows today against tmux (fix the model, then remove
# the entry).
NOT_YET_MATCHING: Dict[str, str] = {}

# case -> (aspects, why): where we do not follow tmux on purpose, mostly where
# tmux differs from xterm.  Every other aspect of the case must match.
_REGION_HISTORY = ("tmux moves the top row of any scroll region into the history; xterm only when the "
                   "region starts at the top row, and the model does as xterm")
_REFLOW_BLANKS = ("when a narrower pane needs more rows, tmux pushes the top rows into the history and keeps "
                  "the blank rows under the cursor; the model drops those blank rows first (as when the pane "
                  "loses rows), so nothing on screen goes to the history while there is room")
DELIBERATE: Dict[str, Tuple[Tuple[str, ...], str]] = {
    "probe_bs_at_pending_wrap": (("screen",), "after a full row tmux's cursor is at column `cols`, so BS and CUB "
                                 "land one column further right than in xterm (cursor on the last column "
                                 "with a wrap flag), which the model follows"),
    "probe_decstbm_origin_homes": (("screen",), "in origin mode tmux homes DECSTBM to the screen's top-left; "
                                   "xterm and the model to the top margin"),
    "probe_invalid_utf8": (("screen", "cursor"), "tmux drops invalid UTF-8 bytes; the model draws U+FFFD for "
                           "them, as xterm does"),
    "probe_il_dl_outside_margins": (("screen",), "with the cursor outside the scroll region tmux 3.3a "
                                    "inserts/deletes lines over the whole screen below it; xterm (VT510) and "
                                    "the model ignore IL/DL there"),
    "probe_lf_at_margin": (("history",), _REGION_HISTORY),
    "probe_nel_at_bottom_margin": (("history",), _REGION_HISTORY),
    "probe_su_sd_margins": (("history",), _REGION_HISTORY),
    "probe_region_scroll_history": (("history",), _REGION_HISTORY),
    "reflow_narrow": (("screen", "cursor", "history"), _REFLOW_BLANKS),
    "reflow_cursor_on_wrapped_line": (("screen", "cursor", "history"), _REFLOW_BLANKS + "; tmux even puts "
                                      "the cursor at (0, 0) when its row went to the history"),
    "reflow_cursor_at_end": (("screen", "cursor", "history"), _REFLOW_BLANKS),
    "probe_zero_width": (("screen",), "tmux keeps ZWSP, VS16 and WJ in the cell before them; the model drops "
                         "these invisible characters (widths agree: the cursor matches)"),
    "python_unicode": (("screen",), "the ZWJ sequence as in probe_zwj"),
    "probe_zwj": (("screen", "cursor"), "tmux 3.3a joins the character after a ZWJ into the cell before it "
                  "(one 2-column cell for the emoji sequence); xterm and the model draw both characters"),
}

_ASPECTS = ("screen", "cursor", "alternate", "history", "attributes")
# Cell fields compared for cases recorded with attributes.
_ATTRS = ("fg", "bg", "bold", "italics", "underscore", "strikethrough", "reverse")


def load(name: str) -> Tuple[bytes, dict]:
    return (CORPUS / (name + ".bin")).read_bytes(), json.loads((CORPUS / (name + ".json")).read_text())


def run_model(data: bytes, case: dict, split_seed: Optional[str] = None) -> TerminalModel:
    """The case's steps on a model of its size; each feed whole or cut at random points."""
    rows, cols = case["size"]
    model = TerminalModel(rows, cols, on_reply=lambda b: None)
    rnd = random.Random(split_seed)
    for step in case["steps"]:
        if "resize" in step:
            model.resize(*step["resize"])
            continue
        start, end = step["feed"]
        part = data[start:end]
        pieces = [part] if split_seed is None else split_at(part, [rnd.randrange(1 << 20) for _ in range(8)])
        for piece in pieces:
            model.feed(piece)
            model.flush()  # emulate each piece on its own (feed() would coalesce)
    return model


def _nfc(rows: List[str]) -> List[str]:
    """Rows compared as text: trailing blanks off (tmux trims them), NFC (tmux
    keeps ``e`` + U+0301 as sent, the model composes; both draw one cell)."""
    return [unicodedata.normalize("NFC", r.rstrip()) for r in rows]


def _rows_diff(want: List[str], got: List[str]) -> List[str]:
    if want == got:
        return []
    lines = list(difflib.unified_diff(want, got, "tmux", "model", lineterm="", n=1))
    return ["%d rows tmux, %d rows model:" % (len(want), len(got))] + \
        ["    " + line for line in lines[:40]] + (["    ..."] if len(lines) > 40 else [])


def _cells(model: TerminalModel) -> List[list]:
    return [[c for c in model.line(y) if c.data != ""] for y in range(model.rows)]


def _attr_diff(model: TerminalModel, case: dict) -> List[str]:
    """tmux's ``capture-pane -e -N`` rows drawn on a fresh model of the same size
    give the cells tmux holds; compare their attributes with the model's.
    Each row carries on the attributes the row before ended with (tmux emits
    only changes), so the rows are drawn in order with no reset between.

    Blind spots: an SGR form the model ignores is ignored on both sides when
    tmux writes it back (``4:3``), and tmux's capture leaves out cells cleared
    with a background colour past a row's last written cell."""
    rows, cols = model.rows, model.cols
    ref = TerminalModel(rows, cols)
    for y, row in enumerate(case["screen_sgr"]):
        ref.feed(("\x1b[%d;1H" % (y + 1)).encode() + row.encode("utf-8", "surrogateescape"))
    out: List[str] = []
    for y, (want, got) in enumerate(zip(_cells(ref), _cells(model))):
        for x, (w, g) in enumerate(zip(want, got)):
            if w.data.strip() == "" and g.data.strip() == "" and w.bg == g.bg and w.reverse == g.reverse:
                continue  # blank cells: only the background shows
            wa = {a: getattr(w, a) for a in _ATTRS if getattr(w, a) != getattr(g, a)}
            ga = {a: getattr(g, a) for a in wa}
            if wa:
                out.append("row %d column %d %r: tmux %s, model %s" % (y, x, g.data, wa, ga))
                if len(out) >= 5:
                    return out + ["..."]
    return out


def differences(model: TerminalModel, case: dict) -> Dict[str, List[str]]:
    """What the model shows that tmux does not, by aspect (empty: they agree)."""
    cols = model.cols
    out: Dict[str, List[str]] = {}
    screen = _rows_diff(_nfc(case["screen"]), _nfc(model.display))
    if screen:
        out["screen"] = screen
    tx, ty = case["cursor"]
    want_cursor = (min(tx, cols - 1), ty, not case["cursor_visible"])
    if tuple(model.cursor) != want_cursor:
        out["cursor"] = ["(x, y, hidden): tmux %s, model %s" % (want_cursor, tuple(model.cursor))]
    if model.alternate_screen != case["alternate_screen"]:
        out["alternate"] = ["tmux %s, model %s" % (case["alternate_screen"], model.alternate_screen)]
    history = _rows_diff(_nfc(case["history"]), _nfc([model.history_text(i) for i in range(model.history_len)]))
    if history:
        out["history"] = history
    if "screen_sgr" in case:
        attrs = _attr_diff(model, case)
        if attrs:
            out["attributes"] = attrs
    return out


def _report(name: str, case: dict, diffs: Dict[str, List[str]]) -> str:
    lines = ["%s (%s):" % (name, case["description"])]
    for aspect, text in diffs.items():
        lines += ["  %s differs: %s" % (aspect, text[0])] + ["  " + t for t in text[1:]]
    return "\n".join(lines)


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
@pytest.mark.parametrize("name", [n for n in CASES if n not in NOT_YET_MATCHING])
def test_model_matches_tmux(name: str, split: bool) -> None:
    """Every aspect matches, except those a DELIBERATE entry names."""
    data, case = load(name)
    diffs = differences(run_model(data, case, name if split else None), case)
    for aspect in DELIBERATE.get(name, ((), ""))[0]:
        assert aspect in diffs, "%s: the model now follows tmux in %s: update DELIBERATE" % (name, aspect)
        del diffs[aspect]
    assert not diffs, _report(name, case, diffs)


def test_not_yet_matching_cases_still_differ() -> None:
    """Strict: when the model starts matching tmux, the entry must go.  (One
    test over the dict: a parametrized one would be skipped while it is empty.)"""
    for name in sorted(NOT_YET_MATCHING):
        data, case = load(name)
        diffs = differences(run_model(data, case), case)
        assert diffs, "%s now matches tmux: remove it from NOT_YET_MATCHING" % name
        # the difference does not depend on how the bytes were split
        assert differences(run_model(data, case, name), case) == diffs


def test_corpus_is_whole_and_small() -> None:
    """Every case has its bytes, its feeds cover them exactly, the tables name
    only recorded cases, and the corpus stays small enough for git."""
    assert len(CASES) >= 50
    total = 0
    for name in CASES:
        data, case = load(name)
        total += len(data) + (CORPUS / (name + ".json")).stat().st_size
        feeds = [s["feed"] for s in case["steps"] if "feed" in s]
        assert feeds[0][0] == 0 and feeds[-1][1] == len(data), name
        assert all(a[1] == b[0] for a, b in zip(feeds, feeds[1:])), name
        assert case["tmux"] == "tmux 3.3a", name
        final = ([s["resize"] for s in case["steps"] if "resize" in s] or [case["size"]])[-1]
        assert len(case["screen"]) == final[0], name
    assert set(NOT_YET_MATCHING) <= set(CASES) and set(DELIBERATE) <= set(CASES)
    assert not set(NOT_YET_MATCHING) & set(DELIBERATE)
    assert all(a in _ASPECTS for aspects, _ in DELIBERATE.values() for a in aspects)
    assert total < 1_000_000, total
