"""Copying without a VM: operand parsing, the checks of guest listings, and
copy_to/copy_from against a local agent, honest and forged (a hostile guest)."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import cctui
from cctui.api.copy_checks import GuestLie, check_name, check_page, check_stat
from cctui.copy_paths import CopyPathError, GuestPath, parse_copy, parse_operand


# -- operands ------------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("s:/tmp/f", GuestPath("s", None, "/tmp/f")),
    ("s:vm2:/var/log/x.log", GuestPath("s", "vm2", "/var/log/x.log")),
    ("s:/a:b", GuestPath("s", None, "/a:b")),
    ("./s:/x", "./s:/x"), ("/abs:x", "/abs:x"), ("dir/a:b", "dir/a:b"), ("plain", "plain"),
    (".", "."),
])
def test_operands_name_a_vm_only_as_session_colon_absolute_path(text: str, want: Any) -> None:
    assert parse_operand(text) == want


@pytest.mark.parametrize("text, words", [
    ("s:tmp/f", "must be absolute"), ("s:vm1:rel", "must be absolute"),
    ("s:v m:/x", "bad VM name"), ("bad name:/x", "bad session name"), ("", "empty"),
    ("s:/\0", "NUL"),
])
def test_bad_operands_say_which_part_is_wrong(text: str, words: str) -> None:
    with pytest.raises(CopyPathError, match=words):
        parse_operand(text)


def test_exactly_one_side_is_in_a_vm() -> None:
    assert parse_copy("./f", "s:/tmp/f") == ("to", "./f", GuestPath("s", None, "/tmp/f"))
    assert parse_copy("s:/tmp/f", ".") == ("from", GuestPath("s", None, "/tmp/f"), ".")
    with pytest.raises(CopyPathError, match="both"):
        parse_copy("s:/a", "t:/b")
    with pytest.raises(CopyPathError, match="neither"):
        parse_copy("a", "b")


# -- checks of guest replies ------------------------------------------------------

def entry(name: Any, kind: Any = "file", mode: Any = 0o644, size: Any = 1, mtime: Any = 0,
          target: Any = "") -> List[Any]:
    return [name, kind, mode, size, mtime, target]


def page(entries: List[Any], next_: Any = None, total: Any = None) -> Dict[str, Any]:
    n = len(entries)
    return {"entries": entries, "next": n if next_ is None else next_,
            "total": n if total is None else total}


def test_an_honest_page_is_taken_as_is() -> None:
    got, following, total = check_page(page([entry("a"), entry("b", "link", 0o777, 0, 5, "/etc"),
                                             entry("c", "dir")], 3, 7), 0, 256, None)
    assert [e.name for e in got] == ["a", "b", "c"] and (following, total) == (3, 7)
    assert got[1].target == "/etc" and got[1].kind == "link"


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "/etc", "x\0y", "é" * 200, 7,
                                  "\ud800"])
def test_names_that_are_not_one_plain_component_are_lies(name: Any) -> None:
    with pytest.raises(GuestLie):
        check_name(name)
    with pytest.raises(GuestLie):
        check_page(page([entry(name)]), 0, 256, None)


@pytest.mark.parametrize("bad", [
    page([entry("a"), entry("a", "link", target="/etc")]),            # duplicate name
    page([entry("b"), entry("a")]),                                   # not sorted
    page([entry("a", "socket")]), page([entry("a", mode=0o10000)]),
    page([entry("a", mode=True)]), page([entry("a", size=-1)]), page([entry("a", size=2**64)]),
    page([entry("a", "link", target="")]), page([entry("a", "link", target="x" * 4097)]),
    page([entry("a", "file", target="/etc")]), page([entry("a")[:5]]), page([["a"] * 6]),
    page([entry("a")], total=10**7),                                  # too many entries
    page([entry("a")], next_=0, total=5),                             # more entries than indexes
    page([], next_=0, total=5),                                       # no progress: endless loop
    page([entry("a")], next_=2, total=1),                             # next past the end
    {"entries": "a", "next": 1, "total": 1}, {"entries": [], "next": "1", "total": 1},
    page([entry(f"n{i:04}") for i in range(300)]),                    # more than the 256 asked
])
def test_hostile_pages_are_lies(bad: Dict[str, Any]) -> None:
    with pytest.raises(GuestLie):
        check_page(bad, 0, 256, None)


def test_names_must_sort_after_the_previous_page() -> None:
    with pytest.raises(GuestLie, match="sorted"):
        check_page(page([entry("a")], 2, 3), 1, 256, "m")


def test_stat_replies_are_checked() -> None:
    assert check_stat({"type": "dir", "mode": 0o755, "size": 0, "mtime_ns": 1, "target": ""}).kind == "dir"
    with pytest.raises(GuestLie):
        check_stat({"type": "dir", "mode": "755", "size": 0, "mtime_ns": 1, "target": ""})


# -- a local agent -------------------------------------------------------------------

@pytest.fixture
def inst() -> Iterator[cctui.Instance]:
    with cctui.connect_local() as instance:
        yield instance


def make_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.sh").write_bytes(os.urandom(1_300_000))      # several chunks, an odd tail
    (root / "a.sh").chmod(0o751)
    (root / "sub" / "ro").write_text("read only")
    (root / "sub" / "ro").chmod(0o444)
    (root / "sub" / "up").symlink_to("../a.sh")
    (root / "sub" / "out").symlink_to("/etc")
    os.utime(root / "a.sh", ns=(10**18, 10**18))


def assert_same_tree(a: Path, b: Path) -> None:
    names_a = sorted(str(p.relative_to(a)) for p in a.rglob("*"))
    assert names_a == sorted(str(p.relative_to(b)) for p in b.rglob("*"))
    for rel in names_a:
        sa, sb = os.lstat(a / rel), os.lstat(b / rel)
        assert stat.S_IFMT(sa.st_mode) == stat.S_IFMT(sb.st_mode), rel
        if stat.S_ISLNK(sa.st_mode):
            assert os.readlink(a / rel) == os.readlink(b / rel)
        else:
            assert stat.S_IMODE(sa.st_mode) == stat.S_IMODE(sb.st_mode), rel
        if stat.S_ISREG(sa.st_mode):
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert os.stat(b / "a.sh").st_mtime_ns == 10**18


def test_a_tree_goes_there_and_back_like_cp(inst: cctui.Instance, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    (tmp_path / "there").mkdir()
    inst.copy_to(str(tmp_path / "src"), str(tmp_path / "there"), recursive=True)   # into it
    assert_same_tree(tmp_path / "src", tmp_path / "there" / "src")
    inst.copy_from(str(tmp_path / "there" / "src"), str(tmp_path / "back"), recursive=True)
    assert_same_tree(tmp_path / "src", tmp_path / "back")


def test_special_files_are_skipped_with_a_warning(inst: cctui.Instance, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    os.mkfifo(tmp_path / "src" / "fifo")
    (tmp_path / "src" / "f").write_text("x")
    with pytest.warns(cctui.api.copy.CopySkipped, match="fifo"):
        inst.copy_to(str(tmp_path / "src"), str(tmp_path / "dst"), recursive=True)
    assert os.listdir(tmp_path / "dst") == ["f"]


def test_errors_name_the_bad_part(inst: cctui.Instance, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    cases = [
        (lambda: inst.copy_from("/no/such", str(tmp_path)), cctui.SourceNotFound, "/no/such"),
        (lambda: inst.copy_to(str(tmp_path / "nope"), "/tmp"), cctui.SourceNotFound, "nope"),
        (lambda: inst.copy_to(str(tmp_path / "f"), str(tmp_path / "x" / "y")),
         cctui.DestinationNotFound, str(tmp_path / "x")),
        (lambda: inst.copy_from(str(tmp_path / "f"), str(tmp_path / "x" / "y")),
         cctui.DestinationNotFound, str(tmp_path / "x")),
        (lambda: inst.copy_to(str(tmp_path / "d"), str(tmp_path / "f"), recursive=True),
         cctui.NotADirectory, str(tmp_path / "f")),
        (lambda: inst.copy_to(str(tmp_path / "f"), str(tmp_path / "f") + "/z"),
         cctui.NotADirectory, str(tmp_path / "f")),
        (lambda: inst.copy_from(str(tmp_path / "d"), str(tmp_path / "e")), cctui.CopyError, "-r"),
        (lambda: inst.copy_from("", str(tmp_path / "e")), cctui.CopyError, "bad guest path"),
        (lambda: inst.copy_to(str(tmp_path / "f"), "/tmp/\0"), cctui.CopyError, "bad guest path"),
    ]
    for call, kind, words in cases:
        with pytest.raises(kind, match=words):
            call()
    assert inst.read_file(str(tmp_path / "f")) == b"x"      # the session lived through them


def test_permission_denied_is_its_own_error(inst: cctui.Instance, tmp_path: Path) -> None:
    """sysfs refuses new files even to root: EACCES on either side."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(cctui.PermissionDenied, match="host path /sys/f") as host:
        inst.copy_from(str(tmp_path / "f"), "/sys/f")
    with pytest.raises(cctui.PermissionDenied, match="guest path /sys/f") as guest:
        inst.copy_to(str(tmp_path / "f"), "/sys/f")
    assert (host.value.side, guest.value.side) == ("host", "guest")


def forge(inst: cctui.Instance, op: str, reply: Dict[str, Any], data: bytes = b"") -> None:
    """Make the agent answer every ``op`` request with ``reply`` (a lying guest)."""
    core = inst.aio
    honest = core._file_request

    async def lying(header: Dict[str, Any], blob: bytes = b"") -> tuple:
        if header["op"] == op:
            return dict(reply, ok=True), data
        return await honest(header, blob)
    core._file_request = lying    # type: ignore[method-assign]


@pytest.mark.parametrize("name", ["..", "../escaped", "/tmp/escaped", "a/../../escaped"])
def test_a_listing_cannot_place_files_outside_the_destination(
        inst: cctui.Instance, tmp_path: Path, name: str) -> None:
    (tmp_path / "guest").mkdir()
    forge(inst, "list_dir", page([entry(name, "dir", 0o755, 0)]))
    with pytest.raises(cctui.ProtocolError, match="file name"):
        inst.copy_from(str(tmp_path / "guest"), str(tmp_path / "dst"), recursive=True)
    assert sorted(os.listdir(tmp_path)) == ["dst", "guest"] and os.listdir(tmp_path / "dst") == []


def test_a_listing_never_writes_through_a_symlink(inst: cctui.Instance, tmp_path: Path) -> None:
    """A link already in the destination is not followed by a directory of the same name."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "guest" / "sub").mkdir(parents=True)
    (tmp_path / "guest" / "sub" / "f").write_text("payload")
    (tmp_path / "dst" / "guest").mkdir(parents=True)
    (tmp_path / "dst" / "guest" / "sub").symlink_to(outside)
    with pytest.raises(cctui.CopyError):
        inst.copy_from(str(tmp_path / "guest"), str(tmp_path / "dst"), recursive=True)
    assert os.listdir(outside) == []


def test_more_bytes_than_asked_is_a_protocol_error(inst: cctui.Instance, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345")
    forge(inst, "read_file", {"size": 5}, b"1234567890")
    with pytest.raises(cctui.ProtocolError, match="5-byte read with 10 bytes"):
        inst.copy_from(str(tmp_path / "f"), str(tmp_path / "out"))


def test_names_that_are_not_utf8_keep_their_bytes(inst: cctui.Instance, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    raw = [b"bad\xff\xfename", "é".encode()]
    for name in raw:
        with open(os.fsencode(src) + b"/" + name, "wb") as f:
            f.write(name)
    inst.copy_from(str(src), str(tmp_path / "back"), recursive=True)
    inst.copy_to(str(src), str(tmp_path / "there"), recursive=True)
    for where in ("back", "there"):
        base = os.fsencode(tmp_path / where)
        assert sorted(os.listdir(base)) == sorted(raw)
        assert all(open(base + b"/" + name, "rb").read() == name for name in raw)


# -- the agent's checks of the host's copy requests --------------------------------

@pytest.mark.parametrize("request_", [
    {"op": "set_attrs", "path": "/x", "mode": 0o10000}, {"op": "set_attrs", "path": "/x"},
    {"op": "set_attrs", "path": "/x", "mode": 1, "mtime_ns": "1"},
    {"op": "list_dir", "path": "/x", "limit": 0}, {"op": "list_dir", "path": "/x", "limit": 5000},
    {"op": "list_dir", "path": "/x", "start": -1}, {"op": "symlink", "path": "/x"},
    {"op": "symlink", "path": "/x", "target": ""}, {"op": "stat", "path": "/x", "follow": 1},
    {"op": "mkdir", "path": ""}, {"op": "write_file", "path": "/x", "offset": -1},
    {"op": "write_file", "path": "/x", "offset": True},
])
def test_the_agent_refuses_malformed_copy_requests(request_: Dict[str, Any]) -> None:
    from guest_pty_agent.protocol import ProtocolError
    from guest_pty_agent.validate import file_request
    with pytest.raises(ProtocolError):
        file_request(request_)


def test_an_image_root_confines_the_new_ops_too() -> None:
    from guest_pty_agent.validate import file_request
    for op in ("stat", "list_dir", "mkdir", "symlink", "set_attrs"):
        req = file_request({"op": op, "path": "../../etc/x", "root": "/img", "target": "t",
                            "mode": 0o644})
        assert req["path"] == "/img/etc/x", op
