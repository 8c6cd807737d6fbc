"""QEMU's side of the userspace vsock: shared guest memory and the vhost-user device."""
from __future__ import annotations

from pathlib import Path
from typing import List


def qemu_args(vhost_socket: Path, memory_mb: int, bus: str) -> List[str]:
    """Guest RAM from a shared memfd (the backend maps it), and the device on our socket.

    ``-machine memory-backend=`` merges with the machine's other options.
    """
    return ["-object", f"memory-backend-memfd,id=vsockmem,size={memory_mb}M,share=on",
            "-machine", "memory-backend=vsockmem",
            "-chardev", f"socket,id=vsockvu,path={vhost_socket}",
            "-device", f"vhost-user-vsock-{bus},chardev=vsockvu"]
