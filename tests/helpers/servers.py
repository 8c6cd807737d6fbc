"""A ``python -m cctui server`` of a test's own, in a fresh socket directory.

The server says on a pipe when it listens (the same ready pipe clients use), so
a test waits for that event, never a sleep. Its log stays in the directory
until the context ends (read it with ``server_log`` when a test fails).
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from cctui.server import paths


@dataclass
class SpawnedServer:
    where: str                      # its CCTUI_SOCKET_DIR
    proc: "subprocess.Popen[bytes]"

    @property
    def socket_path(self) -> str:
        return os.path.join(self.where, paths.SOCKET_NAME)


@contextmanager
def spawned_server(prefix: str = "cctui-test-", local_image: bool = True) -> Iterator[SpawnedServer]:
    """Start it (allowed the local image unless told not to) and wait until it listens;
    on leaving, SIGTERM (its VMs power off with it), then SIGKILL if it lingers."""
    where = tempfile.mkdtemp(prefix=prefix)
    env = dict(os.environ, CCTUI_SOCKET_DIR=where)
    if local_image:
        env["CCTUI_ALLOW_LOCAL_IMAGE"] = "1"
    read_end, write_end = os.pipe()
    log = open(os.path.join(where, "test-server.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "server", "--ready-fd", str(write_end)],
                            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env=env, start_new_session=True)
    os.close(write_end)
    try:
        assert select.select([read_end], [], [], 30)[0], "the server did not start"
        assert os.read(read_end, 64).strip() == b"ok"
        yield SpawnedServer(where, proc)
    finally:
        os.close(read_end)
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()
        shutil.rmtree(where, ignore_errors=True)
