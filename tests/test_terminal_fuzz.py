"""Fuzz tier: structured hostile streams keep the terminal model's invariants.

Run with ``pytest -m fuzz``.  Generates CSI with random parameters,
intermediates and finals, OSC, DCS, ESC x, C0/C1, UTF-8 (wide, combining,
invalid) and random cuts across feed() calls, and checks: no exception, the
cursor in bounds, every row exactly ``cols`` cells, the title capped, the
same screen as one feed (split invariance), and bounded memory.
"""
from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cctui.terminal import TerminalModel
from cctui.terminal import sequences
from conftest import split_at

pytestmark = pytest.mark.fuzz

_PARAM = st.one_of(st.integers(0, 12), st.integers(0, 10**6), st.just(10**30)).map(str)
_CSI = st.builds(
    lambda prefix, params, inter, final: "\x1b[" + prefix + ";".join(params) + inter + final,
    st.sampled_from(["", "", "?", ">", "<", "="]),
    st.lists(st.one_of(_PARAM, st.just("")), max_size=5),
    st.sampled_from(["", "", " ", "$", "!", '"']),
    st.characters(min_codepoint=0x40, max_codepoint=0x7E),
)
_OSC = st.builds(
    lambda code, body, end: "\x1b]" + code + body + end,
    st.sampled_from(["0;", "2;", "1;", "52;c;", "P", "R", "8;;"]),
    st.text(max_size=400),
    st.sampled_from(["\x07", "\x1b\\", "\x9c", "", "\x1b"]),
)
_DCS = st.builds(lambda k, body, end: "\x1b" + k + body + end,
                 st.sampled_from("P_^X"), st.text(max_size=50), st.sampled_from(["\x1b\\", "\x9c", ""]))
_ESC = st.builds(lambda i, f: "\x1b" + i + f, st.sampled_from(["", "", "#", "(", "%", "  "]),
                 st.characters(min_codepoint=0x20, max_codepoint=0x7E))
_CTRL = st.characters(max_codepoint=0x1F).map(str) | st.characters(min_codepoint=0x7F, max_codepoint=0x9F).map(str)
_TEXT = st.sampled_from(["hello", "中文", "😀", "e\u0301\u0302\u0303\u0304", "\u0301", "x" * 130,
                         "\r\n", "\n", "\u200b", "\ufffd"]) | st.text(max_size=20)
_PIECE = st.one_of(_CSI, _OSC, _DCS, _ESC, _CTRL, _TEXT, _TEXT, _TEXT)


def _stream(pieces: list, junk: bytes) -> bytes:
    return "".join(pieces).encode("utf-8", "surrogatepass") + junk


_DATA = st.builds(_stream, st.lists(_PIECE, min_size=1, max_size=120), st.binary(max_size=64))
_SIZES = st.sampled_from([(40, 120), (5, 20), (1, 8), (3, 1)])


def _check(model: TerminalModel) -> None:
    rows, cols = model.rows, model.cols
    cur = model.cursor
    assert 0 <= cur.x < cols and 0 <= cur.y < rows
    for y in range(rows):
        assert len(model.line(y)) == cols
    for i in range(model.history_len):
        assert len(model.history_line(i)) == cols
    assert len(model.title) <= sequences.TITLE_LIMIT


def _state(model: TerminalModel) -> tuple:
    return (model.lines, model.cursor, model._screen.cursor.attrs, model.title,
            [model.history_line(i) for i in range(model.history_len)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DATA, st.lists(st.integers(0, 10**6), max_size=10), _SIZES)
def test_hostile_streams_keep_invariants_and_split_invariance(data: bytes, cuts: list, size: tuple) -> None:
    rows, cols = size
    whole = TerminalModel(rows, cols, on_reply=lambda b: None)
    whole.feed(data)
    _check(whole)
    split = TerminalModel(rows, cols, on_reply=lambda b: None)
    for piece in split_at(data, cuts):
        split.feed(piece)
        split.flush()
    _check(split)
    assert _state(split) == _state(whole)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECE, min_size=50, max_size=200))
def test_hostile_streams_repeated_keep_memory_bounded(pieces: list) -> None:
    unit = "".join(pieces).encode("utf-8", "surrogatepass")
    data = unit * max(1, 400_000 // max(1, len(unit)))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model = TerminalModel(40, 120, scrollback=10_000, on_reply=lambda b: None)
        for i in range(0, len(data), 65536):
            model.feed(data[i:i + 65536])
        _check(model)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert used < 48 << 20, used
