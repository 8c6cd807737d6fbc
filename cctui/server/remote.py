"""``cctui.connect(session)``: an Instance with the whole command API on a VM the server runs.

The server starts a second guest agent inside that VM as an ordinary command
(``exec``, its stdin/stdout streamed over our socket), and this side speaks the
agent protocol to it through that stream with the usual ``AgentSession``. So
every method of the library (commands, pipes, ttys, env, dirs, contexts, files)
is the agent's own, with its own flow control, and nothing new is trusted: the
agent's frames are checked here as a VM's are. Closing the Instance ends only
that agent (the server kills the command when its client goes), never the VM.
"""
from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from guest_pty_agent.protocol import MAX_PAYLOAD

from ..api.instance import AsyncInstance
from ..errors import Error, NotRunning
from ..guest_text import printable
from ..session import AgentSession
from . import paths
from .client import NoServer, RequestFailed
from .wire import DATA_CHUNK, VERSION, Frame, decode_json, decoder, encode, encode_json

if TYPE_CHECKING:
    from .ssh import SshSocket

HANDSHAKE_TIMEOUT = 60.0
# Runs in the guest (stdlib only): a socketpair to a fresh agent (it speaks on one
# fd), relayed to this command's stdin and stdout. /proc/1/exe is the Python the
# guest's init agent runs on, /.cctui/agent its code.
RELAY = r"""
import os, socket, threading
a, b = socket.socketpair()
os.set_inheritable(b.fileno(), True)
env = dict(os.environ, PYTHONPATH="/.cctui/agent:/.cctui/agent/stdlib.zip", PYTHONDONTWRITEBYTECODE="1")
pid = os.fork()
if pid == 0:
    a.close()
    exe = os.readlink("/proc/1/exe")       # its real path: Python finds its stdlib from it
    os.execve(exe, [exe, "-S", "-m", "guest_pty_agent", "--fd", str(b.fileno())], env)
b.close()
def up():
    while True:
        d = os.read(0, 65536)
        if not d:
            break
        a.sendall(d)
    a.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while True:
    d = a.recv(65536)
    if not d:
        break
    while d:
        d = d[os.write(1, d):]
os.waitpid(pid, 0)
"""


class _Frames:
    """Frames from the server's socket, one at a time."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.decoder = decoder(MAX_PAYLOAD)
        self.ready: List[Any] = []

    async def next(self) -> Any:
        while not self.ready:
            data = await self.reader.read(1 << 16)
            if not data:
                raise NotRunning("the cctui server closed the connection: it exited or was killed")
            self.ready.extend(self.decoder.feed(data))
        ftype, ident, payload = self.ready.pop(0)
        if ftype == Frame.ERROR:
            raise NotRunning(f"the cctui server: {decode_json(payload).get('error')}")
        return ftype, ident, payload


class RemoteBackend:
    """The server's relay command as an instance's ``Backend``: stopping it hangs up."""

    def __init__(self, writer: asyncio.StreamWriter, pumps: List[asyncio.Task]) -> None:
        self.writer = writer
        self.pumps = pumps

    async def stop(self) -> None:
        for task in self.pumps:
            task.cancel()
        self.writer.close()

    async def wait_stopped(self, timeout: float) -> None:
        await self.stop()

    async def status(self) -> str:
        return "closed" if self.writer.is_closing() else "running"

    @property
    def hypervisor_pid(self) -> Optional[int]:
        return None


async def connect_async(session: str, vm: Optional[str] = None, ssh: Optional[str] = None) -> AsyncInstance:
    """An AsyncInstance on ``vm`` (default: the session's first) of a running server's session.

    ``ssh`` ([USER@]HOST): the server on that host, through ``ssh HOST cctui proxy``."""
    ssh_sock = None
    if ssh is not None:
        from .ssh import open_ssh_socket
        ssh_sock = open_ssh_socket(ssh, start=False)
        try:
            reader, writer = await asyncio.open_connection(sock=ssh_sock)
        except BaseException:
            ssh_sock.close()
            raise
    else:
        path = paths.socket_path()
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NoServer(f"no server running on {path}") from None
    frames = _Frames(reader)
    try:
        info = await (_handshake(writer, frames, session, vm) if ssh_sock is None
                      else _handshake_ssh(ssh_sock, writer, frames, session, vm))
        writer.write(encode_json(Frame.REQUEST, 2, {"op": "exec", "target": session, "vm": info["name"],
                                                    "argv": ["/proc/1/exe", "-S", "-c", RELAY]}))
        ftype, _, payload = await _reply(frames, 2)
        reply = decode_json(payload)
        if not reply.get("ok"):
            raise RequestFailed(f"cannot start an agent in {info['name']}: {reply.get('error')}")
    except BaseException:
        writer.close()
        raise
    ours, theirs = socket.socketpair()
    local_reader, local_writer = await asyncio.open_connection(sock=ours, limit=1 << 21)
    relay_reader, relay_writer = await asyncio.open_connection(sock=theirs, limit=1 << 21)
    ended: "asyncio.Future[Error]" = asyncio.get_event_loop().create_future()
    pumps = [asyncio.ensure_future(_down(frames, relay_writer, ended)),
             asyncio.ensure_future(_up(relay_reader, writer))]

    async def lost() -> Error:
        return await asyncio.shield(ended) if ended.done() else NotRunning(
            f"the agent relayed by the cctui server for {session} stopped")

    agent = AgentSession(local_reader, local_writer, lost_reason=lost)
    inst = AsyncInstance(name=info["name"], image=info["image"])
    inst.accel, inst.accel_reason, inst.transport = info.get("accel", ""), "via the cctui server", "cctui server"
    backend = RemoteBackend(writer, pumps)
    try:
        await agent.handshake(HANDSHAKE_TIMEOUT)
    except BaseException:
        await backend.stop()
        local_writer.close()
        raise
    inst.attach(agent, backend)
    return inst


async def _handshake_ssh(sock: "SshSocket", writer: asyncio.StreamWriter, frames: _Frames, session: str,
                         vm: Optional[str]) -> Dict[str, Any]:
    """``_handshake`` within ssh's deadline; a hang-up before HELLO names the host and what ssh said."""
    from .ssh import within_hello_deadline
    hello = asyncio.Event()
    return await within_hello_deadline(sock, _handshake(writer, frames, session, vm, hello),
                                       (NotRunning, ConnectionError), hello.is_set)


async def _handshake(writer: asyncio.StreamWriter, frames: _Frames, session: str,
                     vm: Optional[str], hello: Optional[asyncio.Event] = None) -> Dict[str, Any]:
    """HELLO, then find the VM in ``ls``: it must be a running host-image VM."""
    writer.write(encode_json(Frame.HELLO, 0, {"version": VERSION}))
    ftype, _, payload = await frames.next()
    if hello is not None:
        hello.set()
    if ftype != Frame.HELLO or decode_json(payload).get("version") != VERSION:
        raise Error("the cctui server speaks another protocol version")
    writer.write(encode_json(Frame.REQUEST, 1, {"op": "ls"}))
    _, _, payload = await _reply(frames, 1)
    for s in decode_json(payload).get("sessions", []):
        if s.get("name") == session:
            vms = s.get("vms", [])
            for info in vms:
                if vm is None or info.get("name") == vm:
                    if info.get("image") != "host":
                        raise Error(f"connect() reaches host-image VMs for now; {info.get('name')} "
                                    f"runs {printable(info.get('image'))}")
                    if info.get("state") != "running":
                        raise NotRunning(f"{info.get('name')} is {info.get('state')}")
                    return info
            raise Error(f"session {session} has no VM {vm}")
    raise Error(f"can't find session: {session}")


async def _reply(frames: _Frames, ident: int) -> Any:
    while True:
        frame = await frames.next()
        if frame[1] == ident and frame[0] == Frame.REPLY:
            return frame


async def _down(frames: _Frames, out: asyncio.StreamWriter, ended: "asyncio.Future[Error]") -> None:
    """The agent's bytes (OUTPUT frames) to the local end the AgentSession reads."""
    why: Error = NotRunning("the relayed agent exited")
    errors = bytearray()            # its stderr: the last KiB says why it ended
    try:
        while True:
            ftype, _, payload = await frames.next()
            if ftype == Frame.OUTPUT:
                out.write(payload)
                await out.drain()
            elif ftype == Frame.ERROUT:
                errors += payload
                del errors[:-1024]
            elif ftype == Frame.EXIT:
                status = decode_json(payload)
                said = printable(errors.decode(errors="replace").strip().splitlines()[-1:] or "")
                why = NotRunning(f"the agent relayed by the cctui server exited (status {status.get('code')})"
                                 + (f": {said}" if said else ""))
                break
    except Error as exc:
        why = exc
    except (ConnectionError, OSError) as exc:
        why = NotRunning(f"lost the local relay: {exc}")
    finally:
        if not ended.done():
            ended.set_result(why)
        out.close()


async def _up(source: asyncio.StreamReader, server: asyncio.StreamWriter) -> None:
    """What the AgentSession writes, as STDIN frames to the relay command."""
    try:
        while True:
            data = await source.read(DATA_CHUNK)
            if not data:
                break
            server.write(encode(Frame.STDIN, 2, data))
            await server.drain()
        server.write(encode(Frame.STDIN_CLOSE, 2))
    except (ConnectionError, OSError):
        pass
