"""Host-side helpers for the network tests: a free loopback port, a one-shot TCP server,
an HTTP GET through a published port."""
from __future__ import annotations

import socket
import threading
import urllib.request
from typing import List


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TokenServer:
    """Listens on the host's loopback; sends ``token`` to whoever connects, counts them."""

    def __init__(self, token: bytes) -> None:
        self.token = token
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.accepted: List[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.accepted.append(peer[0])
            with conn:
                conn.sendall(self.token)

    def close(self) -> None:
        self.sock.close()


def http_get(port: int) -> bytes:
    """The body, or b'' while nothing answers yet (slirp accepts before the guest listens)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/token.txt", timeout=5) as reply:
            return bytes(reply.read())
    except (OSError, ValueError):
        return b""


GUEST_CONNECT = ("import socket,sys\n"
                 "s = socket.create_connection(('10.0.2.2', int(sys.argv[1])), timeout=5)\n"
                 "sys.stdout.write(s.recv(100).decode())\n")
