"""The warm spare: one VM of the default image kept booted, so a new session starts at once.

It boots only once the server has had no client request or input for
``spare_idle`` seconds and at least one session exists (a server with no
session ends by itself, and the spare must not keep it up), and its QEMU runs
at nice ``SPARE_NICE`` so neither its boot nor its idling takes CPU from a
user's keystrokes; a session that takes it gets normal priority back. A boot
that fails is logged and retried with a growing delay. ``close()`` (the server
ending) powers it off: no QEMU outlives the server.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Callable, Dict, Optional

from .. import aio
from ..api.instance import AsyncInstance, InstanceState
from ..config import Config
from ..errors import Error
from ..guest_text import printable
from ..vm.qemu import SPAWN_NICE

log = logging.getLogger(__name__)
SPARE_NICE = 10
IMAGE = "host"
# What a plain ``cctui new`` (and the boot dialog's defaults) asks for: only such a
# request may take the spare.
OPTIONS: Dict[str, object] = {"accel": "auto", "memory_mb": 1024, "cpus": 2, "transport": "auto",
                              "net": "off", "ports": [], "volumes": []}
BACKOFF_FIRST = 10.0        # seconds before retrying a failed spare boot, doubled each time
BACKOFF_MAX = 600.0
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


class SparePool:
    """Keeps one spare VM; ``activity()`` on every client frame, ``take()`` on a new VM."""

    def __init__(self, config: Config, has_sessions: Callable[[], bool],
                 config_error: Optional[str] = None) -> None:
        self.enabled = config.spare > 0
        self.idle = config.spare_idle
        self.config_error = config_error
        self._has_sessions = has_sessions
        self._last_activity = time.monotonic()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._vm: Optional[AsyncInstance] = None
        self._task: Optional[asyncio.Task] = None
        self._failures = 0
        self._not_before = 0.0          # monotonic: the next boot waits for this (backoff)
        self.error: Optional[str] = None
        self.taken = 0
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
        if not self._has_sessions():
            return                      # the next client request arms it again
        self._task = asyncio.ensure_future(self._boot())

    async def _boot(self) -> None:
        vm = AsyncInstance(name="spare", image=IMAGE)
        self._vm = vm
        vm.add_listener(self._changed)
        SPAWN_NICE.set(SPARE_NICE)      # this task's context only: its QEMU starts niced
        log.info("booting a spare VM (nice %d)", SPARE_NICE)
        try:
            await aio.boot(IMAGE, instance=vm, **OPTIONS)   # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(vm, str(exc) if isinstance(exc, Error) else repr(exc))
            return
        finally:
            self._task = None
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
        self._vm = None
        self._failures += 1
        delay = min(BACKOFF_FIRST * 2 ** (self._failures - 1), BACKOFF_MAX)
        self._not_before = time.monotonic() + delay
        self.error = printable(reason)[:500]
        log.warning("spare VM failed (%s); next try in %.0fs", self.error, delay)
        asyncio.ensure_future(_close(vm))
        self._arm()

    # -- handing it out ------------------------------------------------------------------------
    def take(self, image: str, options: Dict[str, object]) -> Optional[AsyncInstance]:
        """The ready spare when a VM of its kind is asked for, else None (boot one as usual)."""
        vm = self._vm
        if vm is None or vm.state is not InstanceState.RUNNING or not matches(image, options):
            return None
        self._vm = None
        self.taken += 1
        pid = vm.qemu_pid
        if pid is not None:
            renice(pid, 0)
        log.info("spare VM (qemu pid %s) taken", pid)
        self._arm()                     # the next one boots after the next idle spell
        return vm

    # -- the end ---------------------------------------------------------------------------------
    async def close(self) -> None:
        """Power the spare off (the server is ending)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        vm, self._vm = self._vm, None
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
        return {"enabled": self.enabled, "state": state, "qemu_pid": pid,
                "nice": nice_of(pid) if pid is not None else None,
                "idle_seconds": self.idle, "taken": self.taken, "failures": self._failures,
                "error": self.error, "config_error": self.config_error}


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
