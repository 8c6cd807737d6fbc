"""The blocking facade: Instance and Cmd for scripts, over the asyncio core."""
from __future__ import annotations

from typing import Any, List, Optional, Union

from .. import runtime
from ..context import Context
from .cmd import AsyncCmd
from .instance import AsyncInstance, InstanceState
from .sinks import PipeReader, PipeWriter


class Cmd:
    """cc's Cmd: setters chain; output()/run()/start()/wait() block."""

    def __init__(self, core: AsyncCmd) -> None:
        self._core = core

    def __repr__(self) -> str:
        return repr(self._core)

    @property
    def argv(self) -> List[str]:
        return list(self._core.argv)

    def set_stdin(self, reader: Any) -> "Cmd":
        self._core.set_stdin(reader)
        return self

    def set_stdout(self, writer: Any) -> "Cmd":
        self._core.set_stdout(writer)
        return self

    def set_stderr(self, writer: Any) -> "Cmd":
        self._core.set_stderr(writer)
        return self

    def set_env(self, key: str, value: str) -> "Cmd":
        self._core.set_env(key, value)
        return self

    def get_env(self, key: str) -> str:
        return self._core.get_env(key)

    def environ(self) -> List[str]:
        return self._core.environ()

    def set_dir(self, path: str) -> "Cmd":
        self._core.set_dir(path)
        return self

    def set_user(self, user: Union[str, int]) -> "Cmd":
        self._core.set_user(user)
        return self

    def stdin_pipe(self) -> PipeWriter:
        return self._core.stdin_pipe()

    def stdout_pipe(self) -> PipeReader:
        return self._core.stdout_pipe()

    def stderr_pipe(self) -> PipeReader:
        return self._core.stderr_pipe()

    def start(self) -> None:
        runtime.run(self._core.start())

    def wait(self) -> None:
        runtime.run(self._core.wait())

    def run(self) -> None:
        runtime.run(self._core.run())

    def output(self) -> bytes:
        return runtime.run(self._core.output())

    def combined_output(self) -> bytes:
        return runtime.run(self._core.combined_output())

    def exit_code(self) -> int:
        return self._core.exit_code()

    @property
    def pid(self) -> Optional[int]:
        return self._core.pid


class Instance:
    """A running VM for scripts; also a context manager that closes it."""

    def __init__(self, core: AsyncInstance) -> None:
        self._core = core

    @property
    def aio(self) -> AsyncInstance:
        """The asyncio instance underneath (bound to the background loop)."""
        return self._core

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def state(self) -> InstanceState:
        return self._core.state

    @property
    def accel(self) -> str:
        return self._core.accel

    @property
    def transport(self) -> str:
        """The agent's byte stream: "vsock", "vsock-user" or "virtio-serial"."""
        return self._core.transport

    @property
    def transport_reason(self) -> str:
        return self._core.transport_reason

    def hypervisor_status(self) -> str:
        """QEMU's run state over QMP ("running", "paused", ...)."""
        return runtime.run(self._core.hypervisor_status())

    @property
    def qemu_pid(self) -> Optional[int]:
        return self._core.qemu_pid

    @property
    def boot_seconds(self) -> Optional[float]:
        return self._core.boot_seconds

    def command(self, name: str, *args: str) -> Cmd:
        return Cmd(self._core.command(name, *args))

    def command_context(self, ctx: Context, name: str, *args: str) -> Cmd:
        return Cmd(self._core.command_context(ctx, name, *args))

    def entrypoint_command(self, *args: str) -> Cmd:
        return Cmd(self._core.entrypoint_command(*args))

    def exec(self, path: str, *args: str) -> int:
        return runtime.run(self._core.exec(path, *args))

    def exec_context(self, ctx: Context, path: str, *args: str) -> int:
        return runtime.run(self._core.exec_context(ctx, path, *args))

    def mkdir_all(self, path: str, mode: int = 0o755) -> None:
        runtime.run(self._core.mkdir_all(path, mode))

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        runtime.run(self._core.write_file(path, data, mode))

    def read_file(self, path: str) -> bytes:
        return runtime.run(self._core.read_file(path))

    def copy_to(self, host_path: str, guest_path: str, recursive: bool = False) -> None:
        """Copy a host file or tree into the guest (streamed; modes kept)."""
        runtime.run(self._core.copy_to(host_path, guest_path, recursive))

    def copy_from(self, guest_path: str, host_path: str, recursive: bool = False) -> None:
        """Copy a guest file or tree to the host (streamed; modes kept)."""
        runtime.run(self._core.copy_from(guest_path, host_path, recursive))

    def close(self) -> None:
        runtime.run(self._core.close())

    def __enter__(self) -> "Instance":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
