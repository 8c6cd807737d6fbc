"""The client side of the socket: find or start the server, send requests, stream execs.

Blocking sockets: a CLI command is one short conversation. The server is
started on demand (``start=True``) as ``python -m cctui server`` in its own
session; the client waits on a pipe the server writes once it listens (an
event, not a sleep) and then connects.
"""
from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from itertools import count
from pathlib import Path
from typing import IO, Any, Deque, Dict, List, Optional, Tuple

from guest_pty_agent.protocol import MAX_PAYLOAD, ProtocolError

from ..errors import Error
from . import paths
from .wire import DATA_CHUNK, VERSION, Frame, decode_json, decoder, encode, encode_json

START_TIMEOUT = 30.0        # seconds for a new server to listen


class NoServer(Error):
    """No server is running (and this command does not start one)."""


class ServerGone(Error):
    """The server hung up: it exited, was killed, or refused this client."""


class ServerClosed(ServerGone):
    """The connection ended: the server (or, over ssh, ssh or the remote proxy) hung up."""


class RequestFailed(Error):
    """The server answered a request with an error."""


class ExecStartFailed(RequestFailed):
    """An exec's command did not start: ``code`` 127 not found, 126 otherwise (as a shell says)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def connect(start: bool = False, ssh: Optional[str] = None) -> "Connection":
    """A connection to this user's server; ``start`` starts one when none runs.

    ``ssh`` ([USER@]HOST): the server on that host, through ``ssh HOST cctui proxy``."""
    if ssh is not None:
        return _connect_ssh(ssh, start)
    conn = Connection(server_socket(start))
    conn.handshake()
    return conn


def server_socket(start: bool = False) -> socket.socket:
    """A socket to this user's server, before HELLO (``cctui proxy`` relays it as it is)."""
    path = paths.socket_path()
    try:
        return _dial(path)
    except (FileNotFoundError, ConnectionRefusedError):
        if not start:
            stale = path.exists()
            raise NoServer(f"no server running on {path}" + (
                " (a stale socket: its server died; the next `cctui new` replaces it)" if stale else ""))
        return _start_server(path)


def _connect_ssh(host: str, start: bool) -> "Connection":
    """HELLO through ssh within a deadline; a failure names the host and what ssh said."""
    from .ssh import HELLO_TIMEOUT, open_ssh_socket
    sock = open_ssh_socket(host, start=start)
    conn = Connection(sock)
    sock.settimeout(HELLO_TIMEOUT)
    began = time.monotonic()
    try:
        conn.handshake()
    except ServerClosed as exc:        # ssh failed, or what it ran is no cctui proxy, or too slow
        failure = sock.failure(exc, timed_out=time.monotonic() - began >= HELLO_TIMEOUT)
        conn.close()
        raise failure from None
    except ServerGone as exc:          # a server answered, but not as this client needs
        conn.close()
        raise ServerGone(f"over ssh to {host}: {exc}") from None
    sock.settimeout(None)
    return conn


def _dial(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _start_server(path: Path) -> socket.socket:
    for _ in range(50):
        answer = _spawn()
        if answer == "ok":
            return _dial(path)
        if answer != "busy":
            log = paths.log_path()
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise Error(f"the cctui server did not start ({answer or 'it exited'}); its log {log}:\n{tail}")
        try:                        # another server holds the lock: it is starting or running
            return _dial(path)
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.1)         # no event crosses to us from a server another client started
    raise Error(f"another cctui server holds {paths.lock_path()} but does not listen on {path}")


def _spawn() -> str:
    """Start ``python -m cctui server``; its first line on our pipe says how it went."""
    read_end, write_end = os.pipe()
    # Each `new` says its transport: the server's own default must not be the first client's.
    env = {k: v for k, v in os.environ.items() if k != "CCTUI_TRANSPORT"}
    with open(paths.log_path(), "wb") as log:      # one server's log, not all of them
        subprocess.Popen([sys.executable, "-m", "cctui", "server", "--ready-fd", str(write_end)],
                         pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, env=env)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], START_TIMEOUT)
        if not ready:
            return f"it did not listen within {START_TIMEOUT:g}s"
        return os.read(read_end, 64).decode(errors="replace").strip()
    finally:
        os.close(read_end)


class Connection:
    """One client connection: HELLO, then requests (one at a time from this object)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._decoder = decoder(MAX_PAYLOAD)
        self._frames: Deque[Tuple[int, int, bytes]] = deque()
        self._ids = count(1)
        self._send_lock = threading.Lock()
        self.server_pid: Optional[int] = None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _send(self, frame: bytes) -> None:
        try:
            with self._send_lock:
                self.sock.sendall(frame)
        except OSError as exc:
            who = f" (pid {self.server_pid})" if self.server_pid else ""
            raise ServerClosed(f"the cctui server{who} closed the connection: {exc.strerror or exc}") from None

    def _next(self) -> Tuple[int, int, bytes]:
        while not self._frames:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                who = f" (pid {self.server_pid})" if self.server_pid else ""
                raise ServerClosed(f"the cctui server{who} closed the connection: it exited or was killed")
            try:
                self._frames.extend(self._decoder.feed(data))
            except ProtocolError as exc:
                raise ServerGone(f"the cctui server sent a malformed frame: {exc}") from None
        ftype, ident, payload = self._frames.popleft()
        if ftype == Frame.ERROR:
            raise ServerGone(f"the cctui server: {_error_text(payload)}")
        return ftype, ident, payload

    def handshake(self) -> None:
        self._send(encode_json(Frame.HELLO, 0, {"version": VERSION}))
        ftype, _, payload = self._next()
        hello = decode_json(payload) if ftype == Frame.HELLO else {}
        if hello.get("version") != VERSION:
            raise ServerGone(f"the cctui server speaks protocol {hello.get('version')}, this client {VERSION}")
        pid = hello.get("pid")
        self.server_pid = pid if isinstance(pid, int) else None

    def request(self, op: str, out: Optional[IO[bytes]] = None, **args: Any) -> Dict[str, Any]:
        """Send one request; OUTPUT for it goes to ``out``; returns the ok REPLY or raises."""
        ident = next(self._ids)
        self._send(encode_json(Frame.REQUEST, ident, {"op": op, **args}))
        while True:
            ftype, got, payload = self._next()
            if got != ident:
                continue
            if ftype == Frame.OUTPUT and out is not None:
                out.write(payload)
            elif ftype == Frame.REPLY:
                reply = decode_json(payload)
                if not reply.get("ok"):
                    raise RequestFailed(str(reply.get("error", "failed")))
                return reply

    def exec(self, target: str, argv: List[str], vm: Optional[str], stdin_fd: Optional[int],
             stdout: IO[bytes], stderr: IO[bytes]) -> int:
        """Run argv in the session's VM, streaming; returns its exit status (128+N for a signal)."""
        ident = next(self._ids)
        self._send(encode_json(Frame.REQUEST, ident, {"op": "exec", "target": target, "vm": vm, "argv": argv}))
        ftype, got, payload = self._until(ident)
        reply = decode_json(payload)
        if ftype != Frame.REPLY or not reply.get("ok"):
            code = reply.get("code")
            raise ExecStartFailed(str(reply.get("error", "exec failed")), code if isinstance(code, int) else 1)
        if stdin_fd is not None:
            threading.Thread(target=self._pump_stdin, args=(ident, stdin_fd), daemon=True).start()
        else:
            self._send(encode(Frame.STDIN_CLOSE, ident))
        while True:
            ftype, _, payload = self._until(ident)
            if ftype == Frame.OUTPUT:
                stdout.write(payload)
                stdout.flush()
            elif ftype == Frame.ERROUT:
                stderr.write(payload)
                stderr.flush()
            elif ftype == Frame.EXIT:
                status = decode_json(payload)
                if status.get("error"):
                    raise RequestFailed(str(status["error"]))
                signal = status.get("signal")
                return 128 + signal if isinstance(signal, int) else int(status.get("code") or 0)

    def _until(self, ident: int) -> Tuple[int, int, bytes]:
        while True:
            frame = self._next()
            if frame[1] == ident:
                return frame

    def _pump_stdin(self, ident: int, fd: int) -> None:
        try:
            while True:
                data = os.read(fd, DATA_CHUNK)
                if not data:
                    break
                self._send(encode(Frame.STDIN, ident, data))
            self._send(encode(Frame.STDIN_CLOSE, ident))
        except (OSError, Error):
            pass            # our stdin or the server went: the main thread reports the latter


def _error_text(payload: bytes) -> str:
    try:
        return str(decode_json(payload).get("error", "error"))
    except ProtocolError:
        return "error"
