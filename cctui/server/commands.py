"""The server's CLI commands (``cctui new``, ``ls``, ``send-keys``, ...), tmux's spelling.

``cli.py`` adds these subcommands and hands their arguments here; each one is a
short conversation with the server (``client.py``) and an exit status.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Optional

from guest_pty_agent.protocol import ProtocolError

from ..errors import Error
from .client import ExecStartFailed, connect

COMMANDS = ("server", "new", "attach", "ls", "send-keys", "capture-pane", "split-window", "new-window",
            "kill-pane", "kill-session", "kill-server", "exec", "wait-text", "proxy")
HISTORY_START = -(1 << 30)          # capture-pane -S -: the oldest scrollback line


def add_parsers(sub: Any, vm_options: Callable[[argparse.ArgumentParser, bool], None],
                net_options: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add the server's subcommands to cli.py's subparsers."""
    server = sub.add_parser("server", help="run the cctui server in the foreground (commands start it "
                                           "on demand; there is no need to)")
    server.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)

    new = sub.add_parser("new", help="start a session on a new VM and attach to it (-d: don't)")
    new.add_argument("-d", dest="detached", action="store_true",
                     help="do not attach; return once the first command runs")
    new.add_argument("-s", dest="name", default=None, help="session name (default: the lowest free number)")
    new.add_argument("-x", dest="cols", type=int, default=None, help="columns (default: this terminal's, or 80)")
    new.add_argument("-y", dest="rows", type=int, default=None, help="rows (default: this terminal's, or 24)")
    new.add_argument("--ssh", metavar="[USER@]HOST", default=None,
                     help="the server on HOST, through `ssh HOST cctui proxy` (see README: Over SSH)")
    vm_options(new, False)
    net_options(new, False)
    new.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD...: the first pane's command")

    attach = sub.add_parser("attach", help="show a session in the TUI (ctrl+b d detaches again)")
    attach.add_argument("-t", dest="target", default=None,
                        help="SESSION (default: the most recently created)")
    attach.add_argument("--ssh", metavar="[USER@]HOST", default=None,
                        help="the server on HOST, through `ssh HOST cctui proxy` (see README: Over SSH)")

    ls = sub.add_parser("ls", help="list sessions, their VMs and panes (state, exit status)")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--ssh", metavar="[USER@]HOST", default=None,
                    help="the server on HOST, through `ssh HOST cctui proxy` (see README: Over SSH)")

    keys = sub.add_parser("send-keys", help="type keys into a pane (tmux key names: Enter, C-c, Up, ...)")
    keys.add_argument("-t", dest="target", required=True, help="SESSION[:WINDOW[.PANE]]")
    keys.add_argument("-l", dest="literal", action="store_true", help="send the words as text, not key names")
    keys.add_argument("keys", nargs="*")

    cap = sub.add_parser("capture-pane", help="print a pane's screen (and scrollback with a negative -S)")
    cap.add_argument("-t", dest="target", required=True)
    cap.add_argument("-p", dest="print", action="store_true", help="print to stdout (the only way here)")
    cap.add_argument("-S", dest="start", default=None, help="first line: 0 the top row, -N scrollback, - oldest")
    cap.add_argument("-E", dest="end", default=None, help="last line (default: the bottom row; - too)")
    cap.add_argument("-e", dest="escapes", action="store_true", help="include colour and attribute escapes")

    split = sub.add_parser("split-window", add_help=False, help="split a pane (-h: side by side, -v: stacked)")
    split.add_argument("--help", action="help")
    split.add_argument("-t", dest="target", required=True)
    way = split.add_mutually_exclusive_group()
    way.add_argument("-h", dest="horizontal", action="store_true")
    way.add_argument("-v", dest="horizontal", action="store_false")
    split.add_argument("argv", nargs=argparse.REMAINDER)

    window = sub.add_parser("new-window", help="a new window in a session")
    window.add_argument("-t", dest="target", required=True)
    window.add_argument("argv", nargs=argparse.REMAINDER)

    for name, what in (("kill-pane", "kill a pane's command and close it"),
                       ("kill-session", "end a session: its panes and VMs")):
        kill = sub.add_parser(name, help=what)
        kill.add_argument("-t", dest="target", required=True)
    sub.add_parser("kill-server", help="end every session and the server")

    ex = sub.add_parser("exec", help="run a command in a session's VM, streaming stdin/stdout/stderr; "
                                     "exits with its status")
    ex.add_argument("-t", dest="target", required=True, help="SESSION")
    ex.add_argument("--vm", default=None, help="which of the session's VMs (default: its first)")
    ex.add_argument("--ssh", metavar="[USER@]HOST", default=None,
                    help="the server on HOST, through `ssh HOST cctui proxy` (see README: Over SSH)")
    ex.add_argument("argv", nargs=argparse.REMAINDER)

    proxy = sub.add_parser("proxy", help="relay stdin/stdout to this user's server (what `--ssh HOST` "
                                         "runs on HOST)")
    proxy.add_argument("--no-start", dest="start", action="store_false",
                       help="do not start a server when none runs")

    wait = sub.add_parser("wait-text", help="wait until TEXT shows on a pane's screen")
    wait.add_argument("-t", dest="target", required=True)
    wait.add_argument("--timeout", type=float, default=30.0)
    wait.add_argument("text")


def run(args: argparse.Namespace) -> int:
    """Run one server subcommand; errors are one line on stderr and status 1."""
    try:
        return _COMMANDS[args.command](args)
    except ExecStartFailed as exc:
        _say(str(exc))
        return exc.code
    except (Error, ProtocolError) as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:         # `cctui ls | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _say(text: str) -> None:
    print(f"cctui: {text}", file=sys.stderr)


def _argv(words: List[str]) -> Optional[List[str]]:
    words = words[1:] if words[:1] == ["--"] else words
    return words or None


def _server(args: argparse.Namespace) -> int:
    from .daemon import main
    return main(args.ready_fd)


def _new(args: argparse.Namespace) -> int:
    """``cctui new``: a session; attached at once (its VM boots in view) unless ``-d``."""
    if not args.detached and not _on_a_terminal():
        _say("attaching needs a terminal (stdin and stdout): `cctui new -d` starts a session without one")
        return 1
    size = shutil.get_terminal_size((80, 24))
    rows = args.rows or (24 if args.detached else max(2, size.lines - 2))
    cols = args.cols or (80 if args.detached else max(2, size.columns))
    image = args.image
    if image != "host" and os.path.exists(image) and not args.ssh:
        image = os.path.abspath(image)      # the server runs in /
    from ..vm.network import parse_ports
    from ..vm.volumes import parse_volumes
    # checked here first, so a bad value names itself before a server starts; a volume's
    # host directory goes resolved (the server runs in /). Over ssh the paths are the
    # server's: they go as given, and its own check names a missing one.
    ports = [str(p) for p in parse_ports(args.publish)]
    volumes = list(args.volume) if args.ssh else [str(v) for v in parse_volumes(args.volume)]
    with connect(start=True, ssh=args.ssh) as conn:
        # --transport reaches this process as CCTUI_TRANSPORT (cli.py); the session carries it
        transport = os.environ.get("CCTUI_TRANSPORT") or "auto"
        reply = conn.request("new", name=args.name, image=image, argv=_argv(args.argv), accel=args.accel,
                             transport=transport, memory=args.memory, cpus=args.cpus, rows=rows,
                             cols=cols, net=args.net, ports=ports, volumes=volumes,
                             wait=bool(args.detached))
    if args.detached:
        return 0
    return _attach_to(str(reply["session"]), args.ssh)


def _on_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _attach(args: argparse.Namespace) -> int:
    if not _on_a_terminal():
        _say("attaching needs a terminal (stdin and stdout); scripts use send-keys, capture-pane and exec")
        return 1
    target = args.target
    if target is None:          # tmux takes the most recently used session; ours: the newest
        with connect(ssh=args.ssh) as conn:
            sessions = conn.request("ls")["sessions"]
        if not sessions:
            _say("no sessions: `cctui` or `cctui new` starts one")
            return 1
        target = max(sessions, key=lambda s: s["created"])["name"]
    return _attach_to(target.split(":")[0], args.ssh)


def _attach_to(session: str, ssh: Optional[str]) -> int:
    from ..tui.attached_app import run_attached
    sock = None
    if ssh is not None:
        from .ssh import open_ssh_socket
        sock = open_ssh_socket(ssh, start=False)
    return run_attached(session, sock=sock)


def _ls(args: argparse.Namespace) -> int:
    with connect(ssh=args.ssh) as conn:
        reply = conn.request("ls")
    sessions: List[Dict[str, Any]] = reply["sessions"]
    if args.json:
        print(json.dumps({"server_pid": reply.get("server_pid"), "sessions": sessions,
                          "spare": reply.get("spare"), "clients": reply.get("clients", [])}, indent=1))
        return 0
    clients: List[Dict[str, Any]] = reply.get("clients", [])
    for s in sessions:
        created = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(s["created"]))
        vms = ", ".join(f"{vm['name']} {vm['state']}"
                        + ("" if vm.get("net", "off") == "off" else f" net={vm['net']}")
                        for vm in s["vms"])
        attached = [c for c in clients if c.get("session") == s["name"]]
        shown = f" ({len(attached)} attached, size rule: smallest)" if attached else ""
        print(f"{s['name']}: {len(s['windows'])} windows (created {created}) [{s['cols']}x{s['rows']}] "
              f"{vms}{shown}")
        for w in s["windows"]:
            for p in w["panes"]:
                status = p["state"]
                if p["exit_signal"] is not None:
                    status += f" (signal {p['exit_signal']})"
                elif p["exit_code"] is not None:
                    status += f" ({p['exit_code']})"
                mark = "*" if w["active"] and p["active"] else " "
                print(f"  {w['index']}.{p['index']}{mark} {p['id']} {p['vm']} {p['command']}: {status} "
                      f"[{p['cols']}x{p['rows']}]" + (f" {p['error']}" if p["error"] else ""))
    return 0


def _send_keys(args: argparse.Namespace) -> int:
    with connect() as conn:
        conn.request("send-keys", target=args.target, keys=args.keys, literal=args.literal)
    return 0


def _line(text: Optional[str], missing: Optional[int]) -> Optional[int]:
    if text is None or text == "-":
        return missing if text == "-" else None
    try:
        return int(text)
    except ValueError:
        raise Error(f"a line number must be an integer or '-', not {text!r}") from None


def _capture(args: argparse.Namespace) -> int:
    with connect() as conn:
        conn.request("capture-pane", out=sys.stdout.buffer, target=args.target,
                     start=_line(args.start, HISTORY_START), end=_line(args.end, None), escapes=args.escapes)
    sys.stdout.flush()
    return 0


def _split(args: argparse.Namespace) -> int:
    with connect() as conn:
        reply = conn.request("split-window", target=args.target, horizontal=bool(args.horizontal),
                             argv=_argv(args.argv))
    if reply.get("warning"):
        _say(f"{reply['target']}: {reply['warning']}")
    return 0


def _new_window(args: argparse.Namespace) -> int:
    with connect() as conn:
        reply = conn.request("new-window", target=args.target, argv=_argv(args.argv))
    if reply.get("warning"):
        _say(f"{reply['target']}: {reply['warning']}")
    return 0


def _kill(op: str) -> Callable[[argparse.Namespace], int]:
    def kill(args: argparse.Namespace) -> int:
        with connect() as conn:
            conn.request(op, target=args.target)
        return 0
    return kill


def _kill_server(args: argparse.Namespace) -> int:
    with connect() as conn:
        conn.request("kill-server")
    return 0


def _exec(args: argparse.Namespace) -> int:
    argv = _argv(args.argv)
    if not argv:
        _say("exec needs a command: cctui exec -t SESSION -- CMD...")
        return 2
    with connect(ssh=args.ssh) as conn:
        return conn.exec(args.target, argv, args.vm, sys.stdin.fileno() if sys.stdin else None,
                         sys.stdout.buffer, sys.stderr.buffer)


def _proxy(args: argparse.Namespace) -> int:
    from .proxy import main
    return main(start=args.start)


def _wait_text(args: argparse.Namespace) -> int:
    with connect() as conn:
        conn.request("wait-text", target=args.target, text=args.text, timeout=args.timeout)
    return 0


_COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "server": _server, "new": _new, "attach": _attach, "ls": _ls, "send-keys": _send_keys, "capture-pane": _capture,
    "split-window": _split, "new-window": _new_window, "kill-pane": _kill("kill-pane"),
    "kill-session": _kill("kill-session"), "kill-server": _kill_server, "exec": _exec,
    "wait-text": _wait_text, "proxy": _proxy,
}
