"""A test plays the cctui server over a socketpair: real TerminalModels encoded as the
attach protocol encodes them (screen_codec), frames in and out through wire's framing."""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, Dict, Iterable, List, Optional, Tuple

from guest_pty_agent import protocol as framing

from cctui.server import wire
from cctui.server.screen_codec import encode_row
from cctui.terminal import TerminalModel

MODES = ("alternate_screen", "mouse_tracking", "mouse_sgr", "mouse_utf8", "mouse_urxvt", "focus_events",
         "bracketed_paste", "app_cursor_keys", "app_keypad", "reverse_video")


def screen_payload(model: TerminalModel, full: bool = True, ys: Optional[Iterable[int]] = None,
                   epoch: Optional[int] = None) -> Dict[str, Any]:
    """A SCREEN payload of ``model`` as the spec has it: every row when ``full``, else ``ys``."""
    rows = range(model.rows) if full or ys is None else sorted(ys)
    cursor = model.cursor
    return {"rows": model.rows, "cols": model.cols, "full": full,
            "lines": [[y, encode_row(model.line(y))] for y in rows],
            "cursor": [cursor.x, cursor.y, cursor.hidden], "title": model.title,
            "modes": {name: getattr(model, name) for name in MODES},
            "history": {"len": model.history_len, "pushed": model.history_pushed,
                        "epoch": model.history_epoch if epoch is None else epoch}}


def meta(vm: str = "vm1", state: str = "running", title: str = "bash", **over: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "vm": vm, "title": title, "guest_title": "", "state": state, "exit_code": None,
        "exit_signal": None, "error": "", "cwd": "/root", "env": {"HOME": "/root"},
        "current_command": "bash", "fg_pid": 42, "running_label": "", "runs": 1, "duration": 1.5,
        "ended_at": None}
    out.update(over)
    return out


def layout_payload(panes: Dict[str, Dict[str, Any]], vms: List[str], session: str = "s",
                   windows: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    if windows is None:
        ids = list(panes)
        nodes: List[Any]
        if len(ids) == 1:
            nodes = [["pane", ids[0]]]
        elif ids:
            nodes = [["split", "row", list(range(1, len(ids) + 1)), [1.0] * len(ids)]]
            nodes += [["pane", i] for i in ids]
        else:
            nodes = []
        windows = [{"index": 0, "name": "main", "active": ids[0] if ids else None, "layout": nodes}]
    return {"session": session, "current": 0, "windows": windows, "panes": panes,
            "vms": [{"name": v, "image": "host", "state": "running", "detail": "", "error": None}
                    for v in vms],
            "clients": 1, "size_rule": "smallest"}


class FakeServer:
    """The server's end of a socketpair, driven by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = wire.decoder(wire.MAX_CLIENT_PAYLOAD)
        self.frames: List[Tuple[int, int, bytes]] = []

    @classmethod
    async def pair(cls) -> Tuple["FakeServer", socket.socket]:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=ours)
        return cls(reader, writer), theirs

    async def frame(self, timeout: float = 10.0) -> Tuple[int, int, bytes]:
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            if not data:
                raise EOFError("the client hung up")
            self.frames.extend(self.decoder.feed(data))
        return self.frames.pop(0)

    async def request(self, op: Optional[str] = None) -> Tuple[int, Dict[str, Any]]:
        """The next REQUEST (INPUT frames before it are skipped into ``self.inputs``)."""
        while True:
            ftype, ident, payload = await self.frame()
            if ftype == wire.Frame.REQUEST:
                obj = framing.decode_json(payload)
                if op is not None:
                    assert obj["op"] == op, obj
                return ident, obj

    def send(self, ftype: int, ident: int, obj: Any) -> None:
        payload = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        self.writer.write(framing.HEADER.pack(len(payload), int(ftype), ident) + payload)

    def reply(self, ident: int, **fields: Any) -> None:
        self.send(wire.Frame.REPLY, ident, {"ok": True, **fields})

    async def handshake(self) -> None:
        ftype, _, payload = await self.frame()
        assert ftype == wire.Frame.HELLO and framing.decode_json(payload)["version"] == wire.VERSION
        self.send(wire.Frame.HELLO, 0, {"version": wire.VERSION, "pid": 1234})

    async def accept_attach(self, layout: Dict[str, Any],
                            screens: Dict[str, TerminalModel]) -> Dict[str, Any]:
        """HELLO, the attach request (returned), its REPLY, LAYOUT and a full SCREEN per pane."""
        await self.handshake()
        ident, obj = await self.request("attach")
        self.reply(ident, session=layout["session"])
        self.send(wire.Frame.LAYOUT, 0, layout)
        for pane_id, model in screens.items():
            self.send(wire.Frame.SCREEN, int(pane_id[1:]), screen_payload(model))
        await self.writer.drain()
        return obj

    def close(self) -> None:
        self.writer.close()
