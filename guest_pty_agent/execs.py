"""Spawning a command on a pty or on three pipes, with failures found in the parent.

Each child is its own session and process group leader, so SIGNAL with
group=true and the final SIGKILL reach everything it started. Failures before
exec (user, directory) and of exec itself travel back over a close-on-exec
pipe as "stage:errno", so the host gets START_FAILED with a kind instead of a
process that exits 127.
"""
from __future__ import annotations

import errno
import fcntl
import os
import pwd
import signal
import struct
import termios

from .protocol import BAD_DIR, BAD_USER, NOT_FOUND, OTHER, PERMISSION
from .validate import StartSpec

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, NoReturn, Optional, Tuple
    Credentials = Tuple[Optional[str], int, int]   # (name for initgroups, uid, gid)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StartError(Exception):
    """The command could not be started; `kind` is one of protocol's START_FAILED kinds."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


_PTY_CLASS: list = []           # [the pty class, or None without ptyprocess], once loaded


def pty_class() -> Any:
    """ptyprocess's PtyProcess with a quiet finaliser, or None (a bare guest Python,
    -S without site-packages: os.forkpty then). Imported by the first tty START, not
    at start-up: ptyprocess pulls in shutil, bz2 and lzma, a fifth of a second before
    the HELLO under TCG. Not in a thread after the HELLO either: it then held the GIL
    while the host's first command (often on pipes, which never need it) waited."""
    if not _PTY_CLASS:
        try:
            from ptyprocess import PtyProcess
        except ImportError:
            _PTY_CLASS.append(None)
        else:
            class _QuietPty(PtyProcess):
                """ptyprocess's finaliser sleeps and signals the child; here the loop owns
                the fd and the reaping, so dropping the object only closes the fd."""

                closed: bool                     # PtyProcess's (it has no type hints)

                def __del__(self) -> None:
                    if not self.closed:
                        self.closed = True
                        try:
                            self.fileobj.close()
                        except OSError:
                            pass
            _PTY_CLASS.append(_QuietPty)
    return _PTY_CLASS[0]


class Spawned:
    """A started child and our ends of its terminal or pipes (no dataclass: its
    import pulls in inspect, a tenth of a second of guest start-up under TCG)."""

    __slots__ = ("pid", "master", "stdin", "stdout", "stderr")

    def __init__(self, pid: int, master: Optional[int] = None, stdin: Optional[int] = None,
                 stdout: Optional[int] = None, stderr: Optional[int] = None) -> None:
        self.pid = pid
        self.master = master        # pty master (read and write), tty execs
        self.stdin = stdin          # pipe ends, pipe execs
        self.stdout = stdout
        self.stderr = stderr


def resolve_executable(name: str, env: Dict[str, str]) -> str:
    """Like Go's exec.LookPath on the command's own PATH (not the agent's)."""
    if "/" in name:
        if not os.path.exists(name):
            raise StartError(NOT_FOUND, f"{name}: no such file or directory")
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise StartError(PERMISSION, f"{name}: permission denied")
        return name
    for directory in env.get("PATH", DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise StartError(NOT_FOUND, f"executable file not found in $PATH: {name}")


def resolve_user(user: object) -> Optional[Credentials]:
    """Name or uid to credentials; None when no switch is needed."""
    if user is None:
        return None
    creds: Credentials
    try:
        entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(str(user))
        creds = (entry.pw_name, entry.pw_uid, entry.pw_gid)
    except KeyError:
        text = str(user)
        if not text.isdigit():
            raise StartError(BAD_USER, f"unknown user: {user}") from None
        creds = (None, int(text), 0)    # a bare uid need not exist (as in Docker)
    if creds[1] == os.getuid() and creds[2] == os.getgid():
        return None
    return creds


def resolve_user_in(root: str, user: object) -> Optional[Credentials]:
    """Like resolve_user, but against an image's own /etc/passwd."""
    if user is None:
        return None
    entries = {}
    try:
        with open(os.path.join(root, "etc/passwd"), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 4 and fields[2].isdigit() and fields[3].isdigit():
                    entries[fields[0]] = (int(fields[2]), int(fields[3]))
    except OSError:
        pass
    text = str(user)
    if text in entries:
        uid, gid = entries[text]
        return (None, uid, gid)
    if text.isdigit():
        gids = [gid for uid, gid in entries.values() if uid == int(text)]
        return (None, int(text), gids[0] if gids else 0)
    raise StartError(BAD_USER, f"unknown user in the image: {user}")


def check_dir(path: Optional[str]) -> None:
    if path is not None and not os.path.isdir(path):
        what = "not a directory" if os.path.exists(path) else "no such file or directory"
        raise StartError(BAD_DIR, f"chdir {path}: {what}")


class _ChildFailure(Exception):
    def __init__(self, stage: str, code: int) -> None:
        super().__init__(stage)
        self.stage, self.code = stage, code


def _prepare_child(creds: Optional[Credentials], cwd: Optional[str]) -> None:
    """Runs in the child between fork and exec: default signals, user, directory."""
    for sig in range(1, signal.NSIG):
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if creds is not None:
        name, uid, gid = creds
        try:
            if name is not None:
                os.initgroups(name, gid)
            else:
                os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        except OSError as exc:
            raise _ChildFailure("user", exc.errno or 0) from None
    if cwd is not None:
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise _ChildFailure("chdir", exc.errno or 0) from None


def _report_and_exit(errfd: int, stage: str, code: int) -> NoReturn:
    try:
        os.write(errfd, f"{stage}:{code}".encode())
    finally:
        os._exit(127)


def _pty_preexec(creds: Optional[Credentials], cwd: Optional[str], errfd: int):
    def preexec() -> None:
        try:
            _prepare_child(creds, cwd)
        except _ChildFailure as exc:
            _report_and_exit(errfd, exc.stage, exc.code)
        except BaseException:
            _report_and_exit(errfd, "setup", 0)
    return preexec


def _exec_child(path: str, spec: StartSpec, creds: Optional[Credentials],
                stdio: Optional[Tuple[int, int, int]], errfd: int) -> NoReturn:
    """The forked child: pipes onto 0-2 (or, from forkpty, the pty's size), then exec."""
    stage, code = "setup", 0
    try:
        if stdio is None:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", spec.rows, spec.cols, 0, 0))
        else:
            os.setsid()
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in stdio]
            for target, fd in enumerate(high):
                os.dup2(fd, target)
            for fd in high:
                os.close(fd)
        if spec.root is not None:
            stage = "chroot"
            os.chroot(spec.root)
            os.chdir("/")
            stage = "lookup"
            try:
                path = resolve_executable(spec.argv[0], spec.env)
            except StartError as exc:
                code = errno.EACCES if exc.kind == PERMISSION else errno.ENOENT
                raise OSError(code, exc.message) from None
            stage = "setup"
        _prepare_child(creds, spec.dir)
        stage = "exec"
        os.execve(path, spec.argv, spec.env)
    except _ChildFailure as exc:
        stage, code = exc.stage, exc.code
    except OSError as exc:
        code = exc.errno or 0
    except BaseException:
        pass
    _report_and_exit(errfd, stage, code)


def _failure(stage: str, code: int, path: str, spec: StartSpec) -> StartError:
    text = os.strerror(code) if code else "unknown error"
    if stage == "lookup":
        if code == errno.EACCES:
            return StartError(PERMISSION, f"{spec.argv[0]}: permission denied")
        return StartError(NOT_FOUND, f"executable file not found in $PATH: {spec.argv[0]}")
    if stage == "chdir":
        return StartError(BAD_DIR, f"chdir {spec.dir}: {text}")
    if stage == "user":
        kind = PERMISSION if code == errno.EPERM else BAD_USER
        return StartError(kind, f"cannot switch to user {spec.user}: {text}")
    if stage == "exec" and code == errno.ENOENT:
        return StartError(NOT_FOUND, f"{path}: {text}")
    if stage == "exec" and code in (errno.EACCES, errno.EPERM):
        return StartError(PERMISSION, f"{path}: {text}")
    return StartError(OTHER, f"{stage} {path}: {text}")


def _read_all(fd: int) -> bytes:
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return data
        data += chunk


def _check_child(errr: int, path: str, spec: StartSpec) -> None:
    try:
        report = _read_all(errr)
    finally:
        os.close(errr)
    if report:
        stage, _, code = report.decode("ascii", "replace").partition(":")
        raise _failure(stage, int(code) if code.isdigit() else 0, path, spec)


def _nonblocking(fd: int) -> int:
    os.set_blocking(fd, False)
    os.set_inheritable(fd, False)
    return fd


def _spawn_tty(path: str, spec: StartSpec, creds: Optional[Credentials], pty: Any) -> Spawned:
    errr, errw = os.pipe()
    try:
        proc = pty.spawn([path] + spec.argv[1:], env=spec.env,
                               dimensions=(spec.rows, spec.cols), pass_fds=(errw,),
                               preexec_fn=_pty_preexec(creds, spec.dir, errw))
    except OSError as exc:
        os.close(errw)
        os.close(errr)
        raise _failure("exec", exc.errno or 0, path, spec) from None
    except Exception as exc:      # ptyprocess reports some failures as plain exceptions
        os.close(errw)
        os.close(errr)
        raise StartError(OTHER, f"{path}: {exc}") from None
    os.close(errw)
    # Our own copy of the master (os.dup is close-on-exec: pty.fork's fd is
    # inheritable) so that ptyprocess's file object never closes a reused number.
    master = os.dup(proc.fd)
    proc.__del__()
    try:
        _check_child(errr, path, spec)
    except StartError:
        os.close(master)
        raise
    return Spawned(pid=proc.pid, master=_nonblocking(master))


def _spawn_forkpty(path: str, spec: StartSpec, creds: Optional[Credentials]) -> Spawned:
    errr, errw = os.pipe()
    try:
        pid, master = os.forkpty()       # the child is a session leader on the slave
    except OSError as exc:
        os.close(errr)
        os.close(errw)
        raise StartError(OTHER, f"forkpty: {exc.strerror}") from None
    if pid == 0:
        _exec_child(path, spec, creds, None, errw)
    os.close(errw)
    try:
        _check_child(errr, path, spec)
    except StartError:
        os.close(master)
        raise
    return Spawned(pid=pid, master=_nonblocking(master))


def _spawn_pipes(path: str, spec: StartSpec, creds: Optional[Credentials]) -> Spawned:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    errr, errw = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w, errr, errw):
            os.close(fd)
        raise StartError(OTHER, f"fork: {exc.strerror}") from None
    if pid == 0:
        _exec_child(path, spec, creds, (in_r, out_w, err_w), errw)
    for fd in (in_r, out_w, err_w, errw):
        os.close(fd)
    try:
        _check_child(errr, path, spec)
    except StartError:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    return Spawned(pid=pid, stdin=_nonblocking(in_w), stdout=_nonblocking(out_r),
                   stderr=_nonblocking(err_r))


def spawn(spec: StartSpec) -> Spawned:
    """Start the command or raise StartError; the caller reaps the pid."""
    if spec.root is not None:
        # Inside an image: look up argv[0], the user and the directory in its root,
        # in the child after chroot (so the image's own symlinks resolve).
        if not os.path.isdir(spec.root):
            raise StartError(OTHER, f"image root {spec.root} is not mounted")
        creds = resolve_user_in(spec.root, spec.user)
        if spec.dir is None:
            spec.dir = "/"
        if spec.tty:
            return _spawn_forkpty(spec.argv[0], spec, creds)
        return _spawn_pipes(spec.argv[0], spec, creds)
    path = resolve_executable(spec.argv[0], spec.env)
    check_dir(spec.dir)
    creds = resolve_user(spec.user)
    if spec.tty:
        try:
            pty = pty_class()
        except Exception as exc:     # a broken ptyprocess: say so on this START
            raise StartError(OTHER, f"cannot load ptyprocess: {exc!r}") from None
        if pty is None:
            return _spawn_forkpty(path, spec, creds)
        return _spawn_tty(path, spec, creds, pty)
    return _spawn_pipes(path, spec, creds)
