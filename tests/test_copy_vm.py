"""Copying files with a real VM: the Python API and ``cctui cp``, through a private server.

One server and one VM serve the module (session ``c``, CCTUI_SOCKET_DIR private
to it). The API is reached with ``cctui.connect``, the same route ``cctui cp``
takes. 100 MB copies run in child processes so that their peak RSS can be
measured on its own and compared with the file size.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

import cctui

pytestmark = pytest.mark.vm
ENV: Dict[str, str] = {}
BIG = 100 * 1024 * 1024
RSS_SLACK = 30 * 1024 * 1024      # peak growth allowed while copying BIG bytes
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "cctui", *args], env=ENV, capture_output=True,
                          timeout=timeout, cwd=ROOT)
    if check and done.returncode != 0:
        raise AssertionError(f"cctui {' '.join(args)}: {done.returncode} {done.stderr.decode()}")
    return done


@pytest.fixture(scope="module", autouse=True)
def server() -> Iterator[None]:
    where = tempfile.mkdtemp(prefix="cctui-copy-")
    ENV.clear()
    ENV.update(os.environ, CCTUI_SOCKET_DIR=where)
    os.environ["CCTUI_SOCKET_DIR"] = where          # for cctui.connect in this process
    cli("new", "-d", "-s", "c", "--", "sh")
    try:
        yield
    finally:
        cli("kill-server", check=False)
        os.environ.pop("CCTUI_SOCKET_DIR", None)
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="module")
def vm(server: None) -> Iterator[cctui.Instance]:
    with cctui.connect("c") as instance:
        yield instance


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def big_file(path: Path) -> str:
    with open(path, "wb") as f:
        for _ in range(BIG // (1 << 20)):
            f.write(os.urandom(1 << 20))
    path.chmod(0o640)
    return sha256(path)


def guest_sha256(vm: cctui.Instance, path: str) -> str:
    return vm.command("sha256sum", path).output().split()[0].decode()


COPY_SCRIPT = """
import resource, sys, cctui
direction, src, dst = sys.argv[1:]
with cctui.connect("c") as vm:
    vm.read_file("/proc/version")          # the session is up before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (vm.copy_to if direction == "to" else vm.copy_from)(src, dst)
    print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def api_copy_in_child(direction: str, src: str, dst: str) -> int:
    """Peak RSS growth in bytes of a child process that runs one copy."""
    done = subprocess.run([sys.executable, "-c", COPY_SCRIPT, direction, src, dst], env=ENV,
                          capture_output=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()
    before, after = map(int, done.stdout.split())
    return (after - before) * 1024


def test_api_copies_100_mb_both_ways_in_bounded_memory(vm: cctui.Instance, tmp_path: Path) -> None:
    want = big_file(tmp_path / "big")
    grew_to = api_copy_in_child("to", str(tmp_path / "big"), "/tmp/big")
    assert guest_sha256(vm, "/tmp/big") == want
    assert vm.command("stat", "-c", "%a %s", "/tmp/big").output() == f"640 {BIG}\n".encode()
    grew_from = api_copy_in_child("from", "/tmp/big", str(tmp_path / "back"))
    vm.command("rm", "/tmp/big").run()
    assert sha256(tmp_path / "back") == want
    assert stat.S_IMODE(os.stat(tmp_path / "back").st_mode) == 0o640
    assert grew_to < RSS_SLACK and grew_from < RSS_SLACK, (grew_to, grew_from)


def test_a_tree_with_a_symlink_goes_both_ways(vm: cctui.Instance, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "run.sh").chmod(0o755)
    (src / "sub" / "secret").write_text("s")
    (src / "sub" / "secret").chmod(0o600)
    (src / "sub" / "link").symlink_to("../run.sh")
    vm.mkdir_all("/tmp/in")
    vm.copy_to(str(src), "/tmp/in", recursive=True)            # lands inside: /tmp/in/tree
    listing = vm.command("sh", "-c", "cd /tmp/in/tree && stat -c '%n %a %F' run.sh sub sub/secret "
                                     "&& readlink sub/link && sub/link").output().decode()
    assert listing.splitlines() == ["run.sh 755 regular file", "sub 755 directory",
                                    "sub/secret 600 regular file", "../run.sh", "hi"]
    vm.copy_from("/tmp/in/tree", str(tmp_path / "back"), recursive=True)
    back = tmp_path / "back"
    assert os.readlink(back / "sub" / "link") == "../run.sh"
    assert (back / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(os.stat(back / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(back / "sub" / "secret").st_mode) == 0o600


def test_guest_errors_name_the_bad_part(vm: cctui.Instance, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(cctui.SourceNotFound, match="guest path /no/such"):
        vm.copy_from("/no/such", str(tmp_path))
    with pytest.raises(cctui.DestinationNotFound, match="guest path /no/such"):
        vm.copy_to(str(tmp_path / "f"), "/no/such/f")
    with pytest.raises(cctui.NotADirectory, match="guest path /etc/hostname"):
        vm.copy_to(str(tmp_path / "f"), "/etc/hostname/f")
    with pytest.raises(cctui.PermissionDenied, match="guest path /sys/f"):
        vm.copy_to(str(tmp_path / "f"), "/sys/f")
    with pytest.raises(cctui.CopyError, match="directory"):
        vm.copy_from("/etc", str(tmp_path / "etc"))


def cli_copy(*args: str) -> Tuple[int, int, str]:
    """``cctui cp`` in a child: (exit status, its own peak RSS in bytes, stderr)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "cctui", "cp", *args], env=ENV, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)       # this child's own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, usage.ru_maxrss * 1024, err.read().decode()


def test_cctui_cp_copies_100_mb_both_ways_in_bounded_memory(vm: cctui.Instance, tmp_path: Path) -> None:
    (tmp_path / "tiny").write_text("t")
    code, baseline, err = cli_copy(str(tmp_path / "tiny"), "c:/tmp/tiny")
    assert code == 0, err
    want = big_file(tmp_path / "big")
    code, peak_to, err = cli_copy(str(tmp_path / "big"), "c:/tmp/")     # into the directory
    assert code == 0, err
    assert guest_sha256(vm, "/tmp/big") == want
    (tmp_path / "out").mkdir()
    code, peak_from, err = cli_copy("c:vm1:/tmp/big", str(tmp_path / "out"))
    vm.command("rm", "/tmp/big").run()
    assert code == 0, err
    assert sha256(tmp_path / "out" / "big") == want
    assert stat.S_IMODE(os.stat(tmp_path / "out" / "big").st_mode) == 0o640
    assert peak_to - baseline < RSS_SLACK and peak_from - baseline < RSS_SLACK, \
        (baseline, peak_to, peak_from)


def test_cctui_cp_directories_need_r_and_errors_are_clear(vm: cctui.Instance, tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_text("deep")
    code, _, err = cli_copy(str(tmp_path / "d"), "c:/tmp/d")
    assert code == 1 and "is a directory" in err and "-r" in err
    code, _, err = cli_copy("-r", str(tmp_path / "d"), "c:/tmp/d")
    assert code == 0, err
    assert vm.read_file("/tmp/d/e/f") == b"deep"
    code, _, err = cli_copy("c:/tmp/nothing", str(tmp_path))
    assert code == 1 and "guest path /tmp/nothing: no such file" in err
    code, _, err = cli_copy("nosuch:/tmp/x", str(tmp_path))
    assert code == 1 and "nosuch" in err
    code, _, err = cli_copy("c:tmp/x", str(tmp_path))
    assert code == 2 and "must be absolute" in err


def test_cctui_cp_skips_a_guest_fifo_with_a_warning(vm: cctui.Instance, tmp_path: Path) -> None:
    vm.command("sh", "-c", "mkdir -p /tmp/sp && mkfifo /tmp/sp/fifo && echo k > /tmp/sp/keep").run()
    code, _, err = cli_copy("-r", "c:/tmp/sp", str(tmp_path / "sp"))
    assert code == 0, err
    assert "skipped guest path /tmp/sp/fifo" in err
    assert os.listdir(tmp_path / "sp") == ["keep"] and (tmp_path / "sp" / "keep").read_text() == "k\n"
