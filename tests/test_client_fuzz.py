"""Bounded fuzzing of the attach client's checks of server payloads: whatever a server
sends as SCREEN, LAYOUT, META or a history/search REPLY, only ProtocolError comes out,
and what is accepted leaves a RemoteModel whose rows are exactly its width."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from guest_pty_agent.protocol import ProtocolError

from cctui.client import RemoteModel
from cctui.client.checks import (parse_history_reply, parse_layout, parse_meta, parse_search_reply)
from cctui.terminal import TerminalModel
from helpers.attach_fake import layout_payload, meta, screen_payload

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=300, deadline=timedelta(seconds=2),
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 40), 1 << 40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=30)


def _base_screen() -> Dict[str, Any]:
    model = TerminalModel(4, 12)
    model.feed("\x1b[1;32mok\x1b[0m 中 e\u0301\r\n\x1b[?1049h\x1b[?1000hx".encode())
    return screen_payload(model)


def _base_layout() -> Dict[str, Any]:
    return layout_payload({"%1": meta(), "%2": meta(vm="vm2")}, ["vm1", "vm2"])


def _history() -> Dict[str, Any]:
    return {"ok": True, "epoch": 0, "pushed": 10, "len": 10, "start": 0,
            "rows": [["abc", [0, ["red", "default", True, False, False, False, False, False]]]]}


def _search() -> Dict[str, Any]:
    return {"ok": True, "history_len": 3, "matches": [[0, 0, 2], [4, 1, 3]]}


def _paths(obj: Any, prefix: List[Any]) -> List[List[Any]]:
    """Every place inside ``obj`` a value could be swapped."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, prefix + [k]))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, prefix + [i]))
    return out


def _swap(obj: Any, path: List[Any], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {**obj, head: _swap(obj[head], rest, value)}
    copy = list(obj)
    copy[head] = _swap(copy[head], rest, value)
    return copy


def _only_protocol_errors(check: Callable[[Any], Any], payload: Any) -> Any:
    try:
        return check(payload)
    except ProtocolError:
        return None


def _mutated(base: Callable[[], Dict[str, Any]]) -> st.SearchStrategy[Any]:
    template = base()
    paths = _paths(template, [])
    return st.builds(lambda i, v: _swap(template, paths[i % len(paths)], v),
                     st.integers(0, 10_000), json_values)


@FUZZ
@given(st.one_of(json_values, _mutated(_base_screen)))
def test_screen_payloads_raise_only_protocol_error(payload: Any) -> None:
    remote = RemoteModel(3, 5)
    try:
        remote.apply(payload)
    except ProtocolError:
        return
    assert all(len(remote.line(y)) == remote.cols for y in range(remote.rows))
    assert 0 <= remote.cursor.x < remote.cols and 0 <= remote.cursor.y < remote.rows
    assert remote.history_len <= remote.pushed


@FUZZ
@given(st.one_of(json_values, _mutated(_base_layout)))
def test_layout_payloads_raise_only_protocol_error(payload: Any) -> None:
    frame = _only_protocol_errors(parse_layout, payload)
    if frame is not None:
        for window in frame.layout.windows:
            assert window.active is None or window.active in frame.panes


@FUZZ
@given(st.one_of(json_values, _mutated(meta)))
def test_meta_payloads_raise_only_protocol_error(payload: Any) -> None:
    _only_protocol_errors(parse_meta, payload)


@FUZZ
@given(st.one_of(json_values, _mutated(_history), _mutated(_search)))
def test_history_and_search_replies_raise_only_protocol_error(payload: Any) -> None:
    _only_protocol_errors(lambda p: parse_history_reply(p, 0, 200), payload)
    _only_protocol_errors(parse_search_reply, payload)


class _NullWriter:
    """Stands for the socket's writer: the dispatch under test sends nothing back."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _frame_payloads() -> st.SearchStrategy[bytes]:
    import json
    valid = [_base_screen(), _base_layout(), {"reason": "bye"}, {"ok": True}, {"error": "x"}]
    return st.one_of(st.binary(max_size=64),
                     st.sampled_from(valid).map(lambda o: json.dumps(o).encode()),
                     st.one_of(_mutated(_base_screen), _mutated(_base_layout), json_values)
                     .map(lambda o: json.dumps(o).encode()))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 16), st.integers(0, 3), _frame_payloads()), max_size=6))
def test_attachment_dispatch_of_any_frames_raises_only_protocol_error(
        frames: List[Any]) -> None:
    from cctui.client import Attachment
    att = Attachment("s", None, _NullWriter(), 5, 12)  # type: ignore[arg-type]
    lost: List[str] = []
    att.on_lost = lost.append
    for ftype, ident, payload in frames:
        try:
            att._dispatch(ftype, ident, payload)
        except ProtocolError:
            return
        if att.lost is not None:
            assert lost == [att.lost]
            return
    for pane in att.panes.values():
        while pane.pump(budget=0.0):
            pass
        assert all(len(pane.model.line(y)) == pane.model.cols for y in range(pane.model.rows))
