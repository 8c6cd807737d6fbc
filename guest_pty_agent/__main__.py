"""`python -m guest_pty_agent`: the agent inside the guest (stdlib + ptyprocess only)."""
from __future__ import annotations

from . import boot_marks

boot_marks.mark("python")        # before any other import: what start-up cost

import argparse  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from typing import List, Optional  # noqa: E402


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="guest_pty_agent", description=__doc__)
    channel = parser.add_mutually_exclusive_group(required=True)
    channel.add_argument("--virtio-port", metavar="NAME", help="virtio-serial port name (sysfs)")
    channel.add_argument("--vsock-port", metavar="N", type=int, help="listen on AF_VSOCK port N")
    channel.add_argument("--fd", metavar="N", type=int, help="speak on the already-open fd N")
    parser.add_argument("--init", action="store_true",
                        help="act as init: reap orphans, power off on POWEROFF or init exec exit")
    parser.add_argument("--boot-marks", default="", metavar="NAME=UPTIME,...",
                        help="the init's boot timestamps, passed on in the HELLO")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    boot_marks.add_from_arg(args.boot_marks)
    from . import power, transport
    from .agent import Agent
    chan: transport.FdTransport | transport.VsockTransport | transport.VirtioTransport
    try:
        if args.fd is not None:
            chan = transport.FdTransport(args.fd)
        elif args.vsock_port is not None:
            chan = transport.VsockTransport(args.vsock_port)
        else:
            chan = transport.VirtioTransport(args.virtio_port)
        return Agent(chan, args.init).run()
    except transport.TransportError as exc:
        print(f"guest_pty_agent: {exc}", file=sys.stderr)
    except Exception:
        traceback.print_exc(file=sys.stderr)
    if args.init:
        power.power_off()     # PID 1 must not just exit: the kernel would panic
    return 1


if __name__ == "__main__":
    sys.exit(main())
