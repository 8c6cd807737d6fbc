"""Which stream a VM's agent gets, and the reason given: the order auto follows, what a
forced transport does where it cannot work, and CCTUI_TRANSPORT (how --transport travels)."""
from __future__ import annotations

import pytest

from cctui.errors import Error, HypervisorUnavailable
from cctui.vm import transport_choice as tc


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch):
    """A host whose kernel vsock and userspace vsock problems the test sets."""
    state = {"kernel": "", "user": ""}
    monkeypatch.setattr(tc, "vhost_vsock_usable", lambda: state["kernel"])
    monkeypatch.setattr(tc, "vsock_user_problem", lambda: state["user"])
    monkeypatch.delenv("CCTUI_TRANSPORT", raising=False)
    return state


def test_auto_takes_the_kernel_vsock_first(host) -> None:
    assert tc.choose_transport().name == "vsock"


def test_auto_without_kernel_vsock(host, monkeypatch: pytest.MonkeyPatch) -> None:
    host["kernel"] = "/dev/vhost-vsock does not exist"
    monkeypatch.setattr(tc, "AUTO_USERSPACE", True)
    choice = tc.choose_transport()
    assert choice.name == "vsock-user" and "/dev/vhost-vsock does not exist" in choice.reason
    host["user"] = "this QEMU has no vhost-user-vsock-pci device"
    choice = tc.choose_transport()
    assert choice.name == "virtio-serial" and "no vhost-user-vsock-pci" in choice.reason


def test_forced_transports(host) -> None:
    assert tc.choose_transport("virtio-serial").name == "virtio-serial"
    assert tc.choose_transport("vsock-user").name == "vsock-user"
    host["kernel"] = host["user"] = "missing"
    with pytest.raises(HypervisorUnavailable, match="vsock transport requested but missing"):
        tc.choose_transport("vsock")
    with pytest.raises(HypervisorUnavailable, match="vsock-user transport requested"):
        tc.choose_transport("vsock-user")
    with pytest.raises(Error, match="unknown transport"):
        tc.choose_transport("carrier-pigeon")


def test_the_environment_stands_in_for_auto_only(host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCTUI_TRANSPORT", "virtio-serial")
    assert tc.choose_transport().name == "virtio-serial"
    assert tc.choose_transport("vsock-user").name == "vsock-user"
