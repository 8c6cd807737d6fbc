"""The attach client (cctui/client) against a test playing the server over a socketpair.

Screens come from real TerminalModels encoded with screen_codec, so a RemoteModel
must read exactly as the model it copies; hostile frames must end the attachment
through on_lost, never raise into the app.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import pytest

from guest_pty_agent import protocol as framing
from guest_pty_agent.protocol import ProtocolError

from cctui.api.instance import InstanceState
from cctui.client import Attachment, RemoteModel, RemotePane, RemoteVm
from cctui.client.checks import parse_screen
from cctui.client.history_cache import CHUNK
from cctui.server import wire
from cctui.server.screen_codec import encode_row
from cctui.server.client import RequestFailed, ServerGone
from cctui.terminal import TerminalModel
from cctui.server.pane_process import PaneState
from helpers.attach_fake import MODES, FakeServer, layout_payload, meta, screen_payload
from helpers.wait import until

SCENES = {
    "sgr": b"\x1b[1;31mred bold\x1b[0m plain \x1b[38;5;208mindexed\x1b[48;2;1;2;3m truecolor\x1b[0m\r\n"
           b"\x1b[4munder\x1b[24m \x1b[7mrev\x1b[27m \x1b[9mstrike\x1b[0m\r\n",
    "wide": "wide: 中文字 and e\u0301 combining, emoji 🙂 end\r\n".encode() + b"\x1b[2;4H\xe4\xb8\xad",
    "alternate": b"shell line\r\n\x1b[?1049h\x1b[2J\x1b[Hfull screen app\x1b[?1002h\x1b[?1006h"
                 b"\x1b[?2004h\x1b[?1h\x1b=\x1b[?1004h\x1b[?25l\x1b]2;my title\x07\x1b[5;3Hhere",
    "any-motion": b"\x1b[?1003h\x1b[?1005h\x1b[?1015h\x1b[?5hreverse video",
    "scrolled": b"".join(b"line %d\r\n" % i for i in range(40)) + b"\x1b[33mlast\x1b[0m",
}


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def model_of(data: bytes, rows: int = 8, cols: int = 30) -> TerminalModel:
    model = TerminalModel(rows, cols)
    model.feed(data)
    model.flush()
    return model


def assert_same(remote: RemoteModel, model: TerminalModel) -> None:
    assert (remote.rows, remote.cols) == (model.rows, model.cols)
    assert remote.lines == model.lines
    assert remote.display == model.display
    assert remote.cursor == model.cursor
    assert remote.title == model.title
    assert remote.history_len == model.history_len
    for name in MODES + ("cursor_hidden",):
        assert getattr(remote, name) == getattr(model, name), name


# -- RemoteModel ------------------------------------------------------------------------------
@pytest.mark.parametrize("scene", sorted(SCENES))
def test_remote_model_reads_as_the_terminal_model_it_copies(scene: str) -> None:
    model = model_of(SCENES[scene])
    remote = RemoteModel(3, 3)
    remote.apply(screen_payload(model))
    assert_same(remote, model)
    assert remote.dirty == set(range(model.rows))
    for y in range(model.rows):
        assert len(remote.line(y)) == model.cols


def test_scenes_set_the_modes_they_claim() -> None:
    """The scenes above are worth comparing: the modes differ from the defaults."""
    alt = model_of(SCENES["alternate"])
    assert alt.alternate_screen and alt.mouse_tracking == 1002 and alt.mouse_sgr and alt.bracketed_paste
    assert alt.app_cursor_keys and alt.app_keypad and alt.focus_events and alt.cursor_hidden
    assert alt.title == "my title"
    anym = model_of(SCENES["any-motion"])
    assert anym.mouse_tracking == 1003 and anym.mouse_utf8 and anym.mouse_urxvt and anym.reverse_video


def test_partial_updates_change_only_the_rows_sent() -> None:
    model = model_of(b"first\r\nsecond\r\nthird")
    remote = RemoteModel()
    remote.apply(screen_payload(model))
    remote.dirty.clear()
    model.dirty.clear()
    model.feed(b"\x1b[2;1H\x1b[32mSECOND\x1b[0m\x1b[5;10Hx")
    changed = set(model.dirty)
    assert changed == {1, 4}
    remote.apply(screen_payload(model, full=False, ys=changed))
    assert_same(remote, model)
    assert remote.dirty == changed


def test_a_new_size_redraws_every_row() -> None:
    model = model_of(SCENES["sgr"], rows=8, cols=30)
    remote = RemoteModel()
    remote.apply(screen_payload(model))
    remote.dirty.clear()
    model.resize(5, 12)
    remote.apply(screen_payload(model))
    assert_same(remote, model)
    assert remote.dirty == set(range(5))


def test_a_partial_update_at_a_new_size_keeps_rows_cut_to_it() -> None:
    model = model_of(b"abcdefghij\r\nklmnopqrst", rows=4, cols=10)
    remote = RemoteModel()
    remote.apply(screen_payload(model))
    model.resize(4, 5)
    payload = screen_payload(model, full=False, ys=[])
    remote.apply(payload)
    assert remote.cols == 5 and all(len(remote.line(y)) == 5 for y in range(4))
    assert remote.display[0] == "abcde"
    assert remote.dirty == set(range(4))


def test_search_covers_the_screen_and_cached_history() -> None:
    model = model_of(b"".join(b"row %d needle\r\n" % i for i in range(20)), rows=5, cols=20)
    remote = RemoteModel()
    remote.apply(screen_payload(model))
    screen_hits = [m for m in model.search("needle") if m.row >= model.history_len]
    assert remote.search("NEEDLE") == screen_hits
    assert remote.search("NEEDLE", case_sensitive=True) == []
    oldest = model.history_pushed - model.history_len
    asked: List[Tuple[int, int]] = []
    remote.fetch_history = lambda start, count: asked.append((start, count))
    remote.history_line(0)                       # asks for chunk 0
    assert asked == [(0, CHUNK)]
    reply = {"ok": True, "epoch": model.history_epoch, "pushed": model.history_pushed,
             "len": model.history_len, "start": oldest,
             "rows": [encode_row(model.history_line(i)) for i in range(model.history_len)]}
    remote.take_history(0, CHUNK, reply)
    assert remote.search("needle") == model.search("needle")


def _history_reply(model: TerminalModel, start: int, count: int, epoch: int) -> Dict[str, Any]:
    oldest = model.history_pushed - model.history_len
    first, end = max(start, oldest), min(start + count, model.history_pushed)
    return {"ok": True, "epoch": epoch, "pushed": model.history_pushed, "len": model.history_len,
            "start": first, "rows": [encode_row(model.history_line(a - oldest)) for a in range(first, end)]}


def test_a_reply_asked_before_an_epoch_change_is_dropped_and_the_new_request_counts() -> None:
    model = model_of(b"".join(b"old %d\r\n" % i for i in range(30)), rows=5, cols=20)
    remote = RemoteModel()
    asked: List[Tuple[int, int]] = []
    remote.fetch_history = lambda start, count: asked.append((start, count))
    remote.apply(screen_payload(model, epoch=0))
    remote.history_line(0)
    remote.apply(screen_payload(model, epoch=1))           # rows renumbered: the cache starts over
    remote.history_line(0)
    assert asked == [(0, CHUNK), (0, CHUNK)]
    assert remote.take_history(0, CHUNK, _history_reply(model, 0, CHUNK, 0), asked_epoch=0) is None
    assert remote.history_text(0) == "" and len(asked) == 2   # still waiting for the second: not asked again
    assert remote.take_history(0, CHUNK, _history_reply(model, 0, CHUNK, 1), asked_epoch=1) is not None
    assert [remote.history_text(i) for i in range(model.history_len)] == \
        [model.history_text(i) for i in range(model.history_len)]


def test_rows_evicted_from_the_cache_are_fetched_again_when_read() -> None:
    model = model_of(b"".join(b"r%d\r\n" % i for i in range(450)), rows=5, cols=20)
    remote = RemoteModel()
    remote.history.max_rows = CHUNK             # room for one chunk
    asked: List[Tuple[int, int]] = []
    remote.fetch_history = lambda start, count: asked.append((start, count))
    remote.apply(screen_payload(model))
    oldest = model.history_pushed - model.history_len
    remote.history_line(0)
    remote.take_history(*asked[-1], _history_reply(model, *asked[-1], model.history_epoch))
    remote.history_line(CHUNK * 2 - oldest)     # another chunk pushes the first one out
    remote.take_history(*asked[-1], _history_reply(model, *asked[-1], model.history_epoch))
    assert len(remote.history) <= CHUNK
    assert remote.history_text(0) == ""         # evicted: blank and asked for again
    assert asked[-1] == (oldest // CHUNK * CHUNK, CHUNK) and len(asked) == 3


# -- RemotePane without a server: queue, pump, meta -----------------------------------------
class RecordingLink:
    def __init__(self) -> None:
        self.inputs: List[Tuple[str, bytes]] = []
        self.requests: List[Tuple[str, Dict[str, Any]]] = []
        self.broken_reasons: List[str] = []

    async def request(self, op: str, **fields: Any) -> Dict[str, Any]:
        self.requests.append((op, fields))
        return {"ok": True}

    def start_request(self, op: str, **fields: Any) -> "asyncio.Future[Dict[str, Any]]":
        self.requests.append((op, fields))
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        future.set_result({"ok": True})
        return future

    def send_input(self, pane_id: str, data: bytes) -> None:
        self.inputs.append((pane_id, data))

    def broken(self, reason: str) -> None:
        self.broken_reasons.append(reason)


def test_pump_applies_queued_screens_in_order_and_a_full_one_drops_those_before() -> None:
    pane = RemotePane("%1", RecordingLink(), RemoteVm("vm1"))
    told: List[int] = []
    pane.on_output = lambda: told.append(1)
    model = TerminalModel(4, 10)
    for i in range(3):
        model.feed(b"x%d\r\n" % i)
        pane.queue_screen(parse_screen(screen_payload(model, full=False, ys=range(model.rows))))
    assert pane.has_pending and len(told) == 3
    model.feed(b"last")
    pane.queue_screen(parse_screen(screen_payload(model, full=True)))
    assert pane.pump() is False
    assert not pane.has_pending
    assert pane.model.updates == 1          # the three partials before the full one were dropped
    assert pane.model.display == model.display


def test_a_view_hooked_after_screens_came_is_told_of_them_at_once() -> None:
    pane = RemotePane("%1", RecordingLink(), RemoteVm("vm1"))
    told: List[int] = []
    pane.on_output = lambda: told.append(1)
    assert told == []                       # nothing queued: nothing to say
    pane.queue_screen(parse_screen(screen_payload(model_of(b"prompt$ "))))
    late: List[int] = []
    pane.on_output = lambda: late.append(1)
    assert late == [1]


def test_more_than_64_queued_screens_are_applied_without_waiting_for_pump() -> None:
    pane = RemotePane("%1", RecordingLink(), RemoteVm("vm1"))
    model = TerminalModel(4, 10)
    for i in range(100):
        model.dirty.clear()
        model.feed(b"%d\r\n" % i)
        pane.queue_screen(parse_screen(screen_payload(model, full=False, ys=set(model.dirty))))
    assert pane.model.updates == 100 - 64
    while pane.pump(budget=0.0):
        pass
    assert pane.model.updates == 100
    assert pane.model.display == model.display


def test_meta_sets_what_the_panels_read_and_says_when_it_changed() -> None:
    pane = RemotePane("%3", RecordingLink(), RemoteVm("vm1"))
    changes: List[RemotePane] = []
    pane.on_change = changes.append
    assert pane.apply_meta(meta(state="exited", exit_code=3, duration=2.5, ended_at=1700000000.0,
                                cwd="/tmp\x1b[31m", env={"A": "1"}))
    assert changes == [pane]
    assert pane.state is PaneState.EXITED and pane.exit_status == (3, None)
    assert pane.duration == 2.5 and pane.cmd is not None and pane.cmd.ended_at == 1700000000.0
    assert "\x1b" not in pane.cwd and pane.env == {"A": "1"}
    assert not pane.apply_meta(meta(state="exited", exit_code=3, duration=2.5, ended_at=1700000000.0,
                                    cwd="/tmp\x1b[31m", env={"A": "1"}))
    assert changes == [pane]
    pane.apply_meta(meta(state="running", duration=10.0))
    assert pane.duration is not None and pane.duration >= 10.0
    assert pane.exit_status is None
    pane.apply_meta(meta(state="exited", exit_signal=9))
    assert pane.exit_status == (None, 9)
    with pytest.raises(ProtocolError, match="state"):
        pane.apply_meta(meta(state="dancing"))


def test_type_and_write_go_to_the_link_and_a_gone_pane_sends_nothing() -> None:
    link = RecordingLink()
    pane = RemotePane("%7", link, RemoteVm("vm1"))
    pane.type(b"ls\r")
    assert pane.last_input > 0
    pane.write(b"\x1b[I")
    assert link.inputs == [("%7", b"ls\r"), ("%7", b"\x1b[I")]
    pane.close()
    pane.type(b"more")
    assert link.inputs == [("%7", b"ls\r"), ("%7", b"\x1b[I")]


# -- Attachment over a socketpair -----------------------------------------------------------
async def attached(layout: Dict[str, Any], screens: Dict[str, TerminalModel],
                   **callbacks: Any) -> Tuple[Attachment, FakeServer, Dict[str, Any]]:
    server, sock = await FakeServer.pair()
    opening = asyncio.ensure_future(Attachment.open("s", 24, 80, sock=sock, **callbacks))
    request = await server.accept_attach(layout, screens)
    att = await opening
    return att, server, request


def one_pane(model: Optional[TerminalModel] = None) -> Tuple[Dict[str, Any], Dict[str, TerminalModel]]:
    model = model or model_of(SCENES["sgr"])
    return layout_payload({"%1": meta()}, ["vm1"]), {"%1": model}


def test_attach_sends_hello_and_the_request_then_builds_panes_from_layout_and_screens() -> None:
    async def scenario() -> None:
        model = model_of(SCENES["wide"])
        layouts: List[Any] = []
        att, server, request = await attached(*one_pane(model), on_layout=layouts.append)
        assert request == {"op": "attach", "target": "s", "rows": 24, "cols": 80}
        assert att.server_pid == 1234 and att.session == "s"
        pane = await until(lambda: att.panes.get("%1"), 10, "pane %1")
        assert isinstance(pane, RemotePane) and pane.instance is att.vms["vm1"]
        assert layouts and layouts[-1].windows[0].root == "%1" and layouts[-1].windows[0].active == "%1"
        await until(lambda: pane.has_pending, 10, "the full SCREEN")
        pane.pump()
        assert_same(pane.model, model)
        await att.close()
        server.close()
    run(scenario())


def test_layout_creates_updates_and_removes_panes_and_vms() -> None:
    async def scenario() -> None:
        layouts: List[Any] = []
        att, server, _ = await attached(*one_pane(), on_layout=layouts.append)
        await until(lambda: layouts, 10, "the first LAYOUT")
        first = att.panes["%1"]
        server.send(wire.Frame.LAYOUT, 0, layout_payload(
            {"%1": meta(state="exited", exit_code=0), "%2": meta(vm="vm2", title="top")}, ["vm1", "vm2"]))
        await until(lambda: len(layouts) == 2, 10, "the second LAYOUT")
        assert att.panes["%1"] is first and first.state is PaneState.EXITED
        assert att.panes["%2"].instance is att.vms["vm2"] and att.panes["%2"].title == "top"
        root = layouts[-1].windows[0].root
        assert root.direction == "row" and root.children == ["%1", "%2"]
        server.send(wire.Frame.LAYOUT, 0, layout_payload({"%2": meta(vm="vm2")}, ["vm2"]))
        await until(lambda: len(layouts) == 3, 10, "the third LAYOUT")
        assert list(att.panes) == ["%2"] and list(att.vms) == ["vm2"]
        assert first.gone
        server.send(wire.Frame.LAYOUT, 0, dict(layout_payload({"%2": meta(vm="vm2")}, []),
                                                vms=[{"name": "vm2", "image": "alpine", "state": "booting",
                                                      "detail": "kernel", "error": None}]))
        await until(lambda: len(layouts) == 4, 10, "the fourth LAYOUT")
        vm = att.vms["vm2"]
        assert vm is att.panes["%2"].instance and vm.state is InstanceState.BOOTING
        assert vm.status_detail == "kernel" and vm.image == "alpine"
        await att.close()
        server.close()
    run(scenario())


def test_history_rows_are_fetched_once_per_chunk_and_match_the_server_model() -> None:
    async def scenario() -> None:
        model = model_of(b"".join(b"\x1b[3%dmhistory row %d \xe4\xb8\xad e\xcc\x81\x1b[0m\r\n" % (i % 8, i) for i in range(700)),
                         rows=6, cols=30)
        att, server, _ = await attached(*one_pane(model))
        pane = await until(lambda: att.panes.get("%1"), 10, "pane")
        await until(lambda: pane.has_pending, 10, "SCREEN")
        pane.pump()
        redraws: List[int] = []
        pane.model.on_history = lambda: redraws.append(1)
        hist = model.history_len
        assert pane.model.history_len == hist and hist > 2 * CHUNK
        last = hist - 1
        assert pane.model.history_text(last) == ""              # not here yet: blank, asked for
        pane.model.history_line(last - 1)                        # same chunk: no second request
        ident, req = await server.request("history")
        absolute = model.history_pushed - hist + last
        assert req["pane"] == "%1" and req["start"] == absolute // CHUNK * CHUNK and req["count"] == CHUNK
        oldest = model.history_pushed - hist
        start = max(req["start"], oldest)
        end = min(req["start"] + req["count"], model.history_pushed)
        server.reply(ident, epoch=model.history_epoch, pushed=model.history_pushed, len=hist, start=start,
                     rows=[encode_row(model.history_line(a - oldest)) for a in range(start, end)])
        await until(lambda: redraws, 10, "on_history")
        for i in range(start - oldest, end - oldest):
            assert pane.model.history_line(i) == model.history_line(i)
            assert pane.model.history_text(i) == model.history_text(i)
        assert not server.frames                                  # one request for the chunk
        # a new epoch: the cache is dropped, rows read blank and are asked for again
        server.send(wire.Frame.SCREEN, 1, screen_payload(model, epoch=model.history_epoch + 1))
        await until(lambda: pane.has_pending, 10, "SCREEN")
        pane.pump()
        assert len(pane.model.history) == 0
        assert pane.model.history_text(last) == ""
        _, again = await server.request("history")
        assert again["start"] == req["start"]
        await att.close()
        server.close()
    run(scenario())


def test_requests_get_their_replies_and_a_refusal_raises_with_the_servers_text() -> None:
    async def scenario() -> None:
        att, server, _ = await attached(*one_pane())

        async def answer() -> None:
            ident, req = await server.request("rename-window")
            server.send(wire.Frame.REPLY, ident, {"ok": False, "error": "no window 9"})
            ident, req = await server.request("select-window")
            server.reply(ident, extra=req["target"])
        answering = asyncio.ensure_future(answer())
        with pytest.raises(RequestFailed, match="no window 9"):
            await att.request("rename-window", target="s:9", name="x")
        assert (await att.request("select-window", target="s:0"))["extra"] == "s:0"
        await answering
        await att.close()
        server.close()
    run(scenario())


def test_typed_bytes_go_out_as_input_frames_of_at_most_a_chunk() -> None:
    async def scenario() -> None:
        att, server, _ = await attached(*one_pane())
        pane = await until(lambda: att.panes.get("%1"), 10, "pane")
        data = bytes(range(256)) * 600          # 150 KiB: three frames
        pane.type(data)
        got = b""
        while len(got) < len(data):
            ftype, ident, payload = await server.frame()
            assert ftype == wire.Frame.INPUT and ident == 1 and len(payload) <= wire.DATA_CHUNK
            got += payload
        assert got == data
        await att.close()
        server.close()
    run(scenario())


def test_resizes_are_coalesced_to_the_latest_with_one_request_in_flight() -> None:
    async def scenario() -> None:
        att, server, _ = await attached(*one_pane())
        pane = await until(lambda: att.panes.get("%1"), 10, "pane")
        pane.resize(10, 40)
        ident, first = await server.request("pane-size")
        for rows in range(11, 30):
            pane.resize(rows, 50)                  # while the first is unanswered
        server.reply(ident)
        ident, second = await server.request("pane-size")
        assert (first["rows"], first["cols"]) == (10, 40)
        assert (second["rows"], second["cols"]) == (29, 50)
        server.reply(ident)
        await until(lambda: not pane._sizing, 10, "the size loop to end")
        assert not server.frames
        pane.resize(29, 50)                        # the size already sent: nothing goes
        await asyncio.sleep(0)
        await att.close()
        server.close()
    run(scenario())


def test_remote_search_kill_and_rerun_are_requests() -> None:
    async def scenario() -> None:
        att, server, _ = await attached(*one_pane())
        pane = await until(lambda: att.panes.get("%1"), 10, "pane")

        async def answer() -> List[Dict[str, Any]]:
            seen = []
            ident, req = await server.request("search")
            seen.append(req)
            server.reply(ident, history_len=100, matches=[[3, 0, 4], [101, 2, 6]])
            for op in ("kill-pane", "respawn-pane"):
                ident, req = await server.request(op)
                seen.append(req)
                server.reply(ident)
            return seen
        answering = asyncio.ensure_future(answer())
        hits = await pane.search_remote("word", case_sensitive=True)
        assert [tuple(h) for h in hits] == [(3, 0, 4), (101, 2, 6)]
        pane.kill()
        await pane.rerun()
        seen = await answering
        assert seen == [{"op": "search", "pane": "%1", "text": "word", "case": True},
                        {"op": "kill-pane", "target": "%1"}, {"op": "respawn-pane", "target": "%1"}]
        await att.close()
        server.close()
    run(scenario())


def test_detached_is_reported_and_the_link_still_answers_requests() -> None:
    async def scenario() -> None:
        detached: List[str] = []
        lost: List[str] = []
        att, server, _ = await attached(*one_pane(), on_detached=detached.append, on_lost=lost.append)

        async def answer() -> None:
            ident, _ = await server.request("detach")
            server.reply(ident)
            server.send(wire.Frame.DETACHED, 0, {"reason": "the client detached"})
            ident, _ = await server.request("ls")
            server.reply(ident, sessions=[])
        answering = asyncio.ensure_future(answer())
        await att.detach()
        await until(lambda: detached, 10, "on_detached")
        assert detached == ["the client detached"] and att.detached == "the client detached"
        assert (await att.request("ls"))["sessions"] == []
        await answering
        assert not lost
        await att.close()
        server.close()
    run(scenario())


def test_a_server_that_hangs_up_is_reported_and_waiting_requests_fail() -> None:
    async def scenario() -> None:
        lost: List[str] = []
        att, server, _ = await attached(*one_pane(), on_lost=lost.append)
        waiting = asyncio.ensure_future(att.request("ls"))
        await server.request("ls")
        server.close()
        with pytest.raises(ServerGone, match="closed the connection"):
            await waiting
        assert len(lost) == 1 and "closed the connection" in lost[0]
        with pytest.raises(ServerGone):
            await att.request("ls")
        att.send_input("%1", b"dropped")          # no raise once gone
        await att.close()
    run(scenario())


def test_a_version_mismatch_fails_open_with_a_clear_error() -> None:
    async def scenario() -> None:
        server, sock = await FakeServer.pair()
        opening = asyncio.ensure_future(Attachment.open("s", 24, 80, sock=sock))
        await server.frame()
        server.send(wire.Frame.HELLO, 0, {"version": 1})
        with pytest.raises(ServerGone, match="protocol 1"):
            await opening
        server.close()
    run(scenario())


def _big_row_screen() -> Dict[str, Any]:
    payload = screen_payload(model_of(b"x"))
    payload["lines"] = [[0, ["y" * 5000, [0, ["default", "default"] + [False] * 6]]]]
    return payload


def _wrong(field: str, value: Any) -> Dict[str, Any]:
    payload = screen_payload(model_of(b"x"))
    payload[field] = value
    return payload


HOSTILE: Dict[str, Tuple[Callable[[FakeServer], None], str]] = {
    "bad json": (lambda s: s.send(wire.Frame.SCREEN, 1, b"{\"rows\": 3,,}"), "malformed JSON"),
    "unknown pane": (lambda s: s.send(wire.Frame.SCREEN, 99, screen_payload(model_of(b"x"))), "%99"),
    "huge row": (lambda s: s.send(wire.Frame.SCREEN, 1, _big_row_screen()), "at most 1000 cells"),
    "huge size": (lambda s: s.send(wire.Frame.SCREEN, 1, _wrong("rows", 5000)), "rows"),
    "cursor type": (lambda s: s.send(wire.Frame.SCREEN, 1, _wrong("cursor", "0,0")), "cursor"),
    "mode type": (lambda s: s.send(wire.Frame.SCREEN, 1, _wrong("modes", {"alternate_screen": 1})), "mode"),
    "history backwards": (lambda s: s.send(wire.Frame.SCREEN, 1, _wrong("history",
                                                                      {"len": 5, "pushed": 2, "epoch": 0})),
                          "pushed"),
    "oversized frame": (lambda s: s.writer.write(framing.HEADER.pack(5 << 20, wire.Frame.SCREEN, 1)),
                        "exceeds limit"),
    "unknown type": (lambda s: s.writer.write(framing.HEADER.pack(0, 99, 0)), "unknown frame type"),
    "stray reply": (lambda s: s.reply(777), "answers no request"),
    "hello again": (lambda s: s.send(wire.Frame.HELLO, 0, {"version": wire.VERSION}), "unexpected frame"),
    "layout missing pane": (lambda s: s.send(wire.Frame.LAYOUT, 0, dict(
        layout_payload({"%1": meta()}, ["vm1"]),
        windows=[{"index": 0, "name": "w", "active": None, "layout": [["pane", "%5"]]}])), "%5"),
    "layout deep json": (lambda s: s.send(wire.Frame.LAYOUT, 0, b"[" * 100 + b"]" * 100), "nested"),
    "meta env type": (lambda s: s.send(wire.Frame.LAYOUT, 0, layout_payload({"%1": meta(env=[1])}, ["vm1"])),
                      "env"),
    "server error": (lambda s: s.send(wire.Frame.ERROR, 0, {"error": "you broke it"}), "you broke it"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_frame_ends_the_attachment_with_a_reason_and_raises_nothing(case: str) -> None:
    send, why = HOSTILE[case]

    async def scenario() -> None:
        lost: List[str] = []
        att, server, _ = await attached(*one_pane(), on_lost=lost.append)
        waiting = asyncio.ensure_future(att.request("ls"))
        await server.request("ls")
        send(server)
        await server.writer.drain()
        await until(lambda: lost, 10, "on_lost")
        assert len(lost) == 1 and why in lost[0], lost
        assert att.lost == lost[0]
        with pytest.raises(ServerGone):
            await waiting
        await att.close()
        server.close()
    run(scenario())
