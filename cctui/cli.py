"""The `cctui` command: the TUI by default, plus doctor, run, fetch-kernel."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _vm_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The VM options, accepted before or after the subcommand."""
    value = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    parser.add_argument("--image", default=value("host"),
                        help="'host' (the host's root, read-only), an OCI layout/tarball, "
                             "a docker-save tarball or a root-filesystem directory")
    parser.add_argument("--accel", default=value("auto"), choices=["auto", "kvm", "tcg"])
    parser.add_argument("--memory", type=int, default=value(1024), help="guest memory in MiB")
    parser.add_argument("--cpus", type=int, default=value(2))
    parser.add_argument("--transport", default=value("auto"),
                        choices=["auto", "vsock", "vsock-user", "virtio-serial"],
                        help="the guest agent's stream (auto: kernel vsock, else userspace "
                             "vsock, else virtio-serial; see `cctui doctor`)")


def _net_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Network, published ports and shared folders, spelled as docker run spells them
    (accepted before the subcommand too, for the TUI's first VM: `cctui --net`)."""
    off: object = "off" if defaults else argparse.SUPPRESS
    empty: object = [] if defaults else argparse.SUPPRESS
    # `--net` is a flag, so `cctui run --net curl ...` runs curl; the restricted mode is its
    # own option string, matched whole by argparse before it splits at '=' (so `--net=bogus`
    # is still an error, and `--net restrict` is the flag followed by the command 'restrict').
    parser.add_argument("--net", dest="net", action="store_const", const="on", default=off,
                        help="a NIC on QEMU's user-mode network (default: no network)")
    parser.add_argument("--net=restrict", dest="net", action="store_const", const="restrict",
                        default=off,
                        help="a NIC with published ports only, no outbound connections")
    parser.add_argument("-p", "--publish", action="append", default=empty,
                        metavar="[HOST_IP:]HOST_PORT:GUEST_PORT[/udp]",
                        help="publish a guest port on the host (default bind 127.0.0.1; "
                             "implies --net; repeatable)")
    parser.add_argument("-v", "--volume", action="append", default=empty,
                        metavar="HOST_DIR:GUEST_DIR[:ro]",
                        help="share a host directory with the guest over 9p (read-write "
                             "unless :ro; repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cctui", description=(
        "A terminal multiplexer for QEMU VMs. With no command: open the TUI."))
    _vm_options(parser, True)
    _net_options(parser, True)
    parser.add_argument("--local", action="store_true", default=False,
                        help="run the VMs inside the TUI's own process (no server: they end with it)")
    sub = parser.add_subparsers(dest="command")
    doctor = sub.add_parser("doctor", help="report what this host can do and what is missing")
    doctor.add_argument("--boot", action="store_true",
                        help="boot a VM once and show where its boot time went")
    fetch = sub.add_parser("fetch-kernel", help="unpack a distribution kernel into the cache")
    fetch.add_argument("--if-missing", action="store_true")
    run = sub.add_parser("run", help="boot, run one command (default: the image's entrypoint), "
                                      "stream its output, power off; exits with its status")
    _vm_options(run, False)
    _net_options(run, False)
    run.add_argument("argv", nargs=argparse.REMAINDER)
    tui = sub.add_parser("tui", help="open the full-screen multiplexer (the default); "
                                      "`cctui tui -- htop` starts its first pane on a command")
    _vm_options(tui, False)
    _net_options(tui, False)
    tui.add_argument("--local", action="store_true", default=argparse.SUPPRESS,
                     help="run the VMs inside the TUI's own process (no server: they end with it)")
    tui.add_argument("argv", nargs=argparse.REMAINDER)
    from .server.commands import add_parsers
    add_parsers(sub, _vm_options, _net_options)
    from .copy_cli import add_parser as add_cp
    add_cp(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.transport != "auto":       # reaches every VM this process boots (TUI, run, server)
        import os
        os.environ["CCTUI_TRANSPORT"] = args.transport
    if args.command == "doctor":
        from .doctor import main as doctor
        return doctor(boot=args.boot, accel=args.accel)
    if args.command == "fetch-kernel":
        from .errors import Error
        from .vm.kernel import fetch_kernel, find_kernel
        try:
            if args.if_missing:
                try:
                    find_kernel()
                    return 0
                except Error:
                    pass
            fetch_kernel(log=lambda line: print(f"cctui: {line}", file=sys.stderr))
        except Error as exc:
            print(f"cctui: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "run":
        return _run(args)
    if args.command == "cp":
        from .copy_cli import run as copy
        return copy(args)
    from .server.commands import COMMANDS, run as run_server_command
    if args.command in COMMANDS:
        return run_server_command(args)
    command = getattr(args, "argv", None) or []
    command = command[1:] if command[:1] == ["--"] else command
    if not args.local:      # a new server session, attached: ctrl+b d leaves it running
        from .server.commands import run as run_server_command
        args.command, args.detached, args.name, args.rows, args.cols, args.ssh = \
            "new", False, None, None, None, None
        args.argv = command             # bare `cctui` has none: the image's entrypoint
        return run_server_command(args)
    from .tui.app import run_app
    return run_app(image=args.image, accel=args.accel, memory_mb=args.memory, cpus=args.cpus,
                   command=command, net=args.net, ports=args.publish, volumes=args.volume)


def _run(args: argparse.Namespace) -> int:
    import cctui
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    try:
        with cctui.boot(args.image, accel=args.accel, memory_mb=args.memory,
                        cpus=args.cpus, net=args.net, ports=args.publish,
                        volumes=args.volume) as vm:
            cmd = vm.entrypoint_command() if not argv else vm.command(*argv)
            cmd.set_stdout(sys.stdout.buffer).set_stderr(sys.stderr.buffer)
            try:
                cmd.run()
            except cctui.ExitError:
                pass
            return cmd.exit_code()
    except cctui.Error as exc:
        print(f"cctui: {exc}", file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main())
