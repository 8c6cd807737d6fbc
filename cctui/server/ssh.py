"""A stream to the cctui server on another machine: ``ssh -T HOST cctui proxy``.

SSH is the transport and the authentication: we open no port and add no
credentials. ssh's stdin and stdout are one end of a ``socketpair``; the other
end is returned as an ordinary connected socket, so the blocking ``Connection``
and the asyncio code use it exactly as they use the local unix socket.

``CCTUI_SSH_REMOTE`` (a shell command string run on the remote host, default
``cctui proxy``) names the remote command, e.g. ``~/cctui/.venv/bin/cctui proxy``
when cctui is not on the remote PATH; `` --no-start`` is appended to it when the
client must not start a server there (``ls``, ``exec``, ``connect``). ``CCTUI_SSH_OPTIONS`` (split as a shell
splits it) adds ssh options, e.g. ``-p 2222 -i ~/.ssh/vmhost -F ~/.ssh/cctui``;
they come before ours, and ssh keeps the first value of an option, so they win.
"""
from __future__ import annotations

import asyncio
import os
import shlex
import socket
import subprocess
import threading
import time
from typing import Awaitable, Callable, List, Optional, Tuple, Type, TypeVar

from ..errors import Error
from ..guest_text import printable

DEFAULT_REMOTE = "cctui proxy"
HELLO_TIMEOUT = 60.0        # ssh's connect and auth, the remote proxy, a server starting there
STDERR_KEEP = 4096          # the tail of ssh's stderr kept for an error message
EXIT_GRACE = 5.0            # after our end closes, ssh's time to exit before it is killed
OPTIONS_LIMIT = 4096        # CCTUI_SSH_OPTIONS and CCTUI_SSH_REMOTE, in characters
HOST_LIMIT = 255


class SshError(Error):
    """ssh did not bring us to a cctui server on the host; the message says why."""


class SshSocket(socket.socket):
    """Our end of the stream to ``ssh``: closing it lets ssh exit, and kills it if it lingers."""

    host: str
    remote: str
    process: "subprocess.Popen[bytes]"
    _stderr: bytearray
    _drained: threading.Event

    def close(self) -> None:
        super().close()
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            threading.Thread(target=_end, args=(process,), daemon=True).start()

    def ssh_message(self) -> str:
        """ssh's last non-empty stderr line (its own error, or the remote command's)."""
        text = bytes(self._stderr).decode(errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return printable(lines[-1], 300) if lines else ""

    def failure(self, why: Exception, timed_out: bool = False) -> Error:
        """The error to raise when no HELLO came back through this ssh: names the host and what ssh said."""
        if timed_out:
            self.process.kill()
        deadline = time.monotonic() + EXIT_GRACE
        self._drained.wait(EXIT_GRACE)      # stderr's end: ssh exited (or is about to)
        try:
            code: Optional[int] = self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
        said = self.ssh_message()
        tail = f": {said}" if said else ""
        if timed_out:
            return SshError(f"no answer from cctui over ssh to {self.host} within {HELLO_TIMEOUT:g}s{tail}")
        if code is None:                   # ssh is up: the far end answered, but not as we need
            return Error(f"over ssh to {self.host}: {why}")
        if code == 255:
            return SshError(f"ssh to {self.host} failed{tail or ' (status 255)'}")
        if code == 127:
            return SshError(f"`{self.remote}` is not found on {self.host}{tail}; install cctui there, "
                            "or set CCTUI_SSH_REMOTE to its `cctui proxy` command")
        if code != 0:
            return SshError(f"over ssh to {self.host}{tail or ''} (status {code})")
        return SshError(f"the remote end closed before HELLO: `{self.remote}` on {self.host} exited "
                        f"without speaking cctui's protocol{tail}; CCTUI_SSH_REMOTE names the remote "
                        "`cctui proxy` command")


T = TypeVar("T")


async def within_hello_deadline(sock: SshSocket, opening: Awaitable[T],
                                lost: Tuple[Type[Exception], ...],
                                answered: Callable[[], bool] = lambda: False) -> T:
    """An async handshake through ssh within HELLO_TIMEOUT. When it fails with one of
    ``lost`` (or times out) before the far end ``answered``, the error names the host
    and what ssh said (``SshSocket.failure``); after that it is the handshake's own."""
    caught: Tuple[Type[Exception], ...] = (*lost, asyncio.TimeoutError)
    try:
        return await asyncio.wait_for(opening, HELLO_TIMEOUT)
    except caught as exc:
        if answered():
            raise
        timed_out = isinstance(exc, asyncio.TimeoutError)
        raise await asyncio.get_running_loop().run_in_executor(None, sock.failure, exc, timed_out) from None


def open_ssh_socket(host: str, start: bool = True) -> SshSocket:
    """A socket to the cctui server on ``host`` ([USER@]HOST, as ssh takes it).

    ``start``: the remote proxy starts a server when none runs there (``cctui new``
    does; ``ls`` and ``exec`` do not). The caller speaks HELLO first, with a
    timeout (``HELLO_TIMEOUT``); when that fails, ``raise sock.failure(exc)``
    names the host and ssh's own message.
    """
    _check_host(host)
    remote = _setting("CCTUI_SSH_REMOTE") or DEFAULT_REMOTE
    try:
        options = shlex.split(_setting("CCTUI_SSH_OPTIONS"))
    except ValueError as exc:
        raise SshError(f"CCTUI_SSH_OPTIONS does not split as a shell command line: {exc}") from None
    argv: List[str] = ["ssh", *options, "-T", "-o", "BatchMode=" + ("no" if _has_tty() else "yes"),
                       "-o", "ConnectTimeout=15", "--", host, remote + ("" if start else " --no-start")]
    ours, theirs = socket.socketpair()
    sock = SshSocket(ours.family, ours.type, ours.proto, fileno=ours.detach())
    try:
        process = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(),
                                   stderr=subprocess.PIPE)
    except OSError as exc:
        sock.close()
        raise SshError(f"cannot run ssh to reach {host}: {exc.strerror or exc}") from None
    finally:
        theirs.close()
    sock.host, sock.remote, sock.process = host, remote, process
    sock._stderr, sock._drained = bytearray(), threading.Event()
    threading.Thread(target=_drain, args=(sock,), daemon=True, name=f"ssh {host} stderr").start()
    return sock


def _drain(sock: SshSocket) -> None:
    """Keep the tail of ssh's stderr (so it never blocks on a full pipe), then reap ssh."""
    stream = sock.process.stderr
    assert stream is not None
    try:
        while True:
            data = os.read(stream.fileno(), 4096)
            if not data:
                break
            sock._stderr += data
            del sock._stderr[:-STDERR_KEEP]
    except (OSError, ValueError):
        pass
    finally:
        stream.close()
        sock._drained.set()
    sock.process.wait()


def _end(process: "subprocess.Popen[bytes]") -> None:
    try:
        process.wait(EXIT_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _check_host(host: str) -> None:
    """A host is one ssh argument: never an option (``-oProxyCommand=...``), no spaces or controls."""
    if not host or len(host) > HOST_LIMIT or host.startswith("-") or any(
            c.isspace() or not c.isprintable() for c in host):
        raise SshError(f"not a host for ssh: {printable(host, 80)!r} (expected [USER@]HOST)")


def _setting(name: str) -> str:
    value = os.environ.get(name, "")
    if len(value) > OPTIONS_LIMIT:
        raise SshError(f"{name} is longer than {OPTIONS_LIMIT} characters")
    return value


def _has_tty() -> bool:
    """ssh may ask for a password or passphrase only where someone can type it."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        return True
    except OSError:
        return False
