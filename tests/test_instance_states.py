"""Lifecycle states of AsyncInstance and PaneProcess, driven with the local agent (no VM).

Each object owns its state: it changes only through its own methods, a change
its table forbids is a TransitionError naming both ends, and a method that
needs a state raises a StateError naming the actual and required states.
"""
from __future__ import annotations

import asyncio
import builtins
import logging
from typing import Any, Awaitable, Callable, List

import pytest

from cctui import AlreadyClosed, InstanceState, NotRunning, StateError
from cctui.aio import AsyncInstance, connect_local
import cctui.errors
from cctui.errors import TransitionError
from cctui.server.pane_process import PaneProcess, PaneState

RUNNING = InstanceState.RUNNING


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


def watch(inst: AsyncInstance) -> List[InstanceState]:
    """The states the instance's listeners saw, in order."""
    seen: List[InstanceState] = []
    inst.add_listener(lambda i: seen.append(i.state))
    return seen


async def state_reached(inst: AsyncInstance, state: InstanceState) -> None:
    """Wait for a listener to see ``state`` (an event, not a poll)."""
    reached = asyncio.Event()
    inst.add_listener(lambda i: reached.set() if i.state is state else None)
    if inst.state is not state:
        await reached.wait()


def test_states_are_str_enums_so_old_comparisons_hold() -> None:
    assert InstanceState.RUNNING == "running" and PaneState.EXITED == "exited"
    assert f"{InstanceState.FAILED}" == "failed" and str(PaneState.STARTING) == "starting"
    assert {"booting": 1}[InstanceState.BOOTING] == 1


def test_close_moves_running_to_stopped_and_later_calls_name_the_state() -> None:
    async def scenario() -> None:
        inst = await connect_local()
        seen = watch(inst)
        assert inst.state is RUNNING
        assert await inst.hypervisor_status() == "running"   # the agent process runs
        assert inst.qemu_pid is None                          # no hypervisor here
        await inst.close()
        assert inst.state is InstanceState.STOPPED and seen[-1] is InstanceState.STOPPED
        with pytest.raises(AlreadyClosed) as info:
            await inst.command("true").start()
        err = info.value
        assert isinstance(err, NotRunning) and isinstance(err, StateError)
        assert err.state is InstanceState.STOPPED and err.required == (RUNNING,)
        assert str(err) == "local is stopped (closed); this needs it running"
        with pytest.raises(AlreadyClosed, match="stopped .*needs it running"):
            await inst.exec("/bin/true")                     # @require on an async method
        with pytest.raises(AlreadyClosed, match="stopped"):
            await inst.read_file("/etc/hostname")
    run(scenario)


def test_state_cannot_be_written_from_outside() -> None:
    async def scenario() -> None:
        inst = await connect_local()
        try:
            with pytest.raises(AttributeError):
                inst.state = InstanceState.STOPPED  # type: ignore[misc]
            assert inst.state is RUNNING
        finally:
            await inst.close()
    run(scenario)


def test_an_agent_dying_under_us_is_failed_not_closed() -> None:
    async def scenario() -> None:
        inst = await connect_local()
        seen = watch(inst)
        inst._backend.proc.kill()          # type: ignore[union-attr]  # the "VM" dies
        await state_reached(inst, InstanceState.FAILED)
        assert seen == [InstanceState.FAILED]
        assert "exited with status -9" in inst.status_detail
        with pytest.raises(NotRunning) as info:
            await inst.write_file("/tmp/x", b"x")
        assert not isinstance(info.value, AlreadyClosed)
        assert str(info.value).startswith("local is failed (")
        assert "exited with status -9" in str(info.value) and "needs it running" in str(info.value)
        await inst.close()
        assert inst.state is InstanceState.FAILED                # close keeps why it ended
    run(scenario)


def test_illegal_instance_transitions_are_internal_errors_naming_both_ends() -> None:
    async def scenario() -> None:
        inst = await connect_local()
        await inst.close()
        with pytest.raises(TransitionError, match=r"AsyncInstance: illegal state transition stopped -> running"):
            inst._enter(RUNNING, "")
        assert not issubclass(TransitionError, StateError)      # a bug, not a user error
        # attach() needs booting: a second boot into a closed instance is refused.
        with pytest.raises(AlreadyClosed, match="stopped .*needs it booting"):
            inst.attach(inst.session, inst._backend)          # type: ignore[arg-type]
    run(scenario)


def test_a_booting_instance_refuses_commands_and_boot_failure_is_recorded() -> None:
    async def scenario() -> None:
        inst = AsyncInstance(name="b")
        with pytest.raises(NotRunning, match=r"^b is booting; this needs it running$"):
            await inst.mkdir_all("/x")
        inst.boot_failed(NotRunning("QEMU exited"))
        assert inst.state is InstanceState.FAILED and str(inst.error) == "QEMU exited"
        with pytest.raises(NotRunning, match=r"^b is failed \(QEMU exited\); this needs it running$"):
            await inst.command("true").start()

        closed = AsyncInstance(name="c")
        await closed.close()                       # closed while booting
        closed.boot_failed(NotRunning("cancelled"))
        assert closed.state is InstanceState.STOPPED       # the owner's close is what happened
    run(scenario)


class _Pane:
    """A PaneProcess on a local agent, with its change notifications counted."""

    def __init__(self, inst: AsyncInstance, argv: List[str]) -> None:
        self.changes = 0
        self.process = PaneProcess(inst, argv, 24, 80, on_change=self._changed, on_output=lambda: None)

    def _changed(self, process: Any) -> None:
        self.changes += 1


def test_pane_owns_its_state_through_start_exit_rerun_and_crash() -> None:
    async def scenario() -> None:
        inst = await connect_local()
        try:
            pane = _Pane(inst, ["sh", "-c", "exit 3"])
            process = pane.process
            assert process.state is PaneState.STARTING
            await process.start()
            assert process.state is PaneState.EXITED and process.exit_status == (3, None)
            await process.rerun()
            assert process.state is PaneState.EXITED and process.runs == 2
            process.crashed("RuntimeError('a bug below')")
            assert process.state is PaneState.FAILED and "a bug below" in process.error
            with pytest.raises(TransitionError, match="PaneProcess: illegal state transition failed -> exited"):
                process._enter(PaneState.EXITED)
            with pytest.raises(AttributeError):
                process.state = PaneState.RUNNING  # type: ignore[misc]
        finally:
            await inst.close()
    run(scenario)


def test_pane_vm_lost_while_running_fails_and_says_why() -> None:
    async def scenario() -> None:
        inst = await connect_local()
        try:
            pane = _Pane(inst, ["sleep", "30"])
            process = pane.process
            task = asyncio.ensure_future(process.start())
            running = asyncio.Event()
            pane.process._on_change = lambda p: running.set() if p.state is PaneState.RUNNING else None
            await running.wait()
            process.vm_lost("the VM stopped: test")
            assert process.state is PaneState.FAILED and process.error == "the VM stopped: test"
            assert process.cmd is not None
            process.cmd.kill()  # the pane's kill() acts only while running: end it directly
            await task          # the run's own end keeps the failure, no illegal failed -> exited
            assert process.state is PaneState.FAILED
        finally:
            await inst.close()
    run(scenario)


def test_a_raising_listener_is_logged_and_the_others_still_hear(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        inst = await connect_local()

        def broken(i: AsyncInstance) -> None:
            raise RuntimeError("listener bug")
        inst.add_listener(broken)                   # first: it must not silence the next one
        heard = watch(inst)
        with caplog.at_level(logging.ERROR, logger="cctui"):
            inst.progress("step one")
            await inst.close()
        assert heard[0] is RUNNING and heard[-1] is InstanceState.STOPPED
        records = [r for r in caplog.records if r.name == "cctui.api.instance"]
        assert len(records) == len(heard)           # one report per notification
        assert all(r.levelno == logging.ERROR for r in records)
        assert "local: state listener" in records[0].getMessage()
        exc_info = records[0].exc_info
        assert exc_info is not None and str(exc_info[1]) == "listener bug"
    run(scenario)


def test_a_raising_pane_listener_is_logged_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        inst = await connect_local()
        try:
            def broken(process: PaneProcess) -> None:
                raise ValueError("pane listener bug")
            process = PaneProcess(inst, ["true"], 24, 80, on_change=broken, on_output=lambda: None)
            with caplog.at_level(logging.ERROR, logger="cctui"):
                await process.start()
            assert process.state is PaneState.EXITED and process.exit_status == (0, None)
            records = [r for r in caplog.records if r.name == "cctui.server.pane_process"]
            states = [r.getMessage().rsplit("(state ", 1)[1].rstrip(")") for r in records]
            assert states[0] == "starting" and "running" in states and states[-1] == "exited"
            assert all(r.exc_info and str(r.exc_info[1]) == "pane listener bug" for r in records)
        finally:
            await inst.close()
    run(scenario)


def test_the_error_tree_in_the_errors_docstring_matches_the_classes() -> None:
    """Each drawn class derives from the one drawn above it, and none is left out."""
    doc = cctui.errors.__doc__ or ""
    parents: List[type] = []
    drawn = set()
    for line in doc.splitlines():
        if not line.startswith(" |"):
            continue
        body = line[2:]
        name = body.split("+-- ")[-1].strip()
        depth = (len(body) - len(body.lstrip(" |+-"))) // 5
        cls = getattr(cctui.errors, name, None) or getattr(builtins, name)
        del parents[depth:]
        if parents:
            assert cls.__bases__ == (parents[-1],), f"{name} is drawn under {parents[-1].__name__}"
        parents.append(cls)
        drawn.add(cls)
    ours = {c for c in vars(cctui.errors).values() if isinstance(c, type) and issubclass(c, Exception)
            and c.__module__ == "cctui.errors"}
    assert ours <= drawn, f"not drawn: {sorted(c.__name__ for c in ours - drawn)}"
