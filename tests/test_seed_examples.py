"""Every example of cc's "Commands" page (shared/seed/commands.md), in Python, on a real VM."""
from __future__ import annotations

import io
import os
import threading

import pytest

import cctui
from cctui import Context

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


def test_overview_echo(vm: cctui.Instance) -> None:
    assert vm.command("echo", "hello").output() == b"hello\n"


def test_command_ls_la_etc(vm: cctui.Instance) -> None:
    listing = vm.command("ls", "-la", "/etc").output().decode()
    assert " passwd\n" in listing and listing.startswith("total ")


def test_command_context_with_timeout(vm: cctui.Instance) -> None:
    ctx, cancel = Context.with_timeout(Context.background(), 10)
    try:
        cmd = vm.command_context(ctx, "sh", "-c", "sleep 0.2; echo finished")
        assert cmd.output() == b"finished\n"
        assert ctx.err() is None
    finally:
        cancel()
    assert isinstance(ctx.err(), cctui.Canceled)


def test_entrypoint_command_host_image_is_login_shell(vm: cctui.Instance) -> None:
    # Host image, no entrypoint given: the user's login shell; args replace CMD.
    shell = cctui.api.instance.login_shell()
    cmd = vm.entrypoint_command("-c", "echo $0 ran")
    assert cmd.argv == [shell, "-c", "echo $0 ran"]
    assert cmd.output() == f"{shell} ran\n".encode()
    # No args: the shell itself, reading (empty) stdin, exits 0.
    bare = vm.entrypoint_command()
    assert bare.argv == [shell]
    bare.run()
    assert bare.exit_code() == 0


def test_output_cat_os_release_is_the_host_file(vm: cctui.Instance) -> None:
    with open("/etc/os-release", "rb") as f:
        assert vm.command("cat", "/etc/os-release").output() == f.read()


def test_combined_output(vm: cctui.Instance) -> None:
    out = vm.command("sh", "-c", "echo stdout; echo stderr >&2").combined_output()
    assert out == b"stdout\nstderr\n"


def test_combined_output_error_keeps_output(vm: cctui.Instance) -> None:
    with pytest.raises(cctui.ExitError) as info:
        vm.command("sh", "-c", "echo before; echo oops >&2; exit 7").combined_output()
    assert info.value.output == b"before\noops\n"
    assert info.value.exit_code == 7


def test_run_touch_marker_stays_in_guest(vm: cctui.Instance) -> None:
    path = "/root/cctui-test-marker"
    vm.command("touch", path).run()
    vm.command("test", "-e", path).run()     # exists in the guest...
    assert not os.path.exists(path)          # ...and never reached the host


def test_start_and_wait(vm: cctui.Instance) -> None:
    cmd = vm.command("sleep", "1")
    cmd.start()
    assert cmd.exit_code() == -1             # still running: start did not wait
    cmd.wait()
    assert cmd.exit_code() == 0


def test_set_stdin(vm: cctui.Instance) -> None:
    cmd = vm.command("cat").set_stdin(io.BytesIO(b"hello world"))
    assert cmd.output() == b"hello world"


def test_set_stdout_and_stderr(vm: cctui.Instance) -> None:
    stdout, stderr = io.BytesIO(), io.BytesIO()
    cmd = vm.command("sh", "-c", "echo out; echo err >&2")
    cmd.set_stdout(stdout).set_stderr(stderr)
    cmd.run()
    assert stdout.getvalue() == b"out\n"
    assert stderr.getvalue() == b"err\n"


def test_pipes(vm: cctui.Instance) -> None:
    cmd = vm.command("cat")
    stdin = cmd.stdin_pipe()
    stdout = cmd.stdout_pipe()
    cmd.start()

    def feed() -> None:
        stdin.write(b"hello")
        stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    assert stdout.read() == b"hello"
    writer.join()
    cmd.wait()
    assert cmd.exit_code() == 0


def test_set_env(vm: cctui.Instance) -> None:
    cmd = vm.command("sh", "-c", "echo $MY_VAR").set_env("MY_VAR", "hello")
    assert cmd.output() == b"hello\n"


def test_get_env(vm: cctui.Instance) -> None:
    cmd = vm.command("printenv", "PATH")
    path = cmd.get_env("PATH")
    assert path and "/usr/bin" in path
    assert cmd.output() == (path + "\n").encode()


def test_environ_is_what_the_command_sees(vm: cctui.Instance) -> None:
    cmd = vm.command("env")
    expected = cmd.environ()
    assert "TERM=xterm-256color" in expected
    assert any(e.startswith("HOME=") for e in expected)
    assert sorted(cmd.output().decode().splitlines()) == sorted(expected)


def test_set_dir(vm: cctui.Instance) -> None:
    vm.mkdir_all("/app/sub", 0o755)
    vm.write_file("/app/sub/file.txt", b"x", 0o644)
    assert vm.command("ls").set_dir("/app/sub").output() == b"file.txt\n"
    assert vm.command("pwd").set_dir("/app").output() == b"/app\n"


def test_exit_code(vm: cctui.Instance) -> None:
    cmd = vm.command("sh", "-c", "exit 42")
    with pytest.raises(cctui.ExitError):
        cmd.run()
    assert cmd.exit_code() == 42


def test_shell_commands(vm: cctui.Instance) -> None:
    out = vm.command("sh", "-c", "cat /etc/passwd | grep root").output()
    assert out.startswith(b"root:")
    vm.mkdir_all("/shellapp")
    vm.write_file("/shellapp/Makefile", b"build:\n\techo built\n")
    out = vm.command("sh", "-c", "cd /shellapp && pwd && ls").output()
    assert out == b"/shellapp\nMakefile\n"
    assert vm.command("sh", "-c", "echo $HOME").output() == b"/root\n"


def test_build_and_test_example_in_python(vm: cctui.Instance) -> None:
    """The Go build example as the same flow with a Python program."""
    code = b'def main():\n    print("Hello!")\n\nif __name__ == "__main__":\n    main()\n'
    vm.mkdir_all("/app", 0o755)
    vm.write_file("/app/main.py", code, 0o644)
    assert vm.read_file("/app/main.py") == code
    build = vm.command("python3", "-m", "compileall", "-q", "-b", "main.py").set_dir("/app")
    build.combined_output()                  # raises ExitError with the output on failure
    assert vm.command("test", "-f", "/app/main.pyc").run() is None
    assert vm.command("python3", "/app/main.pyc").output() == b"Hello!\n"
    broken = vm.command("python3", "-c", "def (:").set_dir("/app")
    with pytest.raises(cctui.ExitError) as info:
        broken.combined_output()
    assert b"SyntaxError" in info.value.output


def test_interactive_python_repl_through_pipes(vm: cctui.Instance) -> None:
    cmd = vm.command("python3", "-i", "-q", "-u")
    stdin = cmd.stdin_pipe()
    stdout = cmd.stdout_pipe()
    stderr = cmd.stderr_pipe()
    cmd.start()
    errors = []
    drain = threading.Thread(target=lambda: errors.append(stderr.read()))
    drain.start()

    def read_line() -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            byte = stdout.read(1)
            assert byte, "REPL closed its stdout early"
            line += byte
        return line

    stdin.write(b"x = 6 * 7\n")
    stdin.write(b"print(x)\n")
    assert read_line() == b"42\n"
    stdin.write(b"print('second', x + 1)\n")   # a reply to each line, in turn
    assert read_line() == b"second 43\n"
    stdin.write(b"raise SystemExit(5)\n")
    with pytest.raises(cctui.ExitError):
        cmd.wait()
    drain.join()
    assert cmd.exit_code() == 5
    assert b">>> " in errors[0]               # the prompts went to stderr
