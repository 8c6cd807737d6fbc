"""Which byte stream a VM's agent uses, and why: the kernel's vhost-vsock, the
userspace vhost-user-vsock backend (cctui/vsock), or virtio-serial."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import Error, HypervisorUnavailable
from ..transport import vhost_vsock_usable
from ..vsock.usable import vsock_user_problem

TRANSPORTS = ("auto", "vsock", "vsock-user", "virtio-serial")
# Whether "auto" takes the userspace vsock where the kernel's is missing (the whole
# VM test tier runs over it on hosts without /dev/vhost-vsock).
AUTO_USERSPACE = True


@dataclass(frozen=True)
class TransportChoice:
    name: str               # "vsock", "vsock-user" or "virtio-serial"
    reason: str


def choose_transport(requested: str = "auto") -> TransportChoice:
    """``auto``: kernel vsock where usable, else userspace vsock, else virtio-serial.

    ``CCTUI_TRANSPORT`` stands in for ``auto`` (how ``--transport`` reaches a TUI's VMs).
    """
    if requested == "auto":
        requested = os.environ.get("CCTUI_TRANSPORT", "") or "auto"
    if requested not in TRANSPORTS:
        raise Error(f"unknown transport {requested!r} (one of {', '.join(TRANSPORTS)})")
    kernel = vhost_vsock_usable()
    if requested == "virtio-serial":
        return TransportChoice(requested, "requested")
    if requested == "vsock":
        if kernel:
            raise HypervisorUnavailable(f"vsock transport requested but {kernel}")
        return TransportChoice(requested, "requested; the kernel's vhost-vsock")
    user = vsock_user_problem()
    if requested == "vsock-user":
        if user:
            raise HypervisorUnavailable(f"vsock-user transport requested but {user}")
        return TransportChoice(requested, "requested; the userspace vhost-user-vsock backend")
    if not kernel:
        return TransportChoice("vsock", "the kernel's vhost-vsock is usable")
    if AUTO_USERSPACE and not user:
        return TransportChoice("vsock-user", f"{kernel}: the userspace vhost-user-vsock backend")
    why = user or "auto does not pick the userspace vsock yet"
    return TransportChoice("virtio-serial", f"{kernel}; {why}")
