"""What each request does: the ops of ``wire.py`` applied to the domain.

A handler returns the REPLY payload; a DomainError or TargetError it raises
becomes ``{"ok": false, "error": ...}`` for that client only.
"""
from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List

from .pane_process import PaneState
from ..vm.network import net_mode, parse_ports
from ..vm.volumes import VolumeError, parse_volumes
from .capture import capture_lines
from .domain import DomainError, Pane, Session, Window
from .execs import run_exec
from .keynames import encode_keys
from .layout import SplitTree
from .screen_codec import encode_row
from .target import Target
from .wire import DATA_CHUNK, Frame, Request, encode

if TYPE_CHECKING:
    from .daemon import ClientLink, Server

Reply = Dict[str, Any]
SEARCH_MATCHES = 10_000         # matches in one search reply


class Handlers:
    def __init__(self, server: "Server") -> None:
        self.server = server
        self.domain = server.domain
        self._ops: Dict[str, Callable[["ClientLink", int, Dict[str, Any]], Awaitable[Reply]]] = {
            "ls": self.ls, "kill-server": self.kill_server, "new": self.new,
            "new-window": self.new_window, "split-window": self.split_window,
            "kill-pane": self.kill_pane, "kill-session": self.kill_session,
            "send-keys": self.send_keys, "capture-pane": self.capture_pane,
            "wait-text": self.wait_text, "exec": self.exec,
            "attach": self.attach, "detach": self.detach, "pane-size": self.pane_size,
            "history": self.history, "search": self.search, "kill-window": self.kill_window,
            "rename-window": self.rename_window, "select-window": self.select_window,
            "select-pane": self.select_pane, "respawn-pane": self.respawn_pane,
            "set-layout": self.set_layout, "new-vm": self.new_vm, "kill-vm": self.kill_vm,
        }

    async def handle(self, link: "ClientLink", ident: int, request: Request) -> Reply:
        return await self._ops[request.op](link, ident, request.args)

    async def ls(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        return {"ok": True, "server_pid": os.getpid(), "sessions": self.domain.describe(),
                "spare": self.server.spare.describe(), "clients": self._clients()}

    def _clients(self) -> List[Dict[str, Any]]:
        """Attached clients (tmux's list-clients): session, unsent bytes, times stalled."""
        return [{"session": a.session.name, "unsent": a.link.writer.transport.get_write_buffer_size(),
                 "stalls": a.stalls, "sizes": {k: list(v) for k, v in a.sizes.items()}}
                for a in self.server.attachments()]

    async def kill_server(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        asyncio.get_event_loop().call_soon(self.server.stop)
        return {"ok": True}

    async def new(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session = await self.domain.new_session(args["name"], args["image"], args["argv"],
                                                _boot_options(args), args["rows"], args["cols"],
                                                wait=args["wait"])
        return {"ok": True, "session": session.name}

    async def new_window(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session, window, pane = await self.domain.new_window(args["target"], args["argv"])
        return _pane_reply(session, window, pane)

    async def split_window(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session, window, pane = await self.domain.split(args["target"], args["horizontal"], args["argv"])
        return _pane_reply(session, window, pane)

    async def kill_pane(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        await self.domain.kill_pane(args["target"])
        return {"ok": True}

    async def kill_session(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        await self.domain.end_session(self.domain.session_of(args["target"]))
        return {"ok": True}

    async def send_keys(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        _, _, pane = self.domain.resolve(args["target"])
        process = pane.process
        if process.state is not PaneState.RUNNING:
            raise DomainError(f"pane {pane.ident} is {process.state}: its command takes no keys")
        process.write(encode_keys(args["keys"], args["literal"], process.model.app_cursor_keys))
        return {"ok": True}

    async def capture_pane(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        _, _, pane = self.domain.resolve(args["target"])
        chunk = bytearray()
        # Lines are made as the client takes them: a client that stops reading holds
        # one chunk here, not the whole scrollback.
        with pane.frozen():
            for line in capture_lines(pane.process.model, args["start"], args["end"], args["escapes"]):
                chunk += line.encode("utf-8", "replace")
                while len(chunk) >= DATA_CHUNK:
                    link.send(encode(Frame.OUTPUT, ident, bytes(chunk[:DATA_CHUNK])))
                    del chunk[:DATA_CHUNK]
                    await link.drain()
        if chunk:
            link.send(encode(Frame.OUTPUT, ident, bytes(chunk)))
        return {"ok": True}

    async def wait_text(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        target: Target = args["target"]
        _, _, pane = self.domain.resolve(target)
        try:
            await asyncio.wait_for(pane.wait_text(args["text"]), args["timeout"])
        except asyncio.TimeoutError:
            raise DomainError(f"timed out after {args['timeout']:g}s waiting for "
                              f"{args['text'][:80]!r} in {target}") from None
        return {"ok": True}

    async def exec(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session = self.domain.session_of(args["target"])
        name = args["vm"] or next(iter(session.vms))
        vm = session.vms.get(name)
        if vm is None:
            raise DomainError(f"session {session.name} has no VM {name} "
                              f"(it has {', '.join(session.vms)})")
        await session.vm_ready[name].wait()
        return await run_exec(link, ident, vm, args["argv"], link.stdin[ident])


    # -- attach (wire version 2) ------------------------------------------------------------------
    async def attach(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session = self.domain.session_of(args["target"])
        self.server.attach(link, session, args["rows"], args["cols"])
        return {"ok": True, "session": session.name}

    async def detach(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        if link.attachment is None or not link.attachment.active:
            raise DomainError("this client is not attached")
        # DETACHED goes after this reply (sent in the same step that ends this handler)
        asyncio.get_event_loop().call_soon(self.server.detach, link, "the client detached")
        return {"ok": True}

    async def pane_size(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        """The size this client shows the pane at; the pane takes the smallest over clients.
        A pane that is gone (a race with kill) or of another session is ignored."""
        attachment = link.attachment
        if attachment is None or not attachment.active:
            raise DomainError("pane-size needs an attached client")
        pane = attachment.pane(args["pane"])
        if pane is not None:
            attachment.sizes[pane.ident] = (args["rows"], args["cols"])
            self.server.resize_panes(attachment.session, {pane.ident})
        return {"ok": True}

    async def history(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        """Scrollback rows by absolute number (``pushed - len + i`` is row i's)."""
        _, _, pane = self.domain.find_pane(args["pane"])
        model = pane.process.model
        length, pushed = model.history_len, model.history_pushed
        oldest = pushed - length
        start = max(args["start"], oldest)
        end = min(args["start"] + args["count"], pushed)
        rows = [encode_row(model.history_line(a - oldest)) for a in range(start, end)]
        return {"ok": True, "epoch": model.history_epoch, "pushed": pushed, "len": length,
                "start": start, "rows": rows}

    async def search(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        _, _, pane = self.domain.find_pane(args["pane"])
        model = pane.process.model
        hits = model.search(args["text"], args["case"])[:SEARCH_MATCHES]
        return {"ok": True, "history_len": model.history_len,
                "matches": [[m.row, m.start, m.end] for m in hits]}

    async def kill_window(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        await self.domain.kill_window(args["target"])
        return {"ok": True}

    async def rename_window(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session, window = self.domain.window_of(args["target"])
        window.name = args["name"]
        self.domain.layout_changed(session)
        return {"ok": True}

    async def select_window(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        """The session's current window: one for every client, as in tmux."""
        session, window = self.domain.window_of(args["target"])
        session.current = window.index
        self.domain.layout_changed(session)
        return {"ok": True}

    async def select_pane(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        """The window's active pane (shared); its window becomes the current one."""
        session, window, pane = self.domain.resolve(args["target"])
        window.active = pane.ident
        session.current = window.index
        self.domain.layout_changed(session)
        return {"ok": True}

    async def respawn_pane(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        pane = await self.domain.respawn(args["target"])
        reply: Reply = {"ok": True, "id": pane.ident}
        if pane.process.state is PaneState.FAILED:
            reply["warning"] = pane.process.error
        return reply

    async def set_layout(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        """New weights (a divider dragged): the same panes, any split shape."""
        session, window = self.domain.window_of(args["target"])
        tree = SplitTree()
        tree.root = args["layout"]
        if sorted(tree.panes()) != sorted(window.panes):
            raise DomainError(f"the layout must name exactly window {window.index}'s panes "
                              f"({', '.join(window.layout.panes())})")
        window.layout = tree
        self.domain.fit(session, window)
        return {"ok": True}

    async def new_vm(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        session, window, pane = await self.domain.new_vm(args["target"], args["image"], args["argv"],
                                                         _boot_options(args))
        reply = _pane_reply(session, window, pane)
        reply["vm"] = pane.vm.name
        return reply

    async def kill_vm(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        self.domain.kill_vm(self.domain.session_of(args["target"]), args["vm"])
        return {"ok": True}


def _boot_options(args: Dict[str, Any]) -> Dict[str, object]:
    """new's and new-vm's VM options; the host directories must exist here (wire.py
    checked the spelling)."""
    try:
        volumes = [str(v) for v in parse_volumes(args["volumes"])]
    except VolumeError as exc:
        raise DomainError(str(exc)) from None
    ports = args["ports"]
    return {"accel": args["accel"], "memory_mb": args["memory"], "cpus": args["cpus"],
            "transport": args["transport"], "net": net_mode(args["net"], parse_ports(ports)),
            "ports": ports, "volumes": volumes}


def _pane_reply(session: Session, window: Window, pane: Pane) -> Reply:
    """The new pane's target; it may have been killed while its command started."""
    if pane not in window.ordered():
        raise DomainError(f"pane {pane.ident} was killed while it started")
    index = window.ordered().index(pane)
    reply: Reply = {"ok": True, "target": f"{session.name}:{window.index}.{index}", "id": pane.ident}
    if pane.process.state is PaneState.FAILED:
        reply["warning"] = pane.process.error
    return reply
