"""The agent's stream over the userspace vhost-user-vsock backend, on a real VM."""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket

import pytest

import cctui
from cctui import runtime

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


@pytest.fixture(scope="module")
def uvm():
    instance = cctui.boot(transport="vsock-user")
    try:
        yield instance
    finally:
        instance.close()


def test_the_vm_says_it_uses_the_userspace_vsock(uvm: cctui.Instance) -> None:
    assert uvm.transport == "vsock-user" and "userspace" in uvm.transport_reason
    # The guest's vsock driver is bound to a device: the stream does not go over virtio-serial.
    bound = uvm.command("sh", "-c", "ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/"
                                     " | grep -c '^virtio'").output()
    assert bound == b"1\n"


def test_commands_and_exit_codes(uvm: cctui.Instance) -> None:
    assert uvm.command("echo", "hello").output() == b"hello\n"
    cmd = uvm.command("sh", "-c", "exit 3")
    with pytest.raises(cctui.ExitError):
        cmd.run()
    assert cmd.exit_code() == 3


def test_fifty_parallel_commands(uvm: cctui.Instance) -> None:
    async def all_of_them() -> list:
        cmds = [uvm.aio.command("sh", "-c", f"echo start {i}; sleep 0.3; echo end {i}")
                for i in range(50)]
        return list(await asyncio.gather(*(c.output() for c in cmds)))
    outputs = runtime.run(all_of_them(), timeout=300)
    assert outputs == [f"start {i}\nend {i}\n".encode() for i in range(50)]


def test_twenty_megabytes_guest_to_host(uvm: cctui.Instance) -> None:
    size = 20 * 1024 * 1024
    digest = uvm.command("sh", "-c", f"head -c {size} /dev/urandom > /tmp/blob && "
                                     "sha256sum /tmp/blob").output().split()[0].decode()
    data = uvm.command("cat", "/tmp/blob").output()
    assert len(data) == size and hashlib.sha256(data).hexdigest() == digest


def test_four_megabytes_host_to_guest(uvm: cctui.Instance) -> None:
    data = os.urandom(4 * 1024 * 1024)
    out = uvm.command("sha256sum").set_stdin(io.BytesIO(data)).output()
    assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()


def _state_dir(vm: cctui.Instance):
    return vm.aio._backend.machine.qemu.config.state_dir      # type: ignore[union-attr]


def test_guest_connects_out_to_a_listening_host_socket(uvm: cctui.Instance) -> None:
    """Guest → CID 2 port P reaches ``<state>/vsock.sock_P`` (the hybrid convention)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(_state_dir(uvm) / "vsock.sock_5555"))
    server.listen(1)
    server.settimeout(60)
    script = ("import socket; s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); "
              "s.connect((2, 5555)); s.sendall(b'from the guest ' * 1000); "
              "s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())")
    cmd = uvm.command(sys_python(), "-c", script)
    out = io.BytesIO()
    cmd.set_stdout(out).start()
    peer, _ = server.accept()
    received = b""
    while chunk := peer.recv(1 << 16):
        received += chunk
    peer.sendall(b"host says hi")
    peer.close()
    cmd.wait()
    assert received == b"from the guest " * 1000 and out.getvalue() == b"host says hi\n"


def test_guest_connections_nobody_takes_are_refused(uvm: cctui.Instance) -> None:
    script = ("import socket\nrefused = 0\nfor _ in range(200):\n"
              "    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\n"
              "    try: s.connect((2, 7777))\n"
              "    except OSError: refused += 1\n"
              "    s.close()\nprint(refused)")
    assert uvm.command(sys_python(), "-c", script).output() == b"200\n"
    assert uvm.command("echo", "still fine").output() == b"still fine\n"


def sys_python() -> str:
    from cctui.vm.guest_python import base_python
    return base_python()
