"""Sessions -> windows -> panes, and the VMs a session owns: the server's state.

Plain asyncio, no Textual: a pane is the TUI's ``PaneProcess`` (a guest command
on a pty and its terminal model), pumped here as output arrives instead of once
per drawn frame. Numbering follows tmux: sessions are named ``0``, ``1``... unless
named; windows take the lowest free index from 0; a pane's index is its place in
its window's layout. A pane whose command exits stays (with its exit status)
until killed; a session ends when its last pane is killed or on kill-session,
and powers its VMs off.

Attached clients watch through ``Domain.observers``: after every pump a pane
takes its model's dirty rows (the server is their only consumer) and stamps
them with a new version, so each attachment sends only rows newer than the
ones it sent. A pane's size is its share of the window unless attached clients
reported sizes for it (``Domain.size_override``, the "smallest" rule).

VM images: a name or path boots QEMU (``aio.boot``). ``"local"`` is a
development backend, only when this server's environment has
``CCTUI_ALLOW_LOCAL_IMAGE=1``: the guest agent as a child process of the
server (``aio.connect_local``), no VM and no isolation at all, so tests of the
server run in seconds.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from typing import Awaitable, Callable, Dict, Iterator, List, Optional, Protocol, Set, Tuple

from .. import aio
from ..api.instance import AsyncInstance, InstanceState
from ..errors import Error
from ..guest_text import printable
from ..terminal import TerminalModel
from .pane_process import PaneProcess, PaneState
from .typing_priority import TypingPriority
from .layout import SplitTree
from .spare import SparePool
from .target import Target, TargetError

log = logging.getLogger(__name__)
PUMP_BUDGET = 0.02          # seconds of emulation per pane before other work runs
# A pane yielding to someone typing elsewhere (typing_priority) is pumped at most this
# often: its guest is paused within a small window anyway, and each pump (and the
# SCREENs it sends every attached client) takes CPU the echo is waiting for.
YIELD_PUMP = 1 / 10
# Pumps are paced like a view's frames: at once after a quiet spell (an echo), else at
# most PUMP_FRAME apart, and FLOOD_PUMP apart once output has gone on for FLOOD_AFTER
# with no key typed into the pane. Attached clients get at most 60 screens a second,
# and a bigger slice is cheaper per byte (the model lays out only a flood's last screen).
PUMP_FRAME = 1 / 60
FLOOD_PUMP = 1 / 20
FLOOD_AFTER = 0.5


LOCAL_IMAGE = "local"
LOCAL_IMAGE_ENV = "CCTUI_ALLOW_LOCAL_IMAGE"


class DomainError(Exception):
    """A request that names something missing or asks the impossible; its text goes to the client."""


class Observer(Protocol):
    """What an attachment hears: rows changed, the layout (or its meta) may have changed,
    a session ended."""

    def screen_changed(self, pane: "Pane") -> None: ...

    def layout_changed(self, session: "Session") -> None: ...

    def session_ended(self, session: "Session") -> None: ...


class Pane:
    """One pane: a PaneProcess on a VM, pumped as output arrives, with text waiters."""

    def __init__(self, ident: str, vm: AsyncInstance, vm_ready: asyncio.Event,
                 argv: Optional[List[str]], rows: int, cols: int,
                 session: Optional["Session"] = None, domain: Optional["Domain"] = None) -> None:
        self.ident = ident
        self.session = session
        self.domain = domain
        self.vm = vm
        # row change tracking (see the module docstring); a new generation means "send it whole"
        self.generation = 0
        self.version = 0
        self.row_versions: List[int] = []
        self.row_cache: Dict[int, Tuple[int, str]] = {}     # y -> (version, its SCREEN line JSON)
        self._tracked: Optional[object] = None
        self._tracked_size = (0, 0)
        self._meta: Tuple[object, ...] = ()
        self._vm_ready = vm_ready
        self.settled = asyncio.Event()      # its command runs, or could not start
        self._pump_due = False
        self._last_pump = 0.0           # monotonic
        self._burst_since = 0.0         # when output began after a pause
        self._frozen = 0
        self._waiters: List[Tuple[str, asyncio.Future]] = []
        self.process = PaneProcess(vm, argv, rows, cols, self._changed, self._output,
                                   priority=domain.typing_priority if domain is not None else None)
        self.task: Optional[asyncio.Task] = None

    def _output(self) -> None:
        if not self._pump_due:
            self._pump_due = True
            loop = asyncio.get_event_loop()
            wait = self._pump_interval() - (time.monotonic() - self._last_pump)
            if wait > 0:
                loop.call_later(wait, self._pump)
            else:
                loop.call_soon(self._pump)

    def _pump_interval(self) -> float:
        if self.process.yielding:
            return YIELD_PUMP
        flooding = (self._last_pump - self._burst_since > FLOOD_AFTER
                    and self._last_pump - self.process.last_input > FLOOD_AFTER)
        return FLOOD_PUMP if flooding else PUMP_FRAME

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
        now = time.monotonic()
        if now - self._last_pump > 2 * FLOOD_PUMP:      # output after a pause: a new burst
            self._burst_since = now
        self._last_pump = now
        if self.process.pump(PUMP_BUDGET):
            self._output()
        self.track()
        self._check_waiters()

    def _changed(self, process: PaneProcess) -> None:
        if process.state is not PaneState.STARTING:
            self.settled.set()
        self.track()
        if self.domain is not None and self.session is not None:
            self.domain.layout_changed(self.session)
        self._check_waiters()

    def track(self) -> None:
        """Take the model's changes (``take``); observers hear of them."""
        model = self.take()
        if self.domain is None or self.session is None:
            return
        self.domain.screen_changed(self)
        meta = (model.title, self.process.guest_title, self.process.cwd)
        if meta != self._meta:          # titles and cwd show in LAYOUT
            self._meta = meta
            self.domain.layout_changed(self.session)

    def take(self) -> TerminalModel:
        """Take the model's dirty rows and stamp them with a new version; a new model
        (a rerun) or a new size starts a new generation (clients get it whole)."""
        model = self.process.model
        size = (model.rows, model.cols)
        self.version += 1
        if model is not self._tracked or size != self._tracked_size:
            self._tracked, self._tracked_size = model, size
            self.generation += 1
            self.row_versions = [self.version] * size[0]
            self.row_cache.clear()
            model.dirty.clear()
        else:
            dirty = model.dirty
            versions = self.row_versions
            for y in dirty:
                if 0 <= y < size[0]:
                    versions[y] = self.version
            dirty.clear()
        return model

    def resize(self, rows: int, cols: int) -> None:
        if (rows, cols) != (self.process.rows, self.process.cols):
            self.process.resize(rows, cols)
            self.track()

    async def run(self) -> None:
        """Wait for the VM, then run the command (as the TUI's panes do)."""
        await self._guarded(self._start())

    async def _start(self) -> None:
        await self._vm_ready.wait()
        if self.vm.state is not InstanceState.RUNNING:
            self.process.vm_lost(str(self.vm.error or self.vm.status_detail or self.vm.state))
            return
        await self.process.start()

    async def rerun(self) -> None:
        await self._guarded(self.process.rerun())

    async def _guarded(self, step: Awaitable[None]) -> None:
        """Start or rerun the command: a bug below marks this pane crashed, never the
        server; settled either way (a kill's cancel included: new_session waits on it)."""
        try:
            await step
        except Exception as exc:
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
        if self.domain is not None:
            self.domain.typing_priority.discard(self.process)
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
        self.name = ""                      # rename-window's; empty: the active pane's title
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

    def fit(self, rows: int, cols: int,
            override: Optional[Callable[["Pane"], Optional[Tuple[int, int]]]] = None) -> None:
        """Size every pane's terminal (and its guest pty) to its share of the window,
        or to what ``override`` says (attached clients' sizes)."""
        for ident, rect in self.layout.rects(cols, rows).items():
            pane = self.panes[ident]
            size = override(pane) if override is not None else None
            pane.resize(*(size or (rect.height, rect.width)))


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
        # keys typed by an attached client (INPUT, not send-keys) make every other pane's
        # flood yield for a moment, over all sessions: their VMs share this host's CPU
        self.typing_priority = TypingPriority()
        self.observers: Set[Observer] = set()
        self.size_override: Optional[Callable[[Pane], Optional[Tuple[int, int]]]] = None
        self.spare: Optional[SparePool] = None      # the server's warm spare VM, if it keeps one

    # -- observers --------------------------------------------------------------------------
    def screen_changed(self, pane: Pane) -> None:
        for observer in list(self.observers):
            observer.screen_changed(pane)

    def layout_changed(self, session: Session) -> None:
        for observer in list(self.observers):
            observer.layout_changed(session)

    def fit(self, session: Session, window: Window) -> None:
        window.fit(session.rows, session.cols, self.size_override)
        self.layout_changed(session)

    # -- lookups ---------------------------------------------------------------------------
    def session(self, name: str) -> Session:
        session = self.sessions.get(name)
        if session is None:
            raise DomainError(f"can't find session: {name}")
        return session

    def resolve(self, target: Target) -> Tuple[Session, Window, Pane]:
        if target.pane_id is not None:
            return self.find_pane(target.pane_id)
        session = self.session(target.session)
        window = session.window_at(target.window)
        return session, window, window.pane_at(target.pane)

    def find_pane(self, ident: str) -> Tuple[Session, Window, Pane]:
        for session in self.sessions.values():
            for window in session.windows:
                pane = window.panes.get(ident)
                if pane is not None:
                    return session, window, pane
        raise DomainError(f"can't find pane: {ident}")

    def session_of(self, target: Target) -> Session:
        """The session a target names (a pane id: that pane's session)."""
        if target.pane_id is not None:
            return self.find_pane(target.pane_id)[0]
        return self.session(target.session)

    def window_of(self, target: Target) -> Tuple[Session, Window]:
        """The window a target names (a pane id: that pane's window)."""
        if target.pane_id is not None:
            session, window, _ = self.find_pane(target.pane_id)
            return session, window
        session = self.session(target.session)
        return session, session.window_at(target.window)

    # -- creation -------------------------------------------------------------------------------
    async def new_session(self, name: Optional[str], image: str, argv: Optional[List[str]],
                          boot_options: Dict[str, object], rows: int, cols: int,
                          wait: bool = True) -> Session:
        """A session with one window on a new VM. ``wait``: return once its command runs
        (scripts); without, at once (the TUI attaches and shows the boot)."""
        if name is None:
            name = next(str(n) for n in itertools.count() if str(n) not in self.sessions)
        elif name in self.sessions:
            raise DomainError(f"duplicate session: {name}")
        self._check_image(image)
        session = Session(name, rows, cols)
        self.sessions[name] = session
        vm = self.start_vm(session, image, boot_options)
        pane = self._new_window(session, vm, argv)
        if not wait:
            return session
        await pane.settled.wait()
        if self.sessions.get(name) is not session:
            raise DomainError(f"session {name} was killed while it started")
        if pane.process.state is PaneState.FAILED:
            error = pane.process.error or "the pane's command did not start"
            await self.end_session(session)
            raise DomainError(f"session {name}: {error}")
        return session

    @staticmethod
    def _check_image(image: str) -> None:
        if image == LOCAL_IMAGE and os.environ.get(LOCAL_IMAGE_ENV) != "1":
            raise DomainError(f"image {LOCAL_IMAGE!r} is a development backend (the guest agent "
                              f"as a host process, no isolation): the server needs {LOCAL_IMAGE_ENV}=1")

    def start_vm(self, session: Session, image: str, options: Dict[str, object]) -> AsyncInstance:
        """Create the session's next VM (vm1, vm2...) and boot it in the background; its
        panes wait for ``session.vm_ready[name]``. The one place a session's VM is made."""
        self._check_image(image)
        name = next(f"vm{n}" for n in itertools.count(1) if f"vm{n}" not in session.vms)
        vm = self.spare.take(image, options) if self.spare is not None else None
        spare = vm is not None
        if vm is None:
            vm = AsyncInstance(name=name, image=image)
        else:
            vm.name = name                      # a warm spare of this kind, booted or booting
        session.vms[vm.name] = vm
        session.vm_ready[vm.name] = asyncio.Event()
        session.vm_shares[vm.name] = {key: options.get(key, default) for key, default
                                      in (("net", "off"), ("ports", []), ("volumes", []))}
        vm.add_listener(lambda inst: self._vm_changed(session, inst))
        if spare:
            if vm.state is not InstanceState.BOOTING:   # else _vm_changed hears its boot end
                session.vm_ready[vm.name].set()
        else:
            session.boot_tasks.append(asyncio.ensure_future(
                self._boot(vm, session.vm_ready[vm.name], image, options)))
        self.layout_changed(session)
        return vm

    async def _boot(self, vm: AsyncInstance, ready: asyncio.Event, image: str, options: Dict[str, object]) -> None:
        try:
            if image == LOCAL_IMAGE:
                await aio.connect_local(instance=vm)
            else:
                await aio.boot(image, instance=vm, **options)   # type: ignore[arg-type]
        except Error:
            pass            # the instance is FAILED with the reason; its panes say it
        except Exception as exc:
            log.exception("boot of %s crashed", vm.name)
            vm.boot_failed(Error(repr(exc)))
        finally:
            ready.set()

    def _vm_changed(self, session: Session, vm: AsyncInstance) -> None:
        self.layout_changed(session)
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
        pane = Pane(f"%{next(self._pane_ids)}", vm, session.vm_ready[vm.name], argv, rows, cols,
                    session, self)
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
        self.layout_changed(session)
        return pane

    async def new_window(self, target: Target, argv: Optional[List[str]]) -> Tuple[Session, Window, Pane]:
        session = self.session_of(target)
        _, _, beside = self.resolve(Target(session.name))
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
        self.fit(session, window)
        await pane.settled.wait()
        return session, window, pane

    async def respawn(self, target: Target) -> Pane:
        """Run an ended pane's command again (the TUI's ctrl+b r)."""
        session, _, pane = self.resolve(target)
        if pane.process.state in (PaneState.RUNNING, PaneState.STARTING):
            raise DomainError(f"pane {pane.ident} is still {pane.process.state}")
        if pane.vm.state is not InstanceState.RUNNING:
            raise DomainError(f"pane {pane.ident}: its VM {pane.vm.name} is {pane.vm.state}")
        pane.settled.clear()
        pane.task = asyncio.ensure_future(pane.rerun())
        await pane.settled.wait()
        return pane

    async def new_vm(self, target: Target, image: str, argv: Optional[List[str]],
                     options: Dict[str, object]) -> Tuple[Session, Window, Pane]:
        """Boot another VM in the session and open a window with a pane on it."""
        session = self.session_of(target)
        vm = self.start_vm(session, image, options)
        pane = self._new_window(session, vm, argv)
        window = session.window_at(None)
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
            self.fit(session, window)
            return
        await self._drop_window(session, window)

    async def kill_window(self, target: Target) -> None:
        session, window = self.window_of(target)
        for pane in window.panes.values():
            pane.kill()
        window.panes.clear()
        window.layout = SplitTree()
        await self._drop_window(session, window)

    async def _drop_window(self, session: Session, window: Window) -> None:
        session.windows.remove(window)
        if not session.windows:
            await self.end_session(session)
            return
        if session.current == window.index:
            session.current = session.windows[0].index
        self.layout_changed(session)

    def kill_vm(self, session: Session, name: str) -> None:
        """Power one VM off; its panes stay, saying the VM is gone (the listener does)."""
        vm = session.vms.get(name)
        if vm is None:
            raise DomainError(f"session {session.name} has no VM {name} (it has {', '.join(session.vms)})")
        session.boot_tasks.append(asyncio.ensure_future(_close(vm)))
        self.layout_changed(session)

    async def end_session(self, session: Session) -> None:
        """Kill its panes, power its VMs off; the last session's end ends the server."""
        if self.sessions.get(session.name) is not session:
            return
        del self.sessions[session.name]
        for observer in list(self.observers):
            observer.session_ended(session)
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
                "windows": [{"index": w.index, "name": w.name, "active": w.index == session.current,
                             "panes": [p.describe(i, p.ident == w.active) for i, p in enumerate(w.ordered())]}
                            for w in session.windows],
            })
        return out


async def _close(vm: AsyncInstance) -> None:
    try:
        await vm.close()
    except Error as exc:
        log.warning("closing %s: %s", vm.name, exc)


__all__ = ["Domain", "DomainError", "Observer", "Pane", "Session", "Window", "TargetError"]
