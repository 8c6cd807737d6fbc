"""The one error a misbehaving guest (or QEMU) can cause: its device stops."""
from __future__ import annotations


class DeviceError(Exception):
    """The guest broke the virtio rules; this VM's vsock device is ended."""
