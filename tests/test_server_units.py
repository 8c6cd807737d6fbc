"""The server's parts that need no VM: targets, key names, request validation, capture, layout."""
from __future__ import annotations

import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from cctui.server import paths, wire
from cctui.server.capture import capture
from cctui.server.keynames import encode_keys, parse_key
from cctui.server.layout import SplitTree
from cctui.server.target import Target, TargetError, parse_target
from cctui.server.wire import (FRAME_TYPES, Frame, ProtocolError, decoder, encode, encode_json,
                               validate_hello, validate_request)
from cctui.terminal import TerminalModel


# -- targets ------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("s", Target("s")), ("s:1", Target("s", 1)), ("s:1.2", Target("s", 1, 2)),
    ("s:", Target("s")), ("s:.2", Target("s", None, 2)), ("0", Target("0")),
    ("my-session_2:10.3", Target("my-session_2", 10, 3)),
])
def test_targets_parse_as_tmux_spells_them(text: str, expected: Target) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text,why", [
    ("", "empty target"), (":1", "bad session name"), ("s:x", "the window must be a number"),
    ("s:1.", "must be followed by a pane index"), ("s:1.y", "the pane must be a number"),
    ("a b", "bad session name"), ("s:1:2", "the window must be a number"), ("x" * 65, "bad session name"),
    ("s:-1", "the window must be a number"),
])
def test_bad_targets_say_why(text: str, why: str) -> None:
    with pytest.raises(TargetError, match=why):
        parse_target(text)


# -- key names --------------------------------------------------------------------------------
@pytest.mark.parametrize("words,expected", [
    (["Enter"], b"\r"), (["C-c"], b"\x03"), (["^C"], b"\x03"), (["M-x"], b"\x1bx"), (["Up"], b"\x1b[A"),
    (["Down"], b"\x1b[B"), (["Left"], b"\x1b[D"), (["Right"], b"\x1b[C"), (["Home"], b"\x1b[H"),
    (["End"], b"\x1b[F"), (["PageUp"], b"\x1b[5~"), (["PPage"], b"\x1b[5~"), (["NPage"], b"\x1b[6~"),
    (["Tab"], b"\t"), (["BSpace"], b"\x7f"), (["Escape"], b"\x1b"), (["F1"], b"\x1bOP"),
    (["F12"], b"\x1b[24~"), (["S-Up"], b"\x1b[1;2A"), (["C-M-a"], b"\x1b\x01"), (["Space"], b" "),
    (["echo hi", "Enter"], b"echo hi\r"), (["enter"], b"\r"), (["BTab"], b"\x1b[Z"),
])
def test_tmux_key_names(words: list, expected: bytes) -> None:
    assert encode_keys(words) == expected


def test_literal_keys_are_text_and_cursor_keys_follow_the_mode() -> None:
    assert encode_keys(["Enter", "C-c"], literal=True) == b"EnterC-c"
    assert encode_keys(["Up"], app_cursor=True) == b"\x1bOA"
    assert parse_key("hello") is None and parse_key("C-") is None


# -- requests -----------------------------------------------------------------------------------
def test_valid_requests_get_defaults() -> None:
    req = validate_request({"op": "capture-pane", "target": "s:1.2"})
    assert req.args == {"target": Target("s", 1, 2), "start": None, "end": None, "escapes": False}
    req = validate_request({"op": "new", "name": "w", "argv": ["sh"]})
    assert req.args["image"] == "host" and req.args["argv"] == ["sh"] and req.args["rows"] == 24
    assert (req.args["net"], req.args["ports"], req.args["volumes"]) == ("off", [], [])
    req = validate_request({"op": "new", "net": "restrict", "ports": ["8080:80", "0.0.0.0:53:53/udp"],
                            "volumes": ["/srv:/srv:ro", "/tmp:/work"]})
    assert req.args["net"] == "restrict" and req.args["volumes"] == ["/srv:/srv:ro", "/tmp:/work"]
    assert req.args["ports"] == ["127.0.0.1:8080:80/tcp", "0.0.0.0:53:53/udp"]   # normalized


def test_cctui_new_takes_docker_flags_and_sends_them_resolved(tmp_path, monkeypatch) -> None:
    """`cctui new -d --net -p .. -v rel:/x`: the request carries the net mode, normalized ports
    and the volume's absolute host path (the server runs in /); bad values stop it first."""
    from cctui.cli import _parser
    from cctui.server import commands
    sent: list = []

    class Conn:
        def __enter__(self): return self
        def __exit__(self, *exc): return False
        def request(self, op, **fields):
            sent.append((op, fields))
            return {"ok": True}

    monkeypatch.setattr(commands, "connect", lambda start=False, ssh=None: Conn())
    (tmp_path / "share").mkdir()
    monkeypatch.chdir(tmp_path)
    args = _parser().parse_args(["new", "-d", "--net", "-p", "8080:80", "-v", "share:/x:ro",
                                 "--", "sh"])
    assert commands.run(args) == 0
    op, fields = sent[0]
    assert (op, fields["net"], fields["ports"], fields["argv"]) == (
        "new", "on", ["127.0.0.1:8080:80/tcp"], ["sh"])
    assert fields["volumes"] == [f"{os.path.realpath(tmp_path / 'share')}:/x:ro"]
    validate_request({"op": op, **fields})              # what the client sends, the server takes
    args = _parser().parse_args(["new", "-d", "--net=restrict", "-v", "missing:/x"])
    assert commands.run(args) == 1 and len(sent) == 1   # refused before any server is asked


@pytest.mark.parametrize("obj,why", [
    ([], "must be a JSON object"), ({"op": "rm -rf"}, "unknown request op"), ({}, "unknown request op"),
    ({"op": "ls", "x": 1}, "unknown field 'x'"), ({"op": "send-keys", "target": "s"}, "'keys' is required"),
    ({"op": "send-keys", "target": "s", "keys": "Enter"}, "'keys' must be a list"),
    ({"op": "send-keys", "target": "s", "keys": [1]}, "'keys' must be a list"),
    ({"op": "send-keys", "target": "s", "keys": ["x" * 5000]}, "'keys' must be a list"),
    ({"op": "send-keys", "target": "s", "keys": [], "literal": 1}, "true or false"),
    ({"op": "capture-pane", "target": "s", "start": True}, "'start' must be an integer"),
    ({"op": "capture-pane", "target": "s", "start": 1.5}, "'start' must be an integer"),
    ({"op": "capture-pane", "target": "s:x"}, "the window must be a number"),
    ({"op": "exec", "target": "s", "argv": []}, "'argv' must be a list of 1-"),
    ({"op": "new", "rows": 100000}, "'rows' must be an integer"),
    ({"op": "new", "accel": "fast"}, "'accel' must be one of"),
    ({"op": "new", "transport": "tcp"}, "'transport' must be one of auto, vsock"),
    ({"op": "new", "name": "a:b"}, "bad session name"),
    ({"op": "new", "image": "a\0b"}, "'image' must be a string"),
    ({"op": "wait-text", "target": "s", "text": "x", "timeout": -1}, "'timeout' must be a number"),
    ({"op": "new", "net": True}, "'net' must be one of off, on, restrict"),
    ({"op": "new", "net": "bridge"}, "'net' must be one of"),
    ({"op": "new", "ports": "8080:80"}, "'ports' must be a list"),
    ({"op": "new", "ports": [8080]}, "'ports' must be a list"),
    ({"op": "new", "ports": ["8080:80"] * 65}, "'ports' must be a list of at most 64"),
    ({"op": "new", "ports": ["1" * 65]}, "'ports' must be a list"),
    ({"op": "new", "ports": ["70000:80"]}, "'ports': -p '70000:80'"),
    ({"op": "new", "ports": ["8080"]}, "'ports': -p '8080'"),
    ({"op": "new", "volumes": "/a:/b"}, "'volumes' must be a list"),
    ({"op": "new", "volumes": ["/a:/b"] * 65}, "'volumes' must be a list of at most 64"),
    ({"op": "new", "volumes": ["/a\0:/b"]}, "'volumes' must be a list"),
    ({"op": "new", "volumes": ["/" + "a" * 5000 + ":/b"]}, "'volumes' must be a list"),
    ({"op": "new", "volumes": ["rel:/b"]}, "'volumes': 'rel:/b' is not /HOST_DIR"),
    ({"op": "new", "volumes": ["/a:/b:rx"]}, "is not /HOST_DIR"),
    ({"op": "new", "volumes": ["/a"]}, "is not /HOST_DIR"),
    ({"op": "new", "volumes": ["/a::ro"]}, "is not /HOST_DIR"),
])
def test_bad_requests_are_protocol_errors(obj: object, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        validate_request(obj)


def test_hello_version_checked() -> None:
    assert validate_hello({"version": wire.VERSION}) == wire.VERSION
    with pytest.raises(ProtocolError, match=f"version {wire.VERSION + 1} is not"):
        validate_hello({"version": wire.VERSION + 1})
    with pytest.raises(ProtocolError, match="integer version"):
        validate_hello({"version": True})


def test_the_agent_framing_with_our_types() -> None:
    dec = decoder(1024)
    frames = dec.feed(encode_json(Frame.REQUEST, 7, {"op": "ls"}) + encode(Frame.STDIN, 7, b"x"))
    assert [(t, i) for t, i, _ in frames] == [(Frame.REQUEST, 7), (Frame.STDIN, 7)]
    with pytest.raises(ProtocolError, match="unknown frame type 99"):
        decoder(1024).feed(b"\0\0\0\0\x63\0\0\0\0")
    with pytest.raises(ProtocolError, match="exceeds limit 1024"):
        decoder(1024).feed(b"\0\0\x10\0\x02\0\0\0\0")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=5), max_leaves=20)
OPS = ["ls", "new", "send-keys", "capture-pane", "exec", "split-window", "wait-text", "kill-pane", "x"]
FIELDS = ["target", "keys", "argv", "start", "end", "literal", "name", "image", "rows", "timeout", "text"]


@pytest.mark.fuzz
@settings(max_examples=400, deadline=None)
@given(st.sampled_from(OPS), st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5) | JSON)
def test_validator_only_accepts_or_raises_protocol_error(op: str, fields: object) -> None:
    obj = dict(fields, op=op) if isinstance(fields, dict) else fields
    try:
        req = validate_request(obj)
    except ProtocolError:
        return
    assert req.op in OPS
    for value in req.args.values():
        assert value is None or isinstance(value, (str, int, float, bool, list, Target))


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 40))
def test_decoder_on_garbage_only_raises_protocol_error(data: bytes, cut: int) -> None:
    dec = decoder(256)
    try:
        for i in range(0, len(data), cut):
            for ftype, _, payload in dec.feed(data[i:i + cut]):
                assert ftype in FRAME_TYPES and len(payload) <= 256
    except ProtocolError:
        pass


# -- capture ------------------------------------------------------------------------------------
def test_capture_screen_scrollback_and_escapes() -> None:
    model = TerminalModel(3, 20)
    model.feed(b"".join(b"line%d\r\n" % i for i in range(10)) + b"\x1b[1;31mred\x1b[0m \x1b[44m  \x1b[0m")
    assert capture(model) == "line8\nline9\nred\n"
    assert capture(model, -3, -1) == "line5\nline6\nline7\n"
    assert capture(model, -1000, 0).splitlines()[0] == "line0"
    assert capture(model, -1, 0) == "line7\nline8\n"
    escaped = capture(model, 2, 2, escapes=True)
    assert escaped == "\x1b[0;1;31mred\x1b[0m \x1b[0;44m  \x1b[0m\n"


def test_capture_truecolor_and_wide_characters() -> None:
    model = TerminalModel(2, 10)
    model.feed("\x1b[38;2;1;2;3m界x\x1b[0m".encode())
    assert capture(model, 0, 0) == "界x\n"
    assert capture(model, 0, 0, escapes=True) == "\x1b[0;38;2;1;2;3m界x\x1b[0m\n"


# -- layout --------------------------------------------------------------------------------------
def test_split_tree_sizes_panes_like_tmux() -> None:
    tree = SplitTree()
    tree.add("a")
    tree.add("b", "a", "row")
    regions = tree.rects(80, 24)
    assert regions["a"].width + regions["b"].width + 1 == 80 and regions["a"].height == 24
    tree.add("c", "b", "column")
    regions = tree.rects(80, 24)
    assert regions["b"].height + regions["c"].height + 1 == 24 and tree.panes() == ["a", "b", "c"]
    tree.remove("b")
    assert tree.panes() == ["a", "c"] and tree.rects(80, 24)["c"].height == 24
    tree.remove("a")
    assert tree.rects(80, 24)["c"].width == 80


# -- socket directory ------------------------------------------------------------------------------
def test_socket_dir_is_private_and_checked(tmp_path, monkeypatch) -> None:
    where = tmp_path / "sock"
    monkeypatch.setenv("CCTUI_SOCKET_DIR", str(where))
    assert paths.socket_dir() == where
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o700
    os.chmod(where, 0o755)
    with pytest.raises(paths.SocketDirError, match="others may enter it"):
        paths.socket_dir()
    os.chmod(where, 0o700)
    os.chown(where, 65534, -1)
    with pytest.raises(paths.SocketDirError, match="belongs to uid 65534"):
        paths.socket_dir()


def test_the_server_imports_no_textual() -> None:
    """The domain and the server run without the TUI's toolkit (a server on a headless host)."""
    import subprocess
    import sys
    code = ("import sys, cctui.server.daemon, cctui.server.commands, cctui.server.remote; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


class _EarlyCmd:
    """A guest command whose output arrives with STARTED, before start() returns."""

    def __init__(self) -> None:
        self.sinks: list = []
        self.exit_status = (0, None)
        self.exited = False
        self.pid = 42

    def set_stdin(self, source: object) -> "_EarlyCmd":
        return self

    def set_stdout(self, sink: object) -> "_EarlyCmd":
        self.sinks.append(sink)
        return self

    def set_stderr(self, sink: object) -> "_EarlyCmd":
        return self

    async def start(self) -> None:
        handler = self.sinks[0].attach(lambda n: None)
        handler(b"early\n")

    async def wait(self) -> None:
        self.exited = True


class _Link:
    def __init__(self) -> None:
        self.frames: list = []

    def send(self, frame: bytes) -> None:
        self.frames.extend(decoder(1 << 20).feed(frame))

    async def drain(self) -> None:
        pass


def test_exec_reply_comes_before_output_that_raced_it() -> None:
    """Output dispatched with STARTED waits for the REPLY (the client reads REPLY first)."""
    import asyncio

    from cctui.server.execs import StdinQueue, run_exec

    class _Vm:
        def command(self, *argv: str) -> _EarlyCmd:
            return _EarlyCmd()

    link = _Link()
    assert asyncio.run(run_exec(link, 3, _Vm(), ["x"], StdinQueue())) == {}   # type: ignore[arg-type]
    assert [(t, i) for t, i, _ in link.frames] == [(Frame.REPLY, 3), (Frame.OUTPUT, 3), (Frame.EXIT, 3)]
    assert link.frames[1][2] == b"early\n"
