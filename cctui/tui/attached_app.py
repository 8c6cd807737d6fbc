"""AttachedApp: the TUI as a client of the cctui server (``cctui``, ``cctui attach``).

The server owns the VMs, the panes' commands, their screens and scrollback and
the windows' layouts; this app draws what the server's LAYOUT and SCREEN frames
say (``cctui.client``) and turns keys and actions into INPUT frames and requests.
Everything structural (splits, windows, kills, VM boots) is a request whose
effect comes back as a LAYOUT, so two attached clients stay the same.

``ctrl+b d`` detaches (the session goes on); ``ctrl+b q`` ends the session and
powers its VMs off. A closed terminal, SIGKILL or a lost SSH link is a detach.
"""
from __future__ import annotations

import asyncio
import copy
import socket
from typing import Dict, List, Optional, Set

from ..client import Attachment, LayoutState, RemotePane
from ..errors import Error
from ..guest_text import printable
from ..server.client import ServerGone
from ..server.layout import Split
from ..server.screen_codec import encode_layout
from ..server.ssh import SshSocket, within_hello_deadline
from .app import CctuiApp
from .dialogs import BootChoice, BootDialog, NewPaneDialog, SearchDialog
from .keymap import Keymap
from .messages import DividerMoved, PaneChanged, PaneFocused
from .pane_frame import PaneFrame
from .pane_layout import PaneLayout
from ..server.pane_process import PaneState


class AttachedApp(CctuiApp):
    """The multiplexer's chrome over a server session (see the module docstring)."""

    def __init__(self, session: str, *, sock: Optional[socket.socket] = None,
                 keymap: Optional[Keymap] = None, image: str = "host",
                 memory_mb: int = 1024, cpus: int = 2) -> None:
        super().__init__(keymap=keymap, image=image, memory_mb=memory_mb, cpus=cpus)
        self.session_name = session
        self._sock = sock
        self.attachment: Optional[Attachment] = None
        self.exit_message = ""          # printed by the caller after the terminal is back
        self._layout_lock = asyncio.Lock()
        self._layout_due = False
        self._shown_current: Optional[int] = None
        self._known_active: Dict[int, Optional[str]] = {}     # each window's active pane, as told
        self._unmade: Set[int] = set()      # windows whose pane frames are made when shown
        self._ending = False                # ctrl+b q sent: the hang-up that follows is expected

    # -- attaching -----------------------------------------------------------------------------
    async def start_session(self) -> None:
        """Attach to the server's session instead of booting anything here."""
        try:
            attachment = await self._open()
        except (Error, OSError) as exc:
            self.exit_message = f"cctui: can't attach to {self.session_name}: {printable(str(exc))}"
            self.exit(1)
            return
        self.attachment = attachment
        self.session_name = attachment.session
        self.vms = attachment.vms           # type: ignore[assignment]  # RemoteVm quacks as AsyncInstance
        attachment.on_layout = self._layout_arrived
        attachment.on_detached = self._detached
        attachment.on_lost = self._lost
        await self._sync_layout()       # open() returned with the first LAYOUT

    async def _open(self) -> Attachment:
        """Attach; over ssh within its deadline, a failure naming the host and what ssh said."""
        opening = Attachment.open(self.session_name, max(2, self.size.height - 2),
                                  max(2, self.size.width), sock=self._sock)
        if not isinstance(self._sock, SshSocket):
            return await opening
        return await within_hello_deadline(self._sock, opening, (ServerGone, OSError))

    def _layout_arrived(self, state: LayoutState) -> None:
        if not self._layout_due:
            self._layout_due = True
            self.call_later(self._sync_layout)

    def _detached(self, reason: str) -> None:
        if self._ending:
            self.exit(0)
            return
        self.exit_message = f"[detached (from session {self.session_name}): {printable(reason)}]"
        self.exit(0)

    def _lost(self, reason: str) -> None:
        if self._ending:
            self.exit(0)
            return
        self.exit_message = (f"cctui: lost the server ({printable(reason)}); "
                             f"`cctui ls` says whether session {self.session_name} still runs")
        self.exit(1)

    async def _sync_layout(self) -> None:
        """Make the windows and pane frames what the server's last LAYOUT says."""
        self._layout_due = False
        attachment = self.attachment
        if attachment is None or attachment.layout is None:
            return
        async with self._layout_lock:
            state = attachment.layout
            wanted = {w.index for w in state.windows}
            if not wanted:          # nothing left: the session ends (DETACHED follows)
                return
            moved = state.current != self._shown_current or self.layout_widget.number not in wanted
            shown = state.current if moved else self.layout_widget.number
            # only the window on screen gets its pane frames; another window's are made
            # when it is shown (an attach to 16 panes in 4 windows mounts 4 frames, not 16)
            for ws in sorted(state.windows, key=lambda w: w.index != shown):
                window = self._window_numbered(ws.index)
                if window is None:
                    window = PaneLayout(ws.index)
                    window.display = False
                    self.windows.append(window)
                    self.windows.sort(key=lambda w: w.number)
                    await self.query_one("#windows").mount(window)
                window.window_name = ws.name
                window.active = ws.active
                if ws.index == shown or window.frames:
                    await self._sync_frames(window, ws.root, attachment)
                    self._unmade.discard(ws.index)
                else:
                    self._unmade.add(ws.index)
                if ws.index == shown:
                    if moved:
                        self._shown_current = state.current
                    if moved or self.current_frame() is None:
                        self._show_window(self.windows.index(window))
            for window in [w for w in self.windows if w.number not in wanted]:
                self.windows.remove(window)
                await window.remove()
            self.window_index = self.windows.index(self._window_numbered(shown) or self.windows[0])
            self._follow_active(state)
        self._refresh_all()

    def _follow_active(self, state: LayoutState) -> None:
        """Focus what the session made active (a split's new pane, another client's
        select-pane), once per change: a local focus change is sent, not undone."""
        for ws in state.windows:
            before = self._known_active.get(ws.index)
            self._known_active[ws.index] = ws.active
            if (ws.active != before and ws.index == self.layout_widget.number
                    and ws.active != self.focused_pane and ws.active in self.layout_widget.frames):
                self.focus_pane(ws.active)

    def _show_window(self, index: int) -> None:
        super()._show_window(index)
        if self.layout_widget.number in self._unmade:
            self.call_later(self._make_frames, self.layout_widget.number)

    async def _make_frames(self, number: int) -> None:
        """A window shown for the first time: its pane frames, then focus on its active pane."""
        attachment = self.attachment
        if attachment is None or attachment.layout is None:
            return
        async with self._layout_lock:
            ws = next((w for w in attachment.layout.windows if w.index == number), None)
            window = self._window_numbered(number)
            if ws is None or window is None or number not in self._unmade:
                return
            await self._sync_frames(window, ws.root, attachment)
            self._unmade.discard(number)
            if self.layout_widget is window:
                target = window.active if window.active in window.frames else next(iter(window.frames), None)
                if target is not None:
                    window.frames[target].view.focus()
        self._refresh_all()

    def focus_pane(self, pane_id: Optional[str]) -> None:
        """As CctuiApp's, also for a pane of a window whose frames are not made yet."""
        state = self.attachment.layout if self.attachment is not None else None
        home = next((ws for ws in state.windows if pane_id in _pane_ids(ws.root)), None) if state else None
        window = self._window_numbered(home.index) if home is not None else None
        if window is not None and pane_id not in window.frames:
            window.active = pane_id         # focused once its frames are made
            self._show_and_select(self.windows.index(window))
            return
        super().focus_pane(pane_id)

    def _refresh_sidebar(self) -> None:
        """Every pane of the session, made into frames or not."""
        if self.attachment is None:
            return
        panes = [(pane_id, int(pane_id[1:]), pane) for pane_id, pane in self.attachment.panes.items()]
        self.sidebar.rebuild(list(self.vms.values()), panes)  # type: ignore[arg-type]

    def _window_numbered(self, number: int) -> Optional[PaneLayout]:
        return next((w for w in self.windows if w.number == number), None)

    async def _sync_frames(self, window: PaneLayout, root: object, attachment: Attachment) -> None:
        tree_root = copy.deepcopy(root)
        ids = _pane_ids(tree_root)
        for pane_id in [p for p in window.frames if p not in ids]:
            frame = window.frames.pop(pane_id)
            if self.focused_pane == pane_id:
                self.focused_pane = None
            await frame.remove()
        new: List[PaneFrame] = []
        for pane_id in ids:
            pane = attachment.panes.get(pane_id)
            if pane_id in window.frames or pane is None:
                continue
            frame = PaneFrame(pane_id, int(pane_id[1:]), pane, self.painter)  # type: ignore[arg-type]
            self._wire(frame, pane)
            window.frames[pane_id] = frame
            new.append(frame)
        # the tree and each frame's place first, then the mount: a frame mounted with a
        # passing size would send that size as pane-size, and the server would reflow
        # the pane's whole scrollback for it (and again for the real one)
        window.layout_tree.root = tree_root     # type: ignore[assignment]
        if window.zoomed not in window.frames:
            window.zoomed = None
        window.relayout()
        if new:
            await window.mount(*new)
            window.relayout()
        for frame in new:
            if frame.process.has_pending:       # its first SCREEN came before the frame
                frame.view.output_arrived()

    def _wire(self, frame: PaneFrame, pane: RemotePane) -> None:
        pane.on_output = frame.view.output_arrived
        def changed(_pane: RemotePane) -> None:
            self.post_message(PaneChanged(frame.pane_id))
        pane.on_change = changed
        pane.model.on_history = frame.view.rows_arrived

    # -- requests ------------------------------------------------------------------------------
    async def _request(self, op: str, **fields: object) -> Optional[Dict[str, object]]:
        """A request to the server; a refusal is a notification, never an exception."""
        if self.attachment is None:
            return None
        try:
            return await self.attachment.request(op, **fields)
        except (Error, OSError) as exc:
            if not self._ending:
                self.notify(f"{op}: {printable(str(exc))}", severity="error", timeout=8, markup=False)
            return None

    def _send(self, op: str, **fields: object) -> None:
        self.run_worker(self._request(op, **fields), group="requests", exit_on_error=False)

    def _window_target(self) -> str:
        return f"{self.session_name}:{self.layout_widget.number}"

    # -- the actions that change the session: each one a request ----------------------------
    async def _split(self, direction: str) -> None:
        if self.focused_pane is None:
            await self._request("new-window", target=self.session_name)
            return
        await self._request("split-window", target=self.focused_pane, horizontal=direction == "row")

    async def action_new_window(self) -> None:
        await self._request("new-window", target=self.session_name)

    def action_new_pane(self) -> None:
        names = [n for n, vm in self.vms.items() if vm.state.live]
        if not names:
            self.notify("no VM is running: ctrl+b v boots one", severity="warning")
            return
        frame = self.current_frame()
        here = frame.process.instance.name if frame is not None else None

        async def chosen(result) -> None:
            if not result:
                return
            vm, argv, direction = result
            target = next((f.pane_id for f in self.all_frames() if f.process.instance.name == vm), None)
            if target is None:
                self.notify(f"no pane of {vm} to split", severity="warning")
                return
            await self._request("split-window", target=target, horizontal=direction == "row",
                                argv=argv or None)
        self.push_screen(NewPaneDialog(names, here), chosen)

    async def action_close_pane(self) -> None:
        if self.focused_pane is not None:
            await self._request("kill-pane", target=self.focused_pane)

    def action_kill_window(self) -> None:
        window = self.layout_widget
        target = self._window_target()

        async def answered(text: Optional[str]) -> None:
            if text is not None and text.strip().lower() in ("y", "yes"):
                await self._request("kill-window", target=target)
        self.push_screen(SearchDialog("", f"close window {window.number} and its {len(window.frames)} "
                                          "pane(s)? y to confirm"), answered)

    def action_rename_window(self) -> None:
        window = self.layout_widget
        target = self._window_target()

        async def named(text: Optional[str]) -> None:
            if text is not None:
                await self._request("rename-window", target=target, name=text.strip()[:24])
        self.push_screen(SearchDialog(window.window_name, "window name (empty: the pane's command)"), named)

    def _show_and_select(self, index: int) -> None:
        self._show_window(index)
        self._shown_current = self.layout_widget.number
        self._send("select-window", target=self._window_target())

    def action_next_window(self) -> None:
        self._show_and_select((self.window_index + 1) % len(self.windows))

    def action_previous_window(self) -> None:
        self._show_and_select((self.window_index - 1) % len(self.windows))

    def action_select_window(self, number: int) -> None:
        for i, window in enumerate(self.windows):
            if window.number == number:
                self._show_and_select(i)
                return
        self.notify(f"no window {number}", severity="warning", timeout=2)

    async def action_rerun(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        if frame.process.state in (PaneState.RUNNING, PaneState.STARTING):
            self.notify("the command is still running", severity="warning")
            return
        frame.view.redraw()
        await self._request("respawn-pane", target=frame.pane_id)

    async def action_shutdown_vm(self) -> None:
        frame = self.current_frame()
        if frame is not None:
            await self.shutdown_vm_named(frame.process.instance.name)

    async def shutdown_vm_named(self, name: str) -> None:
        self.notify(f"shutting {name} down")
        await self._request("kill-vm", target=self.session_name, vm=name)

    async def open_shell_in(self, name: str) -> None:
        target = next((f.pane_id for f in self.all_frames() if f.process.instance.name == name), None)
        if target is not None:
            await self._request("split-window", target=target, horizontal=True)

    def action_boot_vm(self) -> None:
        async def booted(result: Optional[BootChoice]) -> None:
            if result is not None:
                net = "on" if result.net else "off"
                await self._request("new-vm", target=self.session_name, image=result.image, net=net,
                                    memory=result.memory_mb, cpus=result.cpus)
        self.push_screen(BootDialog(self.image, self.memory_mb, self.cpus), booted)

    def _grow(self, direction: str, cells: int) -> None:
        super()._grow(direction, cells)
        self.layout_changed_here(self.layout_widget)

    def layout_changed_here(self, window: PaneLayout) -> None:
        """A divider moved in this client: the server keeps the weights for everyone."""
        self._send("set-layout", target=f"{self.session_name}:{window.number}",
                   layout=encode_layout(window.layout_tree))

    def on_divider_moved(self, message: DividerMoved) -> None:
        window = self._window_numbered(message.window_number)
        if window is not None:
            self.layout_changed_here(window)

    def on_pane_focused(self, message: PaneFocused) -> None:
        message.prevent_default()       # Textual would call CctuiApp's handler again
        super().on_pane_focused(message)
        window = self._window_numbered(self.layout_widget.number)
        state = self.attachment.layout if self.attachment is not None else None
        shared = next((w.active for w in state.windows if window is not None and w.index == window.number),
                      None) if state is not None else None
        if shared != message.pane_id:
            self._send("select-pane", target=message.pane_id)

    def action_search(self) -> None:
        """As CctuiApp's, but the server searches: it holds the whole scrollback."""
        frame = self.current_frame()
        if frame is None:
            return
        pane = frame.process

        async def found(text: Optional[str]) -> None:
            if text is None:
                return
            try:
                hits = await pane.search_remote(text) if text else []   # type: ignore[attr-defined]
            except (Error, OSError) as exc:
                self.notify(f"search: {printable(str(exc))}", severity="error", markup=False)
                return
            count = frame.view.show_matches(text, [(m.row, m.start, m.end) for m in hits])
            frame.update_title()
            if not count:
                self.notify(f"not found: {text}", timeout=2, markup=False)
            frame.view.focus()
        self.push_screen(SearchDialog(frame.view.search_text), found)

    # -- leaving -------------------------------------------------------------------------------
    async def action_detach(self) -> None:
        if self.attachment is not None:
            try:
                await self.attachment.detach()
            except (Error, OSError):
                pass
        self.exit_message = f"[detached (from session {self.session_name})]"
        self.exit(0)

    async def action_quit(self) -> None:
        """ctrl+b q: end this session (its panes and VMs), as the help says. The server
        may end with it (its last session): that hang-up is this quit, not a loss."""
        self._ending = True
        self.exit_message = f"[session {self.session_name} ended: its VMs are powered off]"
        await self._request("kill-session", target=self.session_name)
        self.exit(0)

    async def end_session(self) -> None:
        """A detach: the server keeps the panes and VMs."""
        if self.attachment is not None:       # a detach: the server keeps everything
            await self.attachment.close()

    async def shutdown_owned_vms(self) -> None:
        """The server owns the VMs: nothing here to power off."""


def _pane_ids(root: object) -> List[str]:
    out: List[str] = []

    def walk(node: object) -> None:
        if isinstance(node, Split):
            for child in node.children:
                walk(child)
        elif isinstance(node, str):
            out.append(node)
    walk(root)
    return out


def run_attached(session: str, sock: Optional[socket.socket] = None) -> int:
    """``cctui attach``: run the client until detach, session end or a lost server."""
    app = AttachedApp(session, sock=sock)
    result = app.run()
    if app.exit_message:
        print(app.exit_message)
    return result if isinstance(result, int) else 0
