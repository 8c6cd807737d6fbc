"""`python -m guest_pty_agent`: the agent inside the guest (stdlib + ptyprocess only)."""
from __future__ import annotations

from . import boot_marks

boot_marks.mark("python")        # before any other import: what start-up cost

import sys  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import List, Optional

USAGE = """usage: guest_pty_agent (--virtio-port NAME | --vsock-port N | --fd N) [--init]
                       [--boot-marks NAME=UPTIME,...]
  --virtio-port NAME  virtio-serial port name (sysfs)
  --vsock-port N      listen on AF_VSOCK port N
  --fd N              speak on the already-open fd N
  --init              act as init: reap orphans, power off on POWEROFF or init exec exit
  --boot-marks ...    the init's boot timestamps, passed on in the HELLO"""


class Args:
    """The command line (parsed by hand: argparse costs guest start-up under TCG)."""

    def __init__(self) -> None:
        self.virtio_port: Optional[str] = None
        self.vsock_port: Optional[int] = None
        self.fd: Optional[int] = None
        self.init = False
        self.boot_marks = ""


def _usage_error(message: str) -> SystemExit:
    print(f"{USAGE}\nguest_pty_agent: error: {message}", file=sys.stderr)
    return SystemExit(2)


def _parse(argv: Optional[List[str]]) -> Args:
    args = Args()
    words = list(sys.argv[1:] if argv is None else argv)
    channels = 0
    while words:
        word = words.pop(0)
        if word in ("-h", "--help"):
            print(USAGE)
            raise SystemExit(0)
        if word == "--init":
            args.init = True
            continue
        if word not in ("--virtio-port", "--vsock-port", "--fd", "--boot-marks"):
            raise _usage_error(f"unrecognized argument {word!r}")
        if not words:
            raise _usage_error(f"{word} needs a value")
        value = words.pop(0)
        if word == "--boot-marks":
            args.boot_marks = value
            continue
        channels += 1
        if word == "--virtio-port":
            args.virtio_port = value
        else:
            try:
                number = int(value)
            except ValueError:
                raise _usage_error(f"{word} needs a number, not {value!r}") from None
            if word == "--fd":
                args.fd = number
            else:
                args.vsock_port = number
    if channels != 1:
        raise _usage_error("exactly one of --virtio-port, --vsock-port and --fd is needed")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    boot_marks.add_from_arg(args.boot_marks)
    from . import power, transport
    chan: transport.FdTransport | transport.VsockTransport | transport.VirtioTransport
    try:
        # Listen first: the host's connection completes in the listen backlog while
        # the rest of the agent is imported, instead of after it.
        if args.fd is not None:
            chan = transport.FdTransport(args.fd)
        elif args.vsock_port is not None:
            chan = transport.VsockTransport(args.vsock_port)
        else:
            chan = transport.VirtioTransport(args.virtio_port or "")
        from .agent import Agent
        return Agent(chan, args.init).run()
    except transport.TransportError as exc:
        print(f"guest_pty_agent: {exc}", file=sys.stderr)
    except Exception:
        import traceback
        traceback.print_exc(file=sys.stderr)
    if args.init:
        power.power_off()     # PID 1 must not just exit: the kernel would panic
    return 1


if __name__ == "__main__":
    sys.exit(main())
