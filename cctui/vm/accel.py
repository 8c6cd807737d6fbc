"""Pick KVM or TCG, and say why: users need to know why their VM is slow."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import HypervisorUnavailable

PVM_MARKER = "/sys/module/kvm_pvm"


@dataclass(frozen=True)
class AccelChoice:
    name: str     # "kvm" or "tcg"
    reason: str


def kvm_problem() -> str:
    """Why KVM cannot be used here, or "" when it can."""
    if os.path.exists(PVM_MARKER):
        return "/dev/kvm is a kvm_pvm (nested PVM) host: stock kernels hang under it"
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm does not exist (no hardware virtualisation or kvm module)"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not readable and writable by this user (join the 'kvm' group)"
    return ""


def choose_accel(requested: str = "auto") -> AccelChoice:
    """``auto`` prefers KVM when it is usable; ``kvm``/``tcg`` force a choice."""
    requested = (requested or "auto").lower()
    if requested == "tcg":
        return AccelChoice("tcg", "requested (--accel tcg)")
    problem = kvm_problem()
    if requested == "kvm":
        if problem and not os.path.exists("/dev/kvm"):
            raise HypervisorUnavailable(f"--accel kvm requested but {problem}")
        return AccelChoice("kvm", "requested (--accel kvm)" + (f"; warning: {problem}" if problem else ""))
    if requested != "auto":
        raise HypervisorUnavailable(f"unknown accelerator {requested!r}: use auto, kvm or tcg")
    if problem:
        return AccelChoice("tcg", f"software emulation: {problem}")
    return AccelChoice("kvm", "/dev/kvm is usable")
