"""The blocking entry points ``cctui.boot``, ``cctui.connect`` and ``cctui.connect_local``.

Here, above both layers, because they join them: vm/ boots an AsyncInstance
and api/ wraps it in the blocking Instance; api/ itself never imports vm/.
"""
from __future__ import annotations

from typing import Any, Optional

from . import runtime
from .api.blocking import Instance


def boot(image: str = "host", **options: Any) -> Instance:
    """Boot a VM (default: the host's root, read-only) and return it running.

    Options: accel ("auto"|"kvm"|"tcg"), memory_mb, cpus, entrypoint, cmd, env,
    transport ("auto"|"virtio-serial"|"vsock"), boot_timeout, name,
    net (False|True|"restrict"), ports (docker's -p strings, e.g. "127.0.0.1:8080:80"),
    volumes (docker's -v strings, e.g. "/src:/work" or "/data:/data:ro").
    """
    from .vm.machine import boot_async
    return Instance(runtime.run(boot_async(image, **options)))


def connect_local() -> Instance:
    """An Instance whose agent runs as a local process (tests and development)."""
    from .vm.local import connect_local as connect
    return Instance(runtime.run(connect()))


def connect(session: str, vm: Optional[str] = None, ssh: Optional[str] = None) -> Instance:
    """An Instance on a VM that the cctui server runs for ``session`` (default: its first VM).

    ``ssh`` ([USER@]HOST): that server runs on HOST, reached with ``ssh HOST cctui proxy``.
    Closing it hangs up; the VM and the session go on (``cctui kill-session`` ends them).
    """
    from .server.remote import connect_async
    return Instance(runtime.run(connect_async(session, vm, ssh=ssh)))
