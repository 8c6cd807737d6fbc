"""The warm spare: one VM of the default image kept booted, so a new session starts at once.

It boots only once the server has had no client request or input for
``spare_idle`` seconds, no session's VM is booting (a user waits for that one),
and at least one session exists (a server with no session ends by itself, and
the spare must not keep it up), and its QEMU runs
at nice ``SPARE_NICE`` so neither its boot nor its idling takes CPU from a
user's keystrokes; a session that takes it gets normal priority back, even
mid-boot (the rest of its boot is then the session's, shorter than a whole one).
A boot that fails is logged and retried with a growing delay. ``close()`` (the server
ending) powers it off: no QEMU outlives the server.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Callable, Dict, Mapping, Optional, Protocol

from .. import aio
from ..api.instance import AsyncInstance, InstanceState
from ..config import Config
from ..errors import Error
from ..guest_text import printable
from ..vm.qemu import SPAWN_NICE, SPAWNED

log = logging.getLogger(__name__)
SPARE_NICE = 10
IMAGE = "host"
# What a plain ``cctui new`` (and the boot dialog's defaults) asks for: only such a
# request may take the spare.
OPTIONS: Dict[str, object] = {"accel": "auto", "memory_mb": 1024, "cpus": 2, "transport": "auto",
                              "net": "off", "ports": [], "volumes": []}
BACKOFF_FIRST = 10.0        # seconds before retrying a failed spare boot, doubled each time
BACKOFF_MAX = 600.0
BOOT_RECHECK = 1.0          # seconds between looks while a session's VM boots
# Requests that only look (a script polling ls) do not count as a user at work.
QUIET_OPS = frozenset({"ls", "capture-pane", "wait-text"})


def matches(image: str, options: Dict[str, object]) -> bool:
    """Whether a VM asked for with these boot options is the spare's kind."""
    if image != IMAGE:
        return False
    for key, value in options.items():
        default = OPTIONS.get(key)
        if key == "net" and value in (False, None):
            value = "off"
        if key in ("ports", "volumes") and not value:
            value = []
        if value != default:
            return False
    return True


class _Session(Protocol):
    vms: Dict[str, AsyncInstance]


class _Boot:
    """One spare: its QEMU's pid once spawned, and whether a session has taken it."""

    def __init__(self, vm: AsyncInstance) -> None:
        self.vm = vm
        self.pid: Optional[int] = None
        self.taken = False

    def spawned(self, pid: int) -> None:
        self.pid = pid
        if self.taken:              # taken before QEMU started: it starts niced, undo that
            renice(pid, 0)


class SparePool:
    """Keeps one spare VM; ``activity()`` on every client frame, ``take()`` on a new VM."""

    def __init__(self, config: Config, sessions: Callable[[], Mapping[str, _Session]],
                 config_error: Optional[str] = None) -> None:
        self.enabled = config.spare > 0
        self.idle = config.spare_idle
        self.config_error = config_error
        self._sessions = sessions
        self._last_activity = time.monotonic()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._vm: Optional[AsyncInstance] = None
        self._boot_state: Optional[_Boot] = None
        self._task: Optional[asyncio.Task] = None
        self._failures = 0
        self._not_before = 0.0          # monotonic: the next boot waits for this (backoff)
        self.error: Optional[str] = None
        self.taken = 0
        self.taken_booting = 0
        self.closed = False

    # -- when to boot ------------------------------------------------------------------------
    def activity(self, op: str = "") -> None:
        """A client did something (a request ``op``, or input): the idle clock restarts
        (cheap: a store per frame)."""
        if op in QUIET_OPS:
            return
        self._last_activity = time.monotonic()
        self._arm()

    def _arm(self) -> None:
        if not self.enabled or self.closed or self._timer is not None or self._vm is not None:
            return
        due = max(self._last_activity + self.idle, self._not_before) - time.monotonic()
        self._timer = asyncio.get_event_loop().call_later(max(due, 0.0), self._due)

    def _due(self) -> None:
        self._timer = None
        if self.closed or self._vm is not None:
            return
        now = time.monotonic()
        if now < max(self._last_activity + self.idle, self._not_before):
            self._arm()                 # activity since: wait for the rest of the idle time
            return
        sessions = self._sessions()
        if not sessions:
            return                      # the next client request arms it again
        if any(vm.state is InstanceState.BOOTING for session in sessions.values()
               for vm in session.vms.values()):
            self._last_activity = now   # a user waits for that boot: wait our idle time again
            self._not_before = max(self._not_before, now + BOOT_RECHECK)
            self._arm()
            return
        self._task = asyncio.ensure_future(self._boot())

    async def _boot(self) -> None:
        vm = AsyncInstance(name="spare", image=IMAGE)
        state = _Boot(vm)
        self._vm, self._boot_state = vm, state
        vm.add_listener(self._changed)
        SPAWN_NICE.set(SPARE_NICE)      # this task's context only: its QEMU starts niced
        SPAWNED.set(state.spawned)
        log.info("booting a spare VM (nice %d)", SPARE_NICE)
        try:
            await aio.boot(IMAGE, instance=vm, **OPTIONS)   # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(vm, str(exc) if isinstance(exc, Error) else repr(exc))
            return
        finally:
            if self._task is asyncio.current_task():
                self._task = None       # (a spare taken mid-boot no longer is the pool's task)
        log.info("spare VM ready: qemu pid %s, booted in %.1fs", vm.qemu_pid, vm.boot_seconds or 0.0)
        self._failures = 0
        self.error = None

    def _changed(self, vm: AsyncInstance) -> None:
        if vm is self._vm and vm.state in (InstanceState.FAILED, InstanceState.STOPPED) and not self.closed:
            self._failed(vm, str(vm.error or vm.status_detail or vm.state))

    def _failed(self, vm: AsyncInstance, reason: str) -> None:
        """Drop it and try again later, each failure waiting twice as long."""
        if vm is not self._vm:
            return
        self._vm = self._boot_state = None
        self._failures += 1
        delay = min(BACKOFF_FIRST * 2 ** (self._failures - 1), BACKOFF_MAX)
        self._not_before = time.monotonic() + delay
        self.error = printable(reason)[:500]
        log.warning("spare VM failed (%s); next try in %.0fs", self.error, delay)
        asyncio.ensure_future(_close(vm))
        self._arm()

    # -- handing it out ------------------------------------------------------------------------
    def take(self, image: str, options: Dict[str, object]) -> Optional[AsyncInstance]:
        """The spare, ready or still booting, when a VM of its kind is asked for; else
        None (boot one as usual). A booting one is the caller's to wait for: it leaves
        the booting state either way, as any instance does."""
        vm, state = self._vm, self._boot_state
        if vm is None or state is None or not vm.state.live or not matches(image, options):
            return None
        self._vm = self._boot_state = None
        self.taken += 1
        state.taken = True
        pid = vm.qemu_pid or state.pid
        if pid is not None:
            renice(pid, 0)
        if vm.state is InstanceState.BOOTING and self._task is not None:
            self.taken_booting += 1
            task, self._task = self._task, None
            vm.add_listener(lambda inst: _stop_boot_if_closed(inst, task))
        log.info("spare VM (qemu pid %s, %s) taken", pid, vm.state)
        self._arm()                     # the next one boots after the next idle spell
        return vm

    # -- the end ---------------------------------------------------------------------------------
    async def close(self) -> None:
        """Power the spare off (the server is ending)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        vm, self._vm, self._boot_state = self._vm, None, None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()       # a boot cut short quits its QEMU before the task ends
            await asyncio.gather(task, return_exceptions=True)
        if vm is not None:
            await _close(vm)

    def describe(self) -> Dict[str, object]:
        """For ``ls --json``: whether a spare is kept, and how it stands."""
        vm = self._vm
        if not self.enabled:
            state = "off"
        elif vm is None:
            state = "waiting"
        else:
            state = "ready" if vm.state is InstanceState.RUNNING else str(vm.state)
        pid = vm.qemu_pid if vm is not None else None
        if pid is None and self._boot_state is not None:
            pid = self._boot_state.pid          # booting: QEMU runs, its agent has not answered
        return {"enabled": self.enabled, "state": state, "qemu_pid": pid,
                "nice": nice_of(pid) if pid is not None else None,
                "idle_seconds": self.idle, "taken": self.taken, "taken_booting": self.taken_booting,
                "failures": self._failures,
                "error": self.error, "config_error": self.config_error}


def _stop_boot_if_closed(vm: AsyncInstance, task: asyncio.Task) -> None:
    """A spare taken mid-boot whose session closed it: stop the boot (and its QEMU) now
    rather than when the agent answers."""
    if vm.state is InstanceState.STOPPED and not task.done():
        task.cancel()


def renice(pid: int, value: int) -> None:
    """Set every thread of ``pid`` to nice ``value`` (Linux's nice is per thread)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        tids = [pid]
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, value)
        except ProcessLookupError:
            continue                # a thread that just ended
        except PermissionError:     # lowering nice needs CAP_SYS_NICE or RLIMIT_NICE
            log.warning("could not give qemu pid %d normal priority back: it stays at nice %d",
                        pid, nice_of(pid))
            return


def nice_of(pid: int) -> Optional[int]:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except OSError:
        return None


async def _close(vm: AsyncInstance) -> None:
    try:
        await vm.close()
    except Error as exc:
        log.warning("closing the spare VM: %s", exc)


__all__ = ["IMAGE", "OPTIONS", "SPARE_NICE", "SparePool", "matches", "renice"]
