"""AsyncInstance: a booted VM (or a local agent) and cc's Exec methods on it."""
from __future__ import annotations

import asyncio
import errno as errno_module
import itertools
import logging
import os
import pwd
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..context import Context
from ..errors import AlreadyClosed, Error, NotRunning
from ..images.config import ImageConfig, entrypoint_argv
from ..session import AgentSession
from ..states import StrState, Transitions, require, state_message
from .backend import Backend
from .cmd import AsyncCmd
from .sinks import WriterSink

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
AGENT_PRIVATE_ENV = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
FILE_CHUNK = 512 * 1024
_names = itertools.count(1)
log = logging.getLogger(__name__)

StateListener = Callable[["AsyncInstance"], None]


class InstanceState(StrState):
    """An instance's life: booting -> running -> stopped (closed, init exited) or failed."""

    BOOTING = "booting"
    RUNNING = "running"
    STOPPED = "stopped"     # ended by its owner: close(), or the init command exited
    FAILED = "failed"       # did not boot, or died under us

    @property
    def live(self) -> bool:
        """Booting or running: worth waiting for, and to be closed on exit."""
        return self in (InstanceState.BOOTING, InstanceState.RUNNING)


_S = InstanceState
TRANSITIONS = Transitions("AsyncInstance", {
    _S.BOOTING: frozenset({_S.RUNNING, _S.FAILED, _S.STOPPED}),   # STOPPED: closed while booting
    _S.RUNNING: frozenset({_S.STOPPED, _S.FAILED}),
    _S.STOPPED: frozenset(),
    _S.FAILED: frozenset(),
})


class AsyncInstance:
    """A guest and cc's Exec methods on it. States: see InstanceState.

    Only this class changes its state, through ``attach`` (booted),
    ``boot_failed``, ``close`` and its own watch on the agent session.
    """

    def __init__(self, *, name: Optional[str] = None, image: str = "host",
                 entrypoint: Optional[Sequence[str]] = None, cmd: Optional[Sequence[str]] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.name = name or f"vm{next(_names)}"
        self.image = image
        self._state = InstanceState.BOOTING
        self.status_detail = "starting"
        self.error: Optional[Error] = None
        self.accel: str = ""
        self.accel_reason: str = ""
        self.transport: str = ""        # "vsock", "vsock-user", "virtio-serial" (or "unix socket")
        self.transport_reason: str = ""
        self.boot_seconds: Optional[float] = None
        self.session: Optional[AgentSession] = None
        self._listeners: List[StateListener] = []
        self._entrypoint = list(entrypoint) if entrypoint is not None else None
        self._cmd = list(cmd) if cmd is not None else None
        self._extra_env = dict(env or {})
        self._base_env: Dict[str, str] = {}      # the guest init's, from the agent's hello
        self._image_env: Dict[str, str] = {}
        self._image_dir: Optional[str] = None
        self._image_user: Optional[str] = None
        self.guest_root: Optional[str] = None   # chroot for commands (an image's root)
        self._closed = False
        self._init: Optional[AsyncCmd] = None     # the exec() workload: its exit ends the VM
        self._backend: Optional[Backend] = None   # None once closed
        self.commands: List[AsyncCmd] = []          # the ones not exited (see _keep)

    # -- state -------------------------------------------------------------
    @property
    def state(self) -> InstanceState:
        return self._state

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def _enter(self, state: InstanceState, detail: str) -> None:
        TRANSITIONS.check(self._state, state)
        self._state = state
        self._notify(detail or state.value)

    def _notify(self, detail: str) -> None:
        """Tell every listener; one that raises is logged and the others still hear."""
        self.status_detail = detail
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:
                log.exception("%s: state listener %r raised (state %s)", self.name, listener, self._state)

    def progress(self, detail: str) -> None:
        """A new status line (boot steps, a guest power-off); the state stays."""
        self._notify(detail)

    @require(InstanceState.BOOTING)
    def attach(self, session: AgentSession, backend: Backend) -> None:
        """The boot succeeded: the agent answered over ``session``; booting -> running."""
        self.session = session
        self._backend = backend
        hello_env = dict(session.hello.get("env") or {})
        for key in AGENT_PRIVATE_ENV:
            hello_env.pop(key, None)
        self._base_env = hello_env
        asyncio.ensure_future(self._watch(session))
        self._enter(InstanceState.RUNNING, "running")

    def boot_failed(self, error: Error) -> None:
        """The boot did not finish: booting -> failed (a close() meanwhile keeps stopped)."""
        if self._state is InstanceState.BOOTING:
            self.error = error
            self._enter(InstanceState.FAILED, str(error))

    async def _watch(self, session: AgentSession) -> None:
        error = await session.closed
        if self._state is InstanceState.RUNNING:
            self.error = error
            ended = self._closed or self._init_exited()
            self._enter(InstanceState.STOPPED if ended else InstanceState.FAILED, str(error))

    def _init_exited(self) -> bool:
        """The exec() workload's EXIT arrived: the guest then powers off by design."""
        channel = self._init.channel if self._init is not None else None
        if channel is None or not channel.exited.done() or channel.exited.cancelled():
            return False
        return channel.exited.exception() is None

    def state_error(self, required: Tuple[InstanceState, ...]) -> NotRunning:
        """What ``@require`` raises here: AlreadyClosed once closed, else NotRunning.

        The message names the actual state and the required ones, and why
        (closed, or what the VM died of)."""
        session_failed = self.session.failed if self.session is not None else None
        if self._closed:
            why = "closed"
        elif self._state is InstanceState.FAILED and self.error is not None:
            why = str(self.error)
        else:
            why = str(session_failed or "")
        if self._state is InstanceState.RUNNING:   # died or closing; the watch has not run yet
            message = f"{self.name} is not running: {why}"
        else:
            message = state_message(self.name, self._state, required, why)
        kind = AlreadyClosed if self._closed else NotRunning
        return kind(message, self._state, required)

    @require(InstanceState.RUNNING)
    def require_session(self) -> AgentSession:
        """The agent session, for a call that needs the guest running."""
        session = self.session
        assert session is not None      # attach() set it on the way to RUNNING
        if self._closed or session.failed is not None:
            raise self.state_error((InstanceState.RUNNING,))
        return session

    async def hypervisor_status(self) -> str:
        """QEMU's own run state over QMP ("running", "paused", ...), or this instance's state."""
        if self._backend is None:
            return self._state.value
        return await self._backend.status()

    @property
    def qemu_pid(self) -> Optional[int]:
        """The QEMU process id (None for a local agent): for diagnostics and tests."""
        return self._backend.hypervisor_pid if self._backend is not None else None

    @property
    def running(self) -> bool:
        return self._state is InstanceState.RUNNING

    # -- image defaults ------------------------------------------------------
    def set_image_config(self, env: Sequence[str], working_dir: Optional[str],
                         user: Optional[str], entrypoint: Sequence[str], cmd: Sequence[str]) -> None:
        """Defaults from an OCI image config (Env, WorkingDir, User, Entrypoint, Cmd)."""
        for item in env:
            key, _, value = item.partition("=")
            self._image_env[key] = value
        self._image_dir = working_dir or None
        self._image_user = user or None
        if self._entrypoint is None:
            self._entrypoint = list(entrypoint)
        if self._cmd is None:
            self._cmd = list(cmd)

    def base_env(self) -> Dict[str, str]:
        # An image starts from its own Env; the host image from the guest init's.
        env = {} if self.guest_root else dict(self._base_env)
        env.update(self._image_env)
        env.setdefault("PATH", DEFAULT_PATH)
        env.setdefault("HOME", "/root")
        term = env.get("TERM", "")
        env["TERM"] = term if term not in ("", "dumb", "linux") else "xterm-256color"
        env.setdefault("LANG", "C.UTF-8")
        env.update(self._extra_env)
        return env

    def default_dir(self) -> Optional[str]:
        return self._image_dir

    def default_user(self) -> Optional[str]:
        return self._image_user

    # -- commands --------------------------------------------------------------
    def command(self, name: str, *args: str) -> AsyncCmd:
        return self._keep(AsyncCmd(self, [name, *args]))

    def command_context(self, ctx: Context, name: str, *args: str) -> AsyncCmd:
        return self._keep(AsyncCmd(self, [name, *args], ctx))

    def _keep(self, cmd: AsyncCmd) -> AsyncCmd:
        """List the command while it may still run; exited ones are dropped here,
        so a long session that runs many commands holds only the live ones."""
        self.commands = [c for c in self.commands if not c.exited]
        self.commands.append(cmd)
        return cmd

    def entrypoint_argv(self, args: Sequence[str]) -> List[str]:
        """Seed semantics: no args -> ENTRYPOINT+CMD; args -> ENTRYPOINT+args.

        With neither ENTRYPOINT nor CMD the entrypoint is a shell: the user's
        login shell for the host image, /bin/sh in an image.
        """
        entrypoint = list(self._entrypoint or [])
        if not entrypoint and not self._cmd:
            entrypoint = self.shell_argv()
        config = ImageConfig(entrypoint=entrypoint, cmd=list(self._cmd or []))
        return entrypoint_argv(config, args, default_shell=self.shell_argv()[0])

    def shell_argv(self) -> List[str]:
        """An interactive shell in this guest: the login shell, or the image's /bin/sh."""
        return [login_shell()] if self.image in ("host", "local") else ["/bin/sh"]

    def entrypoint_command(self, *args: str) -> AsyncCmd:
        argv = self.entrypoint_argv(args)
        return self.command(argv[0], *argv[1:])

    async def exec(self, path: str, *args: str) -> int:
        return await self.exec_context(None, path, *args)

    @require(InstanceState.RUNNING)
    async def exec_context(self, ctx: Optional[Context], path: str, *args: str) -> int:
        """Run ``path`` as the guest's workload; the VM ends when it exits.

        Its output goes to this process's stdout/stderr (it owns the console);
        returns the exit status (128+N for a signal).
        """
        cmd = AsyncCmd(self, [path, *args], ctx)
        cmd.init = True
        self._init = cmd
        cmd.set_stdout(WriterSink(sys.stdout.buffer)).set_stderr(WriterSink(sys.stderr.buffer))
        await cmd.start()
        try:
            await cmd.wait()
        except Error:
            if not cmd.exited:
                raise
        await self._after_init_exit()
        return cmd.exit_code()

    async def _after_init_exit(self) -> None:
        if self._backend is not None:
            await self._backend.wait_stopped(10.0)
        self._closed = True
        if self._state is InstanceState.RUNNING:
            self._enter(InstanceState.STOPPED, "the init command exited")

    # -- files -----------------------------------------------------------------
    async def _file_request(self, header: Dict[str, Any], blob: bytes = b"") -> Tuple[Dict[str, Any], bytes]:
        if self.guest_root:
            header = dict(header, root=self.guest_root)
        reply, data = await self.require_session().request(header, blob)
        if not reply.get("ok"):
            code = reply.get("errno")
            code = code if isinstance(code, int) and 0 < code < 4096 else errno_module.EIO
            raise OSError(code, os.strerror(code), header.get("path"))
        return reply, data

    @require(InstanceState.RUNNING)
    async def mkdir_all(self, path: str, mode: int = 0o755) -> None:
        await self._file_request({"op": "mkdir_all", "path": path, "mode": mode})

    @require(InstanceState.RUNNING)
    async def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        if isinstance(data, str):
            data = data.encode()
        offset = 0
        while True:
            chunk = data[offset:offset + FILE_CHUNK]
            await self._file_request({"op": "write_file", "path": path, "mode": mode,
                                      "append": offset > 0}, chunk)
            offset += len(chunk)
            if offset >= len(data):
                return

    @require(InstanceState.RUNNING)
    async def read_file(self, path: str) -> bytes:
        parts: List[bytes] = []
        offset = 0
        while True:
            reply, data = await self._file_request(
                {"op": "read_file", "path": path, "offset": offset, "length": FILE_CHUNK})
            if len(data) > FILE_CHUNK:      # more than asked: the guest is not to be trusted
                raise self.require_session().reject(
                    f"agent answered a {FILE_CHUNK}-byte read with {len(data)} bytes")
            parts.append(data)
            offset += len(data)
            size = reply.get("size")
            if not data or not isinstance(size, int) or offset >= size:
                return b"".join(parts)

    @require(InstanceState.RUNNING)
    async def copy_to(self, host_path: str, guest_path: str, recursive: bool = False) -> None:
        """Copy a host file (or, with recursive, a tree) into the guest, as ``cp`` would:
        streamed, mode bits and mtimes kept; see cctui/api/copy.py."""
        from .copy import copy_to
        await copy_to(self, os.fspath(host_path), guest_path, recursive)

    @require(InstanceState.RUNNING)
    async def copy_from(self, guest_path: str, host_path: str, recursive: bool = False) -> None:
        """Copy a guest file (or, with recursive, a tree) to the host, as ``cp`` would;
        nothing the guest says can place a file outside host_path."""
        from .copy import copy_from
        await copy_from(self, guest_path, os.fspath(host_path), recursive)

    # -- lifetime ----------------------------------------------------------------
    async def close(self) -> None:
        """Power the guest off (QMP quit, then kill, if it does not go)."""
        if self._closed and self._backend is None:
            return
        self._closed = True
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.stop()
        if self.session is not None and self.session.failed is None:
            self.session.fail(AlreadyClosed(f"{self.name} was closed"))
        if self._state in (InstanceState.BOOTING, InstanceState.RUNNING):
            self._enter(InstanceState.STOPPED, "closed")

    async def __aenter__(self) -> "AsyncInstance":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def login_shell() -> str:
    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        shell = ""
    return shell if shell and os.path.exists(shell) else "/bin/sh"
