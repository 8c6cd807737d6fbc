"""``cctui proxy``: this user's server socket on stdin/stdout, for a client over ssh.

``ssh -T HOST cctui proxy`` runs this on the server's machine; it connects to
the server (starting one unless ``--no-start``) and relays bytes both ways
until either side ends. It parses no frames: the client and the server speak
the protocol (HELLO and its version check included) end to end, and the
server checks what comes in as it checks any client's bytes.
"""
from __future__ import annotations

import os
import socket
import sys
import threading

from ..errors import Error
from .client import server_socket

CHUNK = 1 << 16


def main(start: bool = True) -> int:
    """Relay stdin/stdout to the server; an error is one line on stderr and status 1."""
    try:
        sock = server_socket(start)
    except Error as exc:
        print(f"cctui proxy: {exc}", file=sys.stderr)
        return 1
    threading.Thread(target=_up, args=(sock,), daemon=True, name="proxy stdin").start()
    _down(sock)
    return 0


def _up(sock: socket.socket) -> None:
    """stdin to the server; at stdin's end the server sees ours."""
    try:
        while True:
            data = os.read(0, CHUNK)
            if not data:
                break
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass                # the server went: _down sees it and ends the relay


def _down(sock: socket.socket) -> None:
    """The server's bytes to stdout, until it hangs up or stdout's reader does."""
    try:
        while True:
            data = sock.recv(CHUNK)
            if not data:
                break
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]
    except OSError:
        pass
    finally:
        sock.close()
