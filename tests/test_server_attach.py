"""The attach protocol (wire version 2) against a real server on the local-agent image.

One server per module (image "local": the guest agent as a host process, allowed by
CCTUI_ALLOW_LOCAL_IMAGE=1), spoken to by a small client of our own: a socket, the
wire decoder, and a copy of each pane's screen rebuilt from SCREEN frames. Every
check compares with the server's own capture-pane or ls.
"""
from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import time
from functools import partial
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from hypothesis import given, settings, strategies as st

from cctui.server import wire
from cctui.server.attach import ATTACH_BUFFER
from cctui.server.screen_codec import decode_layout, decode_row
from cctui.server.target import Target
from cctui.server.wire import Frame, ProtocolError, validate_request
from guest_pty_agent import protocol as framing
from helpers.servers import spawned_server

TIMEOUT = 30.0


class PaneCopy:
    def __init__(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.lines: List[List[Any]] = [decode_row(["", []], cols) for _ in range(rows)]
        self.history: Dict[str, int] = {}
        self.cursor: List[Any] = [0, 0, False]

    def text(self) -> str:
        """As capture-pane prints a screen."""
        return "".join("".join(c[0] if c[0].isprintable() else " " for c in row if c[0] != "").rstrip(" ") + "\n"
                       for row in self.lines)


class Client:
    """A wire-protocol client that keeps what an attached TUI would."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.decoder = wire.decoder(framing.MAX_PAYLOAD)
        self.ids = iter(range(1, 1 << 30))
        self.screens: Dict[str, PaneCopy] = {}
        self.screen_frames: Dict[str, int] = {}
        self.layouts: List[Dict[str, Any]] = []
        self.detached: List[str] = []
        self.log: List[Tuple[int, int]] = []         # (type, ident) of attach frames, in order
        self.replies: Dict[int, Dict[str, Any]] = {}
        self.outputs: Dict[int, bytearray] = {}
        self.errors: List[str] = []
        self.eof = False
        self.send(wire.encode_json(Frame.HELLO, 0, {"version": wire.VERSION}))
        self.until(lambda: self.hello, "HELLO")

    hello = False

    def close(self) -> None:
        self.sock.close()

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def read(self, timeout: float) -> None:
        if self.eof or not select.select([self.sock], [], [], timeout)[0]:
            return
        data = self.sock.recv(1 << 20)
        if not data:
            self.eof = True
            return
        for ftype, ident, payload in self.decoder.feed(data):
            self.handle(ftype, ident, payload)

    def handle(self, ftype: int, ident: int, payload: bytes) -> None:
        if ftype == Frame.HELLO:
            self.hello = True
        elif ftype == Frame.REPLY:
            self.replies[ident] = wire.decode_json(payload)
        elif ftype == Frame.OUTPUT:
            self.outputs.setdefault(ident, bytearray()).extend(payload)
        elif ftype == Frame.ERROR:
            self.errors.append(wire.decode_json(payload)["error"])
        elif ftype == Frame.LAYOUT:
            self.log.append((ftype, ident))
            layout = wire.decode_json(payload)
            for window in layout["windows"]:
                decode_layout(window["layout"])
            self.layouts.append(layout)
        elif ftype == Frame.SCREEN:
            self.log.append((ftype, ident))
            self.apply(f"%{ident}", wire.decode_json(payload))
        elif ftype == Frame.DETACHED:
            self.log.append((ftype, ident))
            self.detached.append(wire.decode_json(payload)["reason"])

    def apply(self, pane: str, msg: Dict[str, Any]) -> None:
        copy = self.screens.get(pane)
        if msg["full"]:
            copy = self.screens[pane] = PaneCopy(msg["rows"], msg["cols"])
        assert copy is not None and (copy.rows, copy.cols) == (msg["rows"], msg["cols"]), \
            "a SCREEN of a new size must be full"
        for y, row in msg["lines"]:
            copy.lines[y] = decode_row(row, copy.cols)
        copy.history, copy.cursor = msg["history"], msg["cursor"]
        self.screen_frames[pane] = self.screen_frames.get(pane, 0) + 1

    def until(self, predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.eof:
                raise AssertionError(f"the server hung up while waiting for {what}: {self.errors}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            self.read(0.05)

    def request(self, op: str, **args: Any) -> Dict[str, Any]:
        ident = next(self.ids)
        self.send(wire.encode_json(Frame.REQUEST, ident, dict(args, op=op)))
        return self.until(lambda: self.replies.pop(ident, None), f"the reply to {op}")

    def ok(self, op: str, **args: Any) -> Dict[str, Any]:
        reply = self.request(op, **args)
        assert reply["ok"], reply
        return reply

    def capture(self, target: str, **args: Any) -> str:
        ident = next(self.ids)
        self.send(wire.encode_json(Frame.REQUEST, ident, dict(args, op="capture-pane", target=target)))
        reply = self.until(lambda: self.replies.pop(ident, None), "capture-pane")
        assert reply["ok"], reply
        return bytes(self.outputs.pop(ident, b"")).decode()

    def shows(self, pane: str, text: str) -> bool:
        return pane in self.screens and text in self.screens[pane].text()

    def sized(self, pane: str, rows: int, cols: int) -> bool:
        return pane in self.screens and (self.screens[pane].rows, self.screens[pane].cols) == (rows, cols)

    def layout(self) -> Dict[str, Any]:
        return self.layouts[-1]

    def settled_copy(self, pane: str) -> str:
        """Wait until this client's copy of ``pane`` equals the server's capture; return it."""
        last: List[str] = ["", ""]

        def same() -> bool:
            last[0] = self.capture(pane)
            last[1] = self.screens[pane].text() if pane in self.screens else ""
            return last[0] == last[1]
        try:
            self.until(same, f"{pane}'s copy to equal capture-pane")
        except AssertionError:
            raise AssertionError(f"copy:\n{last[1]}\ncapture:\n{last[0]}") from None
        return last[0]


def ls_panes(client: Client, session: str) -> Dict[str, Dict[str, Any]]:
    for entry in client.ok("ls")["sessions"]:
        if entry["name"] == session:
            return {p["id"]: p for w in entry["windows"] for p in w["panes"]}
    raise AssertionError(f"no session {session}")


@contextlib.contextmanager
def running_server() -> Iterator[Tuple[str, subprocess.Popen]]:
    """A server in its own socket directory, allowed the local image: its socket path."""
    with spawned_server("cctui-attach-") as server:
        yield server.socket_path, server.proc


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as (path, _):
        yield path


@pytest.fixture
def client(server: str) -> Iterator[Client]:
    c = Client(server)
    try:
        yield c
    finally:
        c.close()


def new_session(c: Client, name: str, script: str) -> str:
    """A session on the local image whose pane runs ``sh -c script``; its pane id."""
    c.ok("new", name=name, image="local", argv=["sh", "-c", script], rows=24, cols=80)
    (pane,) = ls_panes(c, name)
    return pane


LINES = ('printf "\\033[31mred\\033[0m plain\\n"; i=0; while [ $i -lt 50 ]; do echo line$i; i=$((i+1)); done; '
         'echo done; exec cat')


@pytest.fixture(scope="module")
def main_pane(server: str) -> str:
    c = Client(server)
    try:
        pane = new_session(c, "main", LINES)
        c.ok("wait-text", target=pane, text="done")
        return pane
    finally:
        c.close()


def attach(c: Client, session: str, rows: int = 24, cols: int = 80) -> Dict[str, Any]:
    c.screens.clear()
    c.layouts.clear()
    reply = c.ok("attach", target=session, rows=rows, cols=cols)
    c.until(lambda: c.layouts, "LAYOUT")
    panes = c.layout()["panes"]
    c.until(lambda: all(p in c.screens for p in panes), "a full SCREEN per pane")
    return reply


# -- attach, screens, input ------------------------------------------------------------------------
def test_attach_sends_layout_then_full_screens_equal_to_capture(client: Client, main_pane: str) -> None:
    assert attach(client, "main")["session"] == "main"
    assert client.log[0] == (Frame.LAYOUT, 0)
    layout = client.layout()
    assert layout["session"] == "main" and layout["size_rule"] == "smallest" and layout["clients"] == 1
    assert list(layout["panes"]) == [main_pane]
    assert layout["panes"][main_pane]["state"] == "running"
    assert layout["vms"][0]["name"] == "vm1" and layout["vms"][0]["state"] == "running"
    assert client.screens[main_pane].text() == client.capture(main_pane)
    assert "line49" in client.screens[main_pane].text()


def test_typing_echoes_as_screen_updates(client: Client, main_pane: str) -> None:
    attach(client, "main")
    before = client.screen_frames[main_pane]
    client.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"typed-words\r"))
    client.until(lambda: client.screens[main_pane].text().count("typed-words") >= 2,
                 "the echo and cat's copy of the typed line")
    assert client.screen_frames[main_pane] > before
    client.settled_copy(main_pane)


def test_output_made_while_detached_shows_on_the_next_attach(server: str, main_pane: str) -> None:
    a, b = Client(server), Client(server)
    try:
        attach(a, "main")
        a.ok("detach")
        a.until(lambda: a.detached, "DETACHED")
        assert a.detached == ["the client detached"]
        assert a.log[-1] == (Frame.DETACHED, 0)
        frames = a.screen_frames[main_pane]
        b.ok("send-keys", target=main_pane, keys=["while-detached", "Enter"])
        b.ok("wait-text", target=main_pane, text="while-detached")
        a.read(0.2)
        assert a.screen_frames[main_pane] == frames, "a detached client got a SCREEN"
        a.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"late-key"))    # racing the detach
        assert a.ok("ls")["sessions"], "the link stays usable after detach"
        assert not a.errors and "late-key" not in a.capture(main_pane)
        attach(a, "main")
        assert "while-detached" in a.screens[main_pane].text()
        a.settled_copy(main_pane)
    finally:
        a.close()
        b.close()


def test_two_clients_see_updates_and_the_pane_takes_the_smallest_size(server: str, main_pane: str) -> None:
    a, b = Client(server), Client(server)
    try:
        attach(a, "main")
        attach(b, "main")
        a.until(lambda: a.layout()["clients"] == 2, "LAYOUT with two clients")
        a.ok("pane-size", pane=main_pane, rows=20, cols=60)
        b.ok("pane-size", pane=main_pane, rows=15, cols=70)
        pane = ls_panes(a, "main")[main_pane]
        assert (pane["rows"], pane["cols"]) == (15, 60)
        for c in (a, b):
            c.until(partial(c.sized, main_pane, 15, 60), "a full SCREEN at the new size")
        a.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"both-see-this\r"))
        for c in (a, b):
            c.until(partial(c.shows, main_pane, "both-see-this"), "the typed line")
        assert a.settled_copy(main_pane) == b.settled_copy(main_pane)
        b.ok("detach")
        pane = ls_panes(a, "main")[main_pane]
        assert (pane["rows"], pane["cols"]) == (20, 60), "b's size still counted after it detached"
        a.until(lambda: a.layout()["clients"] == 1, "LAYOUT with one client")
        a.ok("pane-size", pane=main_pane, rows=24, cols=80)
    finally:
        a.close()
        b.close()
    c = Client(server)      # nobody attached: the pane keeps its last size
    try:
        pane = ls_panes(c, "main")[main_pane]
        assert (pane["rows"], pane["cols"]) == (24, 80)
    finally:
        c.close()


def test_a_client_that_stops_reading_is_skipped_with_bounded_memory(server: str) -> None:
    a, slow = Client(server), Client(server)
    try:
        pane = new_session(a, "flood", "yes 'flood flood flood flood flood flood flood flood'")
        attach(a, "flood")
        attach(slow, "flood")
        for c in (a, slow):             # a big pane: each round is many rows
            c.ok("pane-size", pane=pane, rows=200, cols=300)
        # slow stops reading here
        peak = 0
        stalled = False
        deadline = time.monotonic() + TIMEOUT
        frames_at_stall = 0
        while time.monotonic() < deadline:
            clients = [e for e in a.ok("ls")["clients"] if e["session"] == "flood"]
            peak = max([peak] + [e["unsent"] for e in clients])
            if any(e["stalls"] for e in clients) and not stalled:
                stalled, frames_at_stall = True, a.screen_frames[pane]
            if stalled and a.screen_frames[pane] > frames_at_stall + 20:
                break
            a.read(0.02)
        assert stalled, "the slow client never filled its buffer (the test proves nothing)"
        assert a.screen_frames[pane] > frames_at_stall + 20, "the reading client stopped getting updates"
        one_screen = 200 * 300 * 2 + 4096
        assert peak <= ATTACH_BUFFER + one_screen, f"{peak} bytes unsent for one client"
        a.ok("send-keys", target=pane, keys=["C-c"])
        a.until(lambda: a.layout()["panes"][pane]["state"] != "running", "the flood to end")
        slow.settled_copy(pane)         # it reads again: it gets the current screen
        assert "flood flood" in slow.screens[pane].text()
        a.ok("kill-session", target="flood")
        for c in (a, slow):
            c.until(partial(getattr, c, "detached"), "DETACHED")
            assert c.detached == ["session flood ended"]
    finally:
        a.close()
        slow.close()


def test_kill_server_detaches_attached_clients_first() -> None:
    with running_server() as (path, proc):
        c = Client(path)
        try:
            new_session(c, "only", "exec cat")
            attach(c, "only")
            c.ok("kill-server")
            c.until(lambda: c.eof, "the hang-up")
            assert c.detached == ["the server is exiting"]
            assert c.errors == ["the server is exiting"]
            assert proc.wait(30) == 0
        finally:
            c.close()


# -- history -------------------------------------------------------------------------------------
def test_history_rows_equal_capture_of_the_scrollback(client: Client, main_pane: str) -> None:
    attach(client, "main")
    meta = client.screens[main_pane].history
    assert meta["len"] > 20 and meta["pushed"] >= meta["len"]
    oldest = meta["pushed"] - meta["len"]
    reply = client.ok("history", pane=main_pane, start=0, count=500)
    assert reply["start"] == oldest and reply["epoch"] == meta["epoch"]
    length = reply["len"]
    captured = client.capture(main_pane, start=-length, end=-1).splitlines()
    assert len(reply["rows"]) == length == len(captured)
    cols = client.screens[main_pane].cols
    texts = ["".join(c[0] for c in decode_row(row, cols) if c[0] != "").rstrip(" ") for row in reply["rows"]]
    assert texts == captured
    red = texts.index("red plain")
    cells = decode_row(reply["rows"][red], cols)
    assert [c.fg for c in cells[:3]] == ["red"] * 3 and cells[4].fg == "default"
    assert "31mred" in client.capture(main_pane, start=red - length, end=red - length, escapes=True)
    part = client.ok("history", pane=main_pane, start=oldest + red, count=2)
    assert part["start"] == oldest + red and part["rows"] == reply["rows"][red:red + 2]
    beyond = client.ok("history", pane=main_pane, start=reply["pushed"], count=10)
    assert beyond["rows"] == []


def test_search_finds_rows_in_history_and_screen(client: Client, main_pane: str) -> None:
    reply = client.ok("search", pane=main_pane, text="LINE4", case=False)
    assert len(reply["matches"]) >= 10
    assert client.ok("search", pane=main_pane, text="LINE4", case=True)["matches"] == []


def test_a_clear_of_the_scrollback_starts_a_new_history_epoch(client: Client) -> None:
    pane = new_session(client, "epochs", 'seq 1 100; echo marker; read x; printf "\\033[3J"; echo cleared; exec cat')
    client.ok("wait-text", target=pane, text="marker")
    attach(client, "epochs")
    before = dict(client.screens[pane].history)
    assert before["len"] > 0 and before["pushed"] >= before["len"]
    client.send(wire.encode(Frame.INPUT, int(pane[1:]), b"\r"))
    client.until(lambda: "cleared" in client.screens[pane].text(), "the clear")
    after = client.screens[pane].history
    # the clear left at most the rows that scrolled since (the read's newline, "cleared")
    assert after["epoch"] != before["epoch"] and after["len"] <= 2 < before["len"]
    assert after["pushed"] == after["len"]
    reply = client.ok("history", pane=pane, start=0, count=10)
    assert reply["epoch"] == after["epoch"] and len(reply["rows"]) == after["len"]
    client.ok("kill-session", target="epochs")
    client.until(lambda: client.detached, "DETACHED")


# -- protocol errors ----------------------------------------------------------------------------------
def test_malformed_input_and_requests_disconnect_only_that_client(server: str, main_pane: str) -> None:
    good = Client(server)
    try:
        attach(good, "main")
        bad = Client(server)
        bad.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"x"))     # not attached
        bad.until(lambda: bad.eof, "the hang-up")
        assert "not attached" in bad.errors[0]
        bad.close()
        bad = Client(server)
        attach(bad, "main")
        bad.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"x" * (wire.DATA_CHUNK + 1)))
        bad.until(lambda: bad.eof, "the hang-up")
        assert "INPUT of" in bad.errors[0]
        bad.close()
        for args in ({"op": "history", "pane": "1", "start": 0, "count": 5},
                     {"op": "pane-size", "pane": main_pane, "rows": 0, "cols": 5},
                     {"op": "set-layout", "target": "main", "layout": [["split", "row", [0], [1]]]}):
            bad = Client(server)
            bad.send(wire.encode_json(Frame.REQUEST, 1, args))
            bad.until(partial(getattr, bad, "eof"), "the hang-up")
            assert bad.errors and "protocol error" in bad.errors[0]
            bad.close()
        good.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"still-served\r"))
        good.until(lambda: "still-served" in good.screens[main_pane].text(), "the typed line")
        good.send(wire.encode(Frame.INPUT, 999999, b"nowhere"))        # a gone pane: dropped
        assert good.ok("ls")["sessions"]
    finally:
        good.close()


# -- windows, panes, VMs ----------------------------------------------------------------------------
def test_window_pane_and_vm_ops_show_in_layout_and_ls(server: str, main_pane: str) -> None:
    c = Client(server)
    try:
        first = new_session(c, "ops", "echo one; exec cat")
        attach(c, "ops")
        # keys for a pane of another session are dropped: the marker typed after them
        # into that pane (same pty, in order) arrives alone
        c.send(wire.encode(Frame.INPUT, int(main_pane[1:]), b"other-session\r"))
        c.ok("ls")
        c.ok("send-keys", target=main_pane, keys=["after-other", "Enter"])
        c.ok("wait-text", target=main_pane, text="after-other")
        assert "other-session" not in c.capture(main_pane)
        win = c.ok("new-window", target="ops", argv=["sh", "-c", "echo short-lived"])
        second = win["id"]
        c.until(lambda: len(c.layout()["windows"]) == 2 and c.layout()["current"] == 1, "window 1")
        c.ok("rename-window", target="ops:1", name="builds")
        c.until(lambda: c.layout()["windows"][1]["name"] == "builds", "the new name")
        (ops,) = [s for s in c.ok("ls")["sessions"] if s["name"] == "ops"]
        assert ops["windows"][1]["name"] == "builds"
        c.ok("select-window", target="ops:0")
        c.until(lambda: c.layout()["current"] == 0, "window 0 current")
        split = c.ok("split-window", target="ops:0", horizontal=True, argv=["cat"])["id"]
        c.until(lambda: c.layout()["windows"][0]["active"] == split, "the new pane active")
        c.ok("select-pane", target=first)
        c.until(lambda: c.layout()["windows"][0]["active"] == first, "the first pane active")
        wide = [["split", "row", [1, 2], [3.0, 1.0]], ["pane", first], ["pane", split]]
        c.ok("set-layout", target="ops:0", layout=wide)
        c.until(lambda: c.layout()["windows"][0]["layout"] == wide, "the new weights")
        panes = ls_panes(c, "ops")
        assert panes[first]["cols"] > 2 * panes[split]["cols"]
        assert not c.request("set-layout", target="ops:0", layout=[["pane", first]])["ok"]
        c.until(lambda: c.layout()["panes"][second]["state"] == "exited", "the short command's end")
        assert c.layout()["panes"][second]["runs"] == 1
        c.ok("respawn-pane", target=second)
        c.until(lambda: c.layout()["panes"][second]["runs"] == 2, "the second run")
        c.ok("kill-window", target="ops:1")
        c.until(lambda: [w["index"] for w in c.layout()["windows"]] == [0], "window 1 gone")
        assert second not in ls_panes(c, "ops")
        vm = c.ok("new-vm", target="ops", image="local", argv=["cat"])
        assert vm["vm"] == "vm2"
        c.until(lambda: [v["state"] for v in c.layout()["vms"]] == ["running", "running"], "vm2 running")
        c.ok("kill-vm", target="ops", vm="vm2")
        c.until(lambda: c.layout()["vms"][1]["state"] == "stopped", "vm2 stopped")
        c.until(lambda: c.layout()["panes"][vm["id"]]["state"] == "failed", "vm2's pane failed")
        assert ls_panes(c, "ops")[vm["id"]]["state"] == "failed"
        c.ok("kill-session", target="ops")
        c.until(lambda: c.detached, "DETACHED")
    finally:
        c.close()


def test_pane_id_targets_for_send_keys_and_capture(client: Client, main_pane: str) -> None:
    client.ok("send-keys", target=main_pane, keys=["by-pane-id", "Enter"])
    client.ok("wait-text", target=main_pane, text="by-pane-id")
    assert "by-pane-id" in client.capture(main_pane)
    assert not client.request("capture-pane", target="%99999")["ok"]


def test_the_local_image_needs_its_environment_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from cctui.server.domain import Domain, DomainError
    monkeypatch.delenv("CCTUI_ALLOW_LOCAL_IMAGE", raising=False)
    with pytest.raises(DomainError, match="development backend"):
        Domain._check_image("local")


# -- validation -------------------------------------------------------------------------------------
def test_new_ops_validate_their_fields() -> None:
    assert validate_request({"op": "attach", "target": "%3"}).args["target"] == Target("", pane_id="%3")
    assert validate_request({"op": "history", "pane": "%1", "start": 5, "count": 500}).args["count"] == 500
    for bad in ({"op": "history", "pane": "%1", "start": -1, "count": 5},
                {"op": "history", "pane": "%1", "start": 0, "count": 501},
                {"op": "search", "pane": "%1", "text": ""},
                {"op": "rename-window", "target": "s", "name": "a\nb"},
                {"op": "pane-size", "pane": "%1234567890", "rows": 5, "cols": 5},
                {"op": "set-layout", "target": "s", "layout": []},
                {"op": "detach", "x": 1}):
        with pytest.raises(ProtocolError):
            validate_request(bad)


NEW_OPS = ["attach", "detach", "pane-size", "history", "search", "kill-window", "rename-window",
           "select-window", "select-pane", "respawn-pane", "set-layout", "new-vm", "kill-vm"]
NEW_FIELDS = ["target", "rows", "cols", "pane", "start", "count", "text", "case", "name", "layout", "vm",
              "image", "argv"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4), max_leaves=16)


@pytest.mark.fuzz
@settings(max_examples=400, deadline=None)
@given(st.sampled_from(NEW_OPS), st.dictionaries(st.sampled_from(NEW_FIELDS), JSON, max_size=5))
def test_new_op_validators_accept_or_raise_protocol_error(op: str, fields: Dict[str, Any]) -> None:
    try:
        req = validate_request(dict(fields, op=op))
    except ProtocolError:
        return
    assert req.op == op
    json.dumps({k: v for k, v in req.args.items() if k not in ("target", "layout")})


def test_a_screen_too_big_for_one_frame_is_split_first_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VM: a pane's model alone, encoded with a small frame limit."""
    import asyncio

    from cctui.server import attach as attach_module
    from cctui.server.domain import Pane
    pane = Pane("%7", None, asyncio.Event(), ["sh"], 24, 80)   # type: ignore[arg-type]
    pane.process.model.feed(b"".join(b"row %d \x1b[31mred\x1b[0m\r\n" % i for i in range(30)))
    monkeypatch.setattr(attach_module, "SCREEN_FRAME_LIMIT", 600)
    frames = list(attach_module.screen_frames(pane, None))
    assert len(frames) > 1
    copy: Optional[PaneCopy] = None
    decoder = wire.decoder(framing.MAX_PAYLOAD)
    for i, (frame, carried) in enumerate(frames):
        ((ftype, ident, payload),) = list(decoder.feed(frame))
        assert (ftype, ident) == (Frame.SCREEN, 7) and len(payload) <= 600 + 200
        msg = wire.decode_json(payload)
        assert msg["full"] is (i == 0) and [y for y, _ in msg["lines"]] == carried
        if copy is None:
            copy = PaneCopy(msg["rows"], msg["cols"])
        for y, row in msg["lines"]:
            copy.lines[y] = decode_row(row, copy.cols)
    assert copy is not None
    from cctui.server.capture import capture
    assert copy.text() == capture(pane.process.model)
    # nothing changed since: the next round carries no rows
    sent = (pane.generation, pane.version)
    ((_, carried),) = list(attach_module.screen_frames(pane, sent))
    assert carried == []


def test_keys_from_a_client_make_the_other_panes_yield(monkeypatch: pytest.MonkeyPatch) -> None:
    """INPUT (a person typing) gives its pane the CPU: every other pane of the server,
    in any session, shrinks its output window for a moment; send-keys (a script) does not."""
    import asyncio

    from cctui.server.domain import PUMP_FRAME, YIELD_PUMP, Domain
    from cctui.server.pane_process import OUTPUT_WINDOW, YIELD_WINDOW
    from cctui.server.target import Target
    monkeypatch.setenv("CCTUI_ALLOW_LOCAL_IMAGE", "1")

    async def scenario() -> None:
        domain = Domain(on_empty=lambda: None)
        try:
            first = await domain.new_session("a", "local", ["sh"], {}, 24, 80)
            other = await domain.new_session("b", "local", ["sh"], {}, 24, 80)
            _, _, typed = domain.resolve(Target("a"))
            _, _, flooding = domain.resolve(Target("b"))
            assert first is not other and flooding.process.window == OUTPUT_WINDOW
            typed.process.write(b"echo script\n")           # send-keys' path
            assert flooding.process.window == OUTPUT_WINDOW
            typed.process.type(b"echo person\n")            # INPUT's path
            assert flooding.process.window == YIELD_WINDOW and typed.process.window == OUTPUT_WINDOW
            # the yielding pane is pumped at most YIELD_PUMP apart, a released one a frame apart
            assert flooding._pump_interval() == YIELD_PUMP
            domain.typing_priority.discard(typed.process)
            assert flooding._pump_interval() == PUMP_FRAME
            for last_pump, deferred in ((0.0, False), (time.monotonic() + 1.0, True)):
                for _ in range(100):                    # a pump already due: let it run
                    if not flooding._pump_due:
                        break
                    await asyncio.sleep(0.01)
                flooding._last_pump = last_pump         # long ago (a quiet spell) / just now
                flooding._output()
                for _ in range(3):
                    await asyncio.sleep(0)              # loop turns, not time
                assert flooding._pump_due is deferred
        finally:
            await domain.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 60))
