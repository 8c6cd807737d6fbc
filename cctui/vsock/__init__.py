"""A userspace vhost-user-vsock device: rootless vsock where the host kernel has none.

QEMU (``vhost-user-vsock-pci``) hands the guest's vsock virtqueues to this backend
over a unix socket; the backend moves the guest's stream packets to and from unix
sockets in the VM's state directory (the hybrid-vsock convention of Firecracker and
rust-vmm's vhost-device-vsock). Everything the guest writes is untrusted: each module
bounds what it reads, and a guest that breaks the rules loses its device, never the
host process.
"""
