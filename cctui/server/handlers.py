"""What each request does: the ops of ``wire.py`` applied to the domain.

A handler returns the REPLY payload; a DomainError or TargetError it raises
becomes ``{"ok": false, "error": ...}`` for that client only.
"""
from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict

from ..tui.pane_process import PaneState
from ..vm.network import net_mode, parse_ports
from ..vm.volumes import VolumeError, parse_volumes
from .capture import capture_lines
from .domain import DomainError, Pane, Session, Window
from .execs import run_exec
from .keynames import encode_keys
from .target import Target
from .wire import DATA_CHUNK, Frame, Request, encode

if TYPE_CHECKING:
    from .daemon import ClientLink, Server

Reply = Dict[str, Any]


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
        }

    async def handle(self, link: "ClientLink", ident: int, request: Request) -> Reply:
        return await self._ops[request.op](link, ident, request.args)

    async def ls(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        return {"ok": True, "server_pid": os.getpid(), "sessions": self.domain.describe(),
                "spare": self.server.spare.describe()}

    async def kill_server(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        asyncio.get_event_loop().call_soon(self.server.stop)
        return {"ok": True}

    async def new(self, link: "ClientLink", ident: int, args: Dict[str, Any]) -> Reply:
        try:        # the host directories must exist here (wire.py checked the spelling)
            volumes = [str(v) for v in parse_volumes(args["volumes"])]
        except VolumeError as exc:
            raise DomainError(str(exc)) from None
        ports = args["ports"]
        net = net_mode(args["net"], parse_ports(ports))
        options = {"accel": args["accel"], "memory_mb": args["memory"], "cpus": args["cpus"],
                   "transport": args["transport"], "net": net, "ports": ports, "volumes": volumes}
        session = await self.domain.new_session(args["name"], args["image"], args["argv"], options,
                                                args["rows"], args["cols"])
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
        await self.domain.end_session(self.domain.session(args["target"].session))
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
        session = self.domain.session(args["target"].session)
        name = args["vm"] or next(iter(session.vms))
        vm = session.vms.get(name)
        if vm is None:
            raise DomainError(f"session {session.name} has no VM {name} "
                              f"(it has {', '.join(session.vms)})")
        await session.vm_ready[name].wait()
        return await run_exec(link, ident, vm, args["argv"], link.stdin[ident])


def _pane_reply(session: Session, window: Window, pane: Pane) -> Reply:
    """The new pane's target; it may have been killed while its command started."""
    if pane not in window.ordered():
        raise DomainError(f"pane {pane.ident} was killed while it started")
    index = window.ordered().index(pane)
    reply: Reply = {"ok": True, "target": f"{session.name}:{window.index}.{index}", "id": pane.ident}
    if pane.process.state is PaneState.FAILED:
        reply["warning"] = pane.process.error
    return reply
