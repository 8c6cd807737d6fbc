"""Sessions -> windows -> panes, and the VMs a session owns: the server's state.

Plain asyncio, no Textual: a pane is the TUI's ``PaneProcess`` (a guest command
on a pty and its terminal model), pumped here as output arrives instead of once
per drawn frame. Numbering follows tmux: sessions are named ``0``, ``1``... unless
named; windows take the lowest free index from 0; a pane's index is its place in
its window's layout. A pane whose command exits stays (with its exit status)
until killed; a session ends when its last pane is killed or on kill-session,
and powers its VMs off.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from .. import aio
from ..api.instance import AsyncInstance, InstanceState
from ..errors import Error
from ..guest_text import printable
from ..tui.pane_process import PaneProcess, PaneState
from .layout import SplitTree
from .target import Target, TargetError

log = logging.getLogger(__name__)
PUMP_BUDGET = 0.02          # seconds of emulation per pane before other work runs


class DomainError(Exception):
    """A request that names something missing or asks the impossible; its text goes to the client."""


class Pane:
    """One pane: a PaneProcess on a VM, pumped as output arrives, with text waiters."""

    def __init__(self, ident: str, vm: AsyncInstance, vm_ready: asyncio.Event,
                 argv: Optional[List[str]], rows: int, cols: int) -> None:
        self.ident = ident
        self.vm = vm
        self._vm_ready = vm_ready
        self.settled = asyncio.Event()      # its command runs, or could not start
        self._pump_due = False
        self._frozen = 0
        self._waiters: List[Tuple[str, asyncio.Future]] = []
        self.process = PaneProcess(vm, argv, rows, cols, self._changed, self._output)
        self.task: Optional[asyncio.Task] = None

    def _output(self) -> None:
        if not self._pump_due:
            self._pump_due = True
            asyncio.get_event_loop().call_soon(self._pump)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Hold the screen still (a capture streamed to a slow client is one snapshot):
        output waits un-acked meanwhile, which pauses the guest command."""
        self._frozen += 1
        try:
            yield
        finally:
            self._frozen -= 1
            self._output()

    def _pump(self) -> None:
        self._pump_due = False
        if self._frozen:
            return
        if self.process.pump(PUMP_BUDGET):
            self._output()
        self._check_waiters()

    def _changed(self, process: PaneProcess) -> None:
        if process.state is not PaneState.STARTING:
            self.settled.set()
        self._check_waiters()

    async def run(self) -> None:
        """Wait for the VM, then run the command (as the TUI's panes do)."""
        try:
            await self._vm_ready.wait()
            if self.vm.state is not InstanceState.RUNNING:
                self.process.vm_lost(str(self.vm.error or self.vm.status_detail or self.vm.state))
                return
            await self.process.start()
        except Exception as exc:       # a bug below must not take the server down
            log.exception("pane %s crashed", self.ident)
            self.process.crashed(repr(exc))
        finally:
            self.settled.set()
            self._check_waiters()

    # -- waiting for text -----------------------------------------------------------------
    def wait_text(self, text: str) -> "asyncio.Future[None]":
        fut: asyncio.Future = asyncio.get_event_loop().create_future()
        self._waiters.append((text, fut))
        self._check_waiters()
        return fut

    def _check_waiters(self) -> None:
        if not self._waiters:
            return
        screen = "\n".join(row.rstrip() for row in self.process.model.display)
        ended = self.process.state in (PaneState.EXITED, PaneState.FAILED) and not self.process.has_pending
        keep = []
        for text, fut in self._waiters:
            if fut.done():
                continue
            if text in screen:
                fut.set_result(None)
            elif ended:
                fut.set_exception(DomainError(f"pane {self.ident} {self.process.state} before "
                                              f"{text[:80]!r} appeared"))
            else:
                keep.append((text, fut))
        self._waiters = keep

    def kill(self) -> None:
        self.process.kill()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(DomainError(f"pane {self.ident} was killed"))
        self._waiters = []

    def describe(self, index: int, active: bool) -> Dict[str, object]:
        process = self.process
        status = process.exit_status
        return {"index": index, "id": self.ident, "vm": self.vm.name, "command": process.title,
                "state": str(process.state), "exit_code": status[0] if status else None,
                "exit_signal": status[1] if status else None, "error": process.error,
                "rows": process.rows, "cols": process.cols, "active": active,
                "title": process.guest_title}


class Window:
    def __init__(self, index: int) -> None:
        self.index = index
        self.layout = SplitTree()
        self.panes: Dict[str, Pane] = {}
        self.active: Optional[str] = None

    def ordered(self) -> List[Pane]:
        return [self.panes[ident] for ident in self.layout.panes()]

    def pane_at(self, index: Optional[int]) -> Pane:
        ordered = self.ordered()
        if index is None:
            return self.panes[self.active] if self.active in self.panes else ordered[0]
        if not 0 <= index < len(ordered):
            raise DomainError(f"window {self.index} has no pane {index} (it has {len(ordered)})")
        return ordered[index]

    def fit(self, rows: int, cols: int) -> None:
        """Size every pane's terminal (and its guest pty) to its share of the window."""
        for ident, rect in self.layout.rects(cols, rows).items():
            self.panes[ident].process.resize(rect.height, rect.width)


class Session:
    def __init__(self, name: str, rows: int, cols: int) -> None:
        self.name = name
        self.created = time.time()
        self.rows, self.cols = rows, cols
        self.vms: Dict[str, AsyncInstance] = {}
        self.vm_ready: Dict[str, asyncio.Event] = {}    # set once a VM's boot ended either way
        self.vm_shares: Dict[str, Dict[str, object]] = {}   # a VM's net, ports, volumes (for ls)
        self.windows: List[Window] = []
        self.current = 0                    # the current window's index
        self.boot_tasks: List[asyncio.Task] = []

    def window_at(self, index: Optional[int]) -> Window:
        if index is None:
            index = self.current
        for window in self.windows:
            if window.index == index:
                return window
        raise DomainError(f"session {self.name} has no window {index}")

    def panes(self) -> List[Pane]:
        return [pane for window in self.windows for pane in window.panes.values()]


class Domain:
    """Every session of this server; ``on_empty`` runs when the last one ends."""

    def __init__(self, on_empty: Callable[[], None]) -> None:
        self.sessions: Dict[str, Session] = {}
        self._on_empty = on_empty
        self._pane_ids = itertools.count()

    # -- lookups ---------------------------------------------------------------------------
    def session(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            raise DomainError(f"can't find session: {name}")
        return session

    def resolve(self, target: Target) -> Tuple[Session, Window, Pane]:
        session = self.session(target.session)
        window = session.window_at(target.window)
        return session, window, window.pane_at(target.pane)

    # -- creation -------------------------------------------------------------------------------
    async def new_session(self, name: Optional[str], image: str, argv: Optional[List[str]],
                          boot_options: Dict[str, object], rows: int, cols: int) -> Session:
        if name is None:
            name = next(str(n) for n in itertools.count() if str(n) not in self.sessions)
        elif name in self.sessions:
            raise DomainError(f"duplicate session: {name}")
        session = Session(name, rows, cols)
        self.sessions[name] = session
        vm = AsyncInstance(name="vm1", image=image)
        session.vms[vm.name] = vm
        session.vm_ready[vm.name] = asyncio.Event()
        session.vm_shares[vm.name] = {key: boot_options.get(key, default) for key, default
                                      in (("net", "off"), ("ports", []), ("volumes", []))}
        vm.add_listener(lambda inst: self._vm_changed(session, inst))
        session.boot_tasks.append(asyncio.ensure_future(
            self._boot(vm, session.vm_ready[vm.name], image, boot_options)))
        pane = self._new_window(session, vm, argv)
        await pane.settled.wait()
        if self.sessions.get(name) is not session:
            raise DomainError(f"session {name} was killed while it started")
        if pane.process.state is PaneState.FAILED:
            error = pane.process.error or "the pane's command did not start"
            await self.end_session(session)
            raise DomainError(f"session {name}: {error}")
        return session

    async def _boot(self, vm: AsyncInstance, ready: asyncio.Event, image: str, options: Dict[str, object]) -> None:
        try:
            await aio.boot(image, instance=vm, **options)   # type: ignore[arg-type]
        except Error:
            pass            # the instance is FAILED with the reason; its panes say it
        except Exception as exc:
            log.exception("boot of %s crashed", vm.name)
            vm.boot_failed(Error(repr(exc)))
        finally:
            ready.set()

    def _vm_changed(self, session: Session, vm: AsyncInstance) -> None:
        if vm.state is not InstanceState.BOOTING:
            session.vm_ready[vm.name].set()
        else:
            for pane in session.panes():
                if pane.vm is vm:
                    pane.process.boot_progress(printable(vm.status_detail), time.time() - session.created)
        if vm.state in (InstanceState.FAILED, InstanceState.STOPPED):
            reason = str(vm.error or vm.status_detail or vm.state)
            for pane in session.panes():
                if pane.vm is vm:
                    pane.process.vm_lost(printable(reason))

    def _new_pane(self, session: Session, vm: AsyncInstance, argv: Optional[List[str]],
                  rows: int, cols: int) -> Pane:
        pane = Pane(f"%{next(self._pane_ids)}", vm, session.vm_ready[vm.name], argv, rows, cols)
        pane.task = asyncio.ensure_future(pane.run())
        return pane

    def _new_window(self, session: Session, vm: AsyncInstance, argv: Optional[List[str]]) -> Pane:
        used = {w.index for w in session.windows}
        window = Window(next(n for n in itertools.count() if n not in used))
        session.windows.append(window)
        session.windows.sort(key=lambda w: w.index)
        session.current = window.index
        pane = self._new_pane(session, vm, argv, session.rows, session.cols)
        window.layout.add(pane.ident)
        window.panes[pane.ident] = pane
        window.active = pane.ident
        return pane

    async def new_window(self, target: Target, argv: Optional[List[str]]) -> Tuple[Session, Window, Pane]:
        session = self.session(target.session)
        _, _, beside = self.resolve(Target(target.session))
        pane = self._new_window(session, beside.vm, argv)
        window = session.window_at(None)
        await pane.settled.wait()
        return session, window, pane

    async def split(self, target: Target, horizontal: bool,
                    argv: Optional[List[str]]) -> Tuple[Session, Window, Pane]:
        session, window, beside = self.resolve(target)
        direction = "row" if horizontal else "column"
        pane = self._new_pane(session, beside.vm, argv, 1, 1)
        window.layout.add(pane.ident, beside.ident, direction)
        window.panes[pane.ident] = pane
        window.active = pane.ident
        window.fit(session.rows, session.cols)
        await pane.settled.wait()
        return session, window, pane

    # -- ending ------------------------------------------------------------------------------------
    async def kill_pane(self, target: Target) -> None:
        session, window, pane = self.resolve(target)
        pane.kill()
        window.layout.remove(pane.ident)
        del window.panes[pane.ident]
        if window.active == pane.ident:
            window.active = window.layout.panes()[0] if window.panes else None
        if window.panes:
            window.fit(session.rows, session.cols)
            return
        session.windows.remove(window)
        if not session.windows:
            await self.end_session(session)
        elif session.current == window.index:
            session.current = session.windows[0].index

    async def end_session(self, session: Session) -> None:
        """Kill its panes, power its VMs off; the last session's end ends the server."""
        if self.sessions.get(session.name) is not session:
            return
        del self.sessions[session.name]
        for pane in session.panes():
            pane.kill()
        for task in session.boot_tasks:
            task.cancel()
        await asyncio.gather(*(_close(vm) for vm in session.vms.values()))
        if not self.sessions:
            self._on_empty()

    async def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            await self.end_session(session)

    # -- listing ------------------------------------------------------------------------------------
    def describe(self) -> List[Dict[str, object]]:
        out = []
        for session in sorted(self.sessions.values(), key=lambda s: s.created):
            out.append({
                "name": session.name, "created": session.created, "rows": session.rows,
                "cols": session.cols, "current_window": session.current,
                "vms": [{"name": vm.name, "image": vm.image, "state": str(vm.state),
                         "detail": printable(vm.status_detail), "qemu_pid": vm.qemu_pid,
                         "accel": vm.accel, "transport": vm.transport,
                         **session.vm_shares.get(vm.name, {})} for vm in session.vms.values()],
                "windows": [{"index": w.index, "active": w.index == session.current,
                             "panes": [p.describe(i, p.ident == w.active) for i, p in enumerate(w.ordered())]}
                            for w in session.windows],
            })
        return out


async def _close(vm: AsyncInstance) -> None:
    try:
        await vm.close()
    except Error as exc:
        log.warning("closing %s: %s", vm.name, exc)


__all__ = ["Domain", "DomainError", "Pane", "Session", "Window", "TargetError"]
