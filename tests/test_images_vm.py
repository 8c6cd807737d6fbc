"""OCI images booted in a real VM: ENTRYPOINT/CMD/ENV/WorkingDir/User and whiteouts.

The image is made of busybox alone (no Python): the agent runs from the host root
and starts every command inside the image's root.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

import pytest

import cctui
from helpers.images import (BUSYBOX, OCI_TAR, OCI_TAR_GZIP, base_layer, file, image_config,
                                layer, oci_files, top_layer, write_dir, write_tar)

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


CONFIG = {
    "Env": ["PATH=/usr/bin:/bin", "GREETING=hello from the image"],
    "Entrypoint": ["/bin/sh", "-c", 'echo "ep:$*"', "ep"],
    "Cmd": ["default", "cmd"],
    "WorkingDir": "/srv/app",
    "User": "app",
}


def passwd_layer() -> bytes:
    return layer(file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                                    b"app:x:1000:1000:app:/srv/app:/bin/sh\n"),
                 file("etc/group", b"root:x:0:\napp:x:1000:\n"))


def build_image_tarball(directory: Path) -> Path:
    """An OCI tarball: busybox, a layer with whiteouts, a passwd layer, CONFIG."""
    layers = [(OCI_TAR, base_layer()), (OCI_TAR_GZIP, gzip.compress(top_layer(), mtime=0)),
              (OCI_TAR, passwd_layer())]
    uncompressed = [base_layer(), top_layer(), passwd_layer()]
    files, _ = oci_files(layers, image_config(uncompressed, CONFIG))
    return write_tar(files, directory / "image.tar")


@pytest.fixture(scope="module")
def image_vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cctui.Instance]:
    path = build_image_tarball(tmp_path_factory.mktemp("img"))
    vm = cctui.boot(image=str(path))
    try:
        yield vm
    finally:
        vm.close()


def test_entrypoint_without_args_runs_entrypoint_plus_cmd(image_vm: cctui.Instance) -> None:
    assert image_vm.entrypoint_command().output() == b"ep:default cmd\n"


def test_entrypoint_with_args_replaces_cmd(image_vm: cctui.Instance) -> None:
    assert image_vm.entrypoint_command("--verbose", "x").output() == b"ep:--verbose x\n"


def test_environ_comes_from_the_image(image_vm: cctui.Instance) -> None:
    cmd = image_vm.command("sh", "-c", "echo $GREETING; echo $PATH")
    assert "GREETING=hello from the image" in cmd.environ()
    assert "TERM=xterm-256color" in cmd.environ()
    assert cmd.output() == b"hello from the image\n/usr/bin:/bin\n"


def test_default_directory_and_user(image_vm: cctui.Instance) -> None:
    assert image_vm.command("sh", "-c", "pwd; busybox id -u").output() == b"/srv/app\n1000\n"


def test_commands_run_inside_the_image_root(image_vm: cctui.Instance) -> None:
    # The image has no python3 and no /usr/bin/env beyond busybox's: this is not the host root.
    with pytest.raises(cctui.ExecutableNotFound):
        image_vm.command("python3", "-c", "1").start()
    # /etc/app is root-only (0750): the image's default user "app" may not read it.
    with pytest.raises(cctui.ExitError):
        image_vm.command("busybox", "cat", "/etc/app/new").output()
    root_cat = image_vm.command("busybox", "cat", "/etc/app/new").set_user("root")
    assert root_cat.output() == b"from layer 2\n"


def test_whiteouts_took_effect(image_vm: cctui.Instance) -> None:
    run = lambda script: image_vm.command("sh", "-c", script).set_user(0).output()  # noqa: E731
    assert run("busybox cat /etc/motd") == b"layer 2 motd\n"
    assert run("test -e /etc/remove-me && echo present || echo gone") == b"gone\n"
    assert run("busybox ls /etc/app") == b"new\n"                  # opaque dir hid old-a, sub/
    assert run("test -e /etc/same-layer && echo kept") == b"kept\n"


def test_file_methods_use_the_image_root(image_vm: cctui.Instance) -> None:
    assert image_vm.read_file("/etc/motd") == b"layer 2 motd\n"
    image_vm.write_file("/srv/app/written", b"data")
    assert image_vm.command("busybox", "cat", "/srv/app/written").output() == b"data"


def test_rootfs_directory_image(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(BUSYBOX.read_bytes())
    (root / "bin" / "busybox").chmod(0o755)
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "etc").mkdir()
    (root / "etc" / "hostname-in-image").write_text("rootfs dir\n")
    with cctui.boot(image=str(root)) as vm:
        assert vm.entrypoint_command("-c", "busybox cat /etc/hostname-in-image").output() == b"rootfs dir\n"


def test_bad_image_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tar"
    bad.write_bytes(b"this is not a tarball")
    with pytest.raises(cctui.ImageError, match="broken.tar"):
        cctui.boot(image=str(bad))


def test_cli_run_takes_the_same_image_argument(tmp_path: Path) -> None:
    import subprocess
    import sys
    files, _ = oci_files([(OCI_TAR, base_layer()), (OCI_TAR, passwd_layer())],
                         image_config([base_layer(), passwd_layer()], CONFIG))
    image = write_dir(files, tmp_path / "layout")
    done = subprocess.run([sys.executable, "-m", "cctui", "run", "--image", str(image), "--",
                           "sh", "-c", "echo $GREETING; exit 4"],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout == "hello from the image\n", done.stderr
    assert done.returncode == 4
    bad = subprocess.run([sys.executable, "-m", "cctui", "run", "--image", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 125 and "nope" in bad.stderr


def test_tui_boots_the_image_and_its_boot_dialog_takes_the_same_argument(tmp_path: Path) -> None:
    """`cctui --image X` and the boot dialog: each pane runs the image's entrypoint."""
    import asyncio

    from conftest import until

    from cctui.tui.app import CctuiApp

    image = str(build_image_tarball(tmp_path))

    def screen(frame) -> str:
        return "\n".join(frame.process.model.display)

    async def scenario() -> None:
        app = CctuiApp(image=image)
        async with app.run_test(size=(160, 48)) as pilot:
            first = list(app.layout_widget.frames.values())[0]
            await until(lambda: first.process.state == "exited", 120, "the entrypoint to run")
            assert "ep:default cmd" in screen(first)
            assert first.process.exit_status == (0, None)
            await pilot.press("ctrl+b", "v")                 # boot another VM: the dialog
            await pilot.pause()
            await pilot.press("enter")                       # its field holds the same image
            await until(lambda: len(app.layout_widget.frames) == 2, 30, "a pane for the new VM")
            second = list(app.layout_widget.frames.values())[1]
            assert second.process.instance is not first.process.instance
            await until(lambda: second.process.state == "exited", 120, "the second entrypoint")
            assert "ep:default cmd" in screen(second)
            await pilot.press("ctrl+b", "percent_sign")      # a split is a shell in the image
            await until(lambda: len(app.layout_widget.frames) == 3, 30, "the split")
            third = list(app.layout_widget.frames.values())[2]
            assert third.process.argv == ["/bin/sh"]
            await until(lambda: third.process.state == "running", 30, "the shell")
            # uid of the image's user "app", and the length of the image's $GREETING
            third.process.write(b"echo u$(busybox id -u)g${#GREETING}\r")
            await until(lambda: "u1000g20" in screen(third), 30, "the image's user and env")
            await app.shutdown_owned_vms()

    asyncio.run(scenario())
