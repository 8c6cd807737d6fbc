"""``cctui cp [-r] SRC DST``: a copy between the host and a VM the cctui server runs.

It connects to the VM as ``cctui.connect`` does (a private agent over the
server's socket) and runs copy_to/copy_from there, so the bytes take the same
streamed, flow-controlled path as the library's.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .copy_paths import CopyPathError, GuestPath, parse_copy


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    cp = sub.add_parser("cp", help="copy files between the host and a VM of the server: "
                                   "SESSION[:VM]:/PATH on one side")
    cp.add_argument("-r", "--recursive", action="store_true", help="copy directories")
    cp.add_argument("src")
    cp.add_argument("dst")


def run(args: argparse.Namespace) -> int:
    import cctui
    from .api.copy import CopySkipped
    try:
        direction, a, b = parse_copy(args.src, args.dst)
    except CopyPathError as exc:
        print(f"cctui cp: {exc}", file=sys.stderr)
        return 2
    guest = b if direction == "to" else a
    assert isinstance(guest, GuestPath)
    warnings.simplefilter("always", CopySkipped)
    warnings.showwarning = lambda message, *rest: print(f"cctui cp: {message}", file=sys.stderr)
    try:
        with cctui.connect(guest.session, guest.vm) as vm:
            if direction == "to":
                vm.copy_to(str(a), guest.path, recursive=args.recursive)
            else:
                vm.copy_from(guest.path, str(b), recursive=args.recursive)
    except cctui.Error as exc:
        print(f"cctui cp: {exc}", file=sys.stderr)
        return 1
    return 0
