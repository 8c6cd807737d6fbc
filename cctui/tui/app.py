"""CctuiApp: the multiplexer. Panes on guest commands, a prefix keymap, panels, themes.

The app owns the VMs it boots (and powers them off when it quits); it can also
adopt instances booted elsewhere (``instances=``), which it leaves running.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import time
from typing import Dict, List, Optional, Sequence, Union

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical

from .. import aio
from ..api.instance import AsyncInstance, InstanceState
from ..errors import Error
from ..guest_text import printable
from .commands import CctuiCommands
from .dialogs import BootChoice, BootDialog, NewPaneDialog, SearchDialog
from .help_screen import HelpScreen
from .keymap import Keymap, KeymapError, default_keymap, load_keymap
from .layout_tree import LayoutTree
from .messages import PaneChanged, PaneFocused, PaneTitleChanged, VmChanged
from .pane_frame import PaneFrame, describe_state
from .pane_layout import PaneLayout
from ..server.pane_process import PaneProcess, PaneState
from .panels import CwdPanel, EnvPanel, ExitPanel
from .render import Painter
from .status_line import StatusLine
from .too_small import TooSmallNotice
from ..server.typing_priority import TypingPriority
from .themes import DEFAULT_THEME, CctuiTheme, TerminalColors, load_settings, load_themes, save_setting
from .vm_tree import VmTree

RESIZE_STEP = 2


PANELS_MIN_WIDTH = 120


class CctuiApp(App):
    TITLE = "cctui"
    CSS = """
    Screen { layers: base notice; }
    #main { height: 1fr; }
    #panels { width: 42; height: 1fr; background: $surface; }
    #windows { width: 1fr; height: 1fr; }
    #panels.-hidden, #panels.-narrow, VmTree.-hidden { display: none; }
    """
    # Nothing here is a priority binding: every key reaches the guest unless it
    # follows the prefix (handled in on_event). F1 works outside panes.
    BINDINGS = [Binding("f1", "command_palette", "palette", show=False)]
    COMMANDS = {CctuiCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, *, image: str = "host", accel: str = "auto", memory_mb: int = 1024,
                 cpus: int = 2, instances: Sequence[AsyncInstance] = (),
                 keymap: Optional[Keymap] = None,
                 first_command: Optional[List[str]] = None, net: Union[bool, str] = False,
                 ports: Sequence[str] = (), volumes: Sequence[str] = ()) -> None:
        super().__init__()
        self.image, self.accel, self.memory_mb, self.cpus = image, accel, memory_mb, cpus
        # --net, -p and -v reach the first VM only: another VM could not publish the same
        # host ports; the boot dialog asks for a network per VM.
        self.net, self.ports, self.volumes = net, list(ports), list(volumes)
        self.keymap_error = ""
        if keymap is None:
            try:
                keymap = load_keymap()
            except KeymapError as exc:      # told on mount; the defaults work meanwhile
                self.keymap_error = str(exc)
                keymap = default_keymap()
        self.keymap = keymap
        self.prefix = keymap.prefix
        self.prefix_pending = False
        self.keys = keymap.table()
        self.vms: Dict[str, AsyncInstance] = {}
        self._owned: List[AsyncInstance] = []
        self._adopt = list(instances)
        self._first_command = first_command
        self._vm_ready: Dict[str, asyncio.Event] = {}
        self._boot_started: Dict[str, float] = {}
        self._vm_numbers = itertools.count(1)
        self._pane_numbers = itertools.count(1)
        self.typing_priority = TypingPriority()
        self.focused_pane: Optional[str] = None
        self.last_pane: Optional[str] = None
        self.themes: Dict[str, CctuiTheme] = {}
        self.painter = Painter(TerminalColors())
        self.windows: List[PaneLayout] = [PaneLayout(0)]
        self.window_index = 0
        self.sidebar = VmTree()
        self.cwd_panel, self.exit_panel, self.env_panel = CwdPanel(), ExitPanel(), EnvPanel()
        self.status = StatusLine("", id="status")
        self.too_small = TooSmallNotice()
        self._narrow: Optional[bool] = None

    # -- windows (tmux's): each one a layout of panes; one shown at a time ----------------
    @property
    def layout_widget(self) -> PaneLayout:
        """The window on screen: splits, focus and zoom act on it."""
        return self.windows[self.window_index]

    def all_frames(self) -> List[PaneFrame]:
        return [frame for window in self.windows for frame in window.frames.values()]

    def _find_frame(self, pane_id: Optional[str]) -> Optional[PaneFrame]:
        for window in self.windows:
            frame = window.frames.get(pane_id or "")
            if frame is not None:
                return frame
        return None

    def _show_window(self, index: int) -> None:
        for i, window in enumerate(self.windows):
            window.display = i == index
        self.window_index = index
        window = self.layout_widget
        target = window.active if window.active in window.frames else next(iter(window.frames), None)
        if target is not None:
            window.frames[target].view.focus()
        self._refresh_all()

    async def action_new_window(self) -> None:
        inst = self._focused_vm()
        if inst is None:
            self.notify("no VM is running: ctrl+b v boots one", severity="warning")
            return
        if not self.layout_widget.frames:           # an empty window: fill it instead
            await self.open_pane(inst, inst.shell_argv(), None, "row")
            return
        used = {w.number for w in self.windows}
        number = next(n for n in itertools.count() if n not in used)
        window = PaneLayout(number)
        self.windows.append(window)
        self.windows.sort(key=lambda w: w.number)
        await self.query_one("#windows").mount(window)
        self._show_window(self.windows.index(window))
        await self.open_pane(inst, inst.shell_argv(), None, "row")

    def action_next_window(self) -> None:
        self._show_window((self.window_index + 1) % len(self.windows))

    def action_previous_window(self) -> None:
        self._show_window((self.window_index - 1) % len(self.windows))

    def action_select_window(self, number: int) -> None:
        for i, window in enumerate(self.windows):
            if window.number == number:
                self._show_window(i)
                return
        self.notify(f"no window {number}", severity="warning", timeout=2)

    async def _close_window_if_empty(self) -> bool:
        window = self.layout_widget
        if window.frames or len(self.windows) == 1:
            return False
        index = self.window_index
        self.windows.remove(window)
        await window.remove()
        self._show_window(min(index, len(self.windows) - 1))
        return True

    def action_rename_window(self) -> None:
        window = self.layout_widget

        def named(text: Optional[str]) -> None:
            if text is not None:
                window.window_name = text.strip()[:24]
                self._refresh_status()
        self.push_screen(SearchDialog(window.window_name, "window name (empty: the pane's command)"), named)

    def action_kill_window(self) -> None:
        window = self.layout_widget
        count = len(window.frames)

        async def answered(text: Optional[str]) -> None:
            if text is None or text.strip().lower() not in ("y", "yes"):
                return
            for frame in list(window.frames.values()):
                await self._drop_pane(window, frame)
            self.focused_pane = None
            if not await self._close_window_if_empty():
                self._refresh_all()
            self._refresh_sidebar()
        self.push_screen(SearchDialog("", f"close window {window.number} and its {count} pane(s)? "
                                          "y to confirm"), answered)

    def _window_titles(self) -> str:
        names = []
        for i, window in enumerate(self.windows):
            frame = window.frames.get(window.active or "") or next(iter(window.frames.values()), None)
            title = frame.process.title.split()[0].rsplit("/", 1)[-1][:12] if frame else "-"
            title = window.window_name or title
            names.append(f"{window.number}:{title}{'*' if i == self.window_index else ''}")
        return " ".join(names)

    # -- composition -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self.sidebar
            with Vertical(id="windows"):
                yield self.windows[0]
            with Vertical(id="panels"):
                yield self.cwd_panel
                yield self.exit_panel
                yield self.env_panel
        yield self.status
        yield self.too_small

    def on_resize(self, event: events.Resize) -> None:
        self.too_small.check(event.size.width, event.size.height)
        self._fit_panels(event.size.width)

    def _fit_panels(self, width: int) -> None:
        """Below PANELS_MIN_WIDTH columns the panes need the room: the panels step
        aside (and come back when the terminal widens), unless toggled on by hand."""
        narrow = width < PANELS_MIN_WIDTH
        if narrow != self._narrow:
            self._narrow = narrow
            self.query_one("#panels").set_class(narrow, "-narrow")

    def on_load(self) -> None:
        """Themes before the first compose: set after it, the theme restyles every widget
        again (a tenth of a second at start-up, measured on an attach)."""
        self._load_themes()

    async def on_mount(self) -> None:
        if self.keymap_error:
            self.notify(f"{self.keymap_error}: using the default keys", severity="error", timeout=15,
                        markup=False)
        self.env_panel.display = False
        self._fit_panels(self.size.width)
        self.set_interval(0.5, self._tick)
        await self.start_session()
        self._refresh_all()

    async def start_session(self) -> None:
        """This app's own VMs: adopt the given instances or boot one, and open the first pane."""
        for inst in self._adopt:
            self._track(inst)
        if self._adopt:
            await self.open_pane(self._adopt[0], self._first_command)
        else:
            inst = self.boot_vm(self.image, net=self.net, ports=self.ports,
                                volumes=self.volumes)
            await self.open_pane(inst, self._first_command)

    # -- themes --------------------------------------------------------------------
    def _load_themes(self) -> None:
        self.themes, problems = load_themes()
        for theme in self.themes.values():
            self.register_theme(theme.to_textual())
        for problem in problems:
            self.notify(problem, title="theme skipped", severity="warning")
        wanted = load_settings().get("theme", DEFAULT_THEME)
        self.apply_theme(wanted if wanted in self.themes else DEFAULT_THEME, remember=False)
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def apply_theme(self, name: str, remember: bool = True) -> None:
        if name not in self.themes:
            return
        self.theme = name
        self._set_painter(self.themes[name].terminal)
        if remember:
            save_setting("theme", name)

    def _theme_changed(self, theme) -> None:
        # the palette's built-in theme switcher: follow it, with xterm colours
        # for Textual's own themes, which have no terminal palette
        ours = self.themes.get(theme.name)
        if ours is None:
            colours = TerminalColors(foreground=theme.foreground or "#d0d0d0",
                                     background=theme.background or "#000000",
                                     cursor=theme.accent or "#ffffff",
                                     selection=theme.panel or "#444444")
            self._set_painter(colours)
        elif self.painter.colours is not ours.terminal:
            self._set_painter(ours.terminal)
            save_setting("theme", theme.name)

    def _set_painter(self, colours: TerminalColors) -> None:
        self.painter = Painter(colours)
        for frame in self.all_frames():
            frame.view.set_painter(self.painter)
        self._refresh_status()

    def action_next_theme(self) -> None:
        names = sorted(self.themes)
        current = names.index(self.theme) if self.theme in names else -1
        name = names[(current + 1) % len(names)]
        self.apply_theme(name)
        self.notify(f"theme: {name}", timeout=2)

    # -- VMs ---------------------------------------------------------------------------
    def _track(self, inst: AsyncInstance) -> None:
        self.vms[inst.name] = inst
        ready = self._vm_ready.setdefault(inst.name, asyncio.Event())
        if inst.state == InstanceState.RUNNING:
            ready.set()

        def changed(i: AsyncInstance) -> None:
            if i.state != InstanceState.BOOTING:
                ready.set()
            self.post_message(VmChanged(i.name))
        inst.add_listener(changed)

    def boot_vm(self, image: Optional[str] = None, *, net: Union[bool, str] = False,
                ports: Sequence[str] = (), volumes: Sequence[str] = (),
                memory_mb: Optional[int] = None, cpus: Optional[int] = None) -> AsyncInstance:
        """Start booting a VM now; returns its instance at once (state: booting).
        Memory and CPUs default to the app's (the command line's)."""
        while True:
            name = f"vm{next(self._vm_numbers)}"
            if name not in self.vms:
                break
        inst = AsyncInstance(name=name, image=image or self.image)
        self._owned.append(inst)
        self._boot_started[name] = time.time()
        self._track(inst)
        self.run_worker(self._boot(inst, image or self.image, net, ports, volumes,
                                   memory_mb or self.memory_mb, cpus or self.cpus),
                        group="boot", exit_on_error=False)
        self._refresh_all()
        return inst

    async def _boot(self, inst: AsyncInstance, image: str, net: Union[bool, str],
                    ports: Sequence[str], volumes: Sequence[str], memory_mb: int,
                    cpus: int) -> None:
        try:
            await aio.boot(image, instance=inst, accel=self.accel,
                           memory_mb=memory_mb, cpus=cpus, net=net,
                           ports=list(ports), volumes=list(volumes))
        except Error as exc:
            self.notify(f"{inst.name} did not boot: {printable(exc)}", severity="error", timeout=15,
                        markup=False)
        except Exception as exc:  # a bug in a layer below must not take the app down
            self.notify(f"{inst.name} did not boot: {printable(repr(exc))}", severity="error", timeout=15,
                        markup=False)
        finally:
            self._vm_ready[inst.name].set()
            self.post_message(VmChanged(inst.name))

    def on_vm_changed(self, message: VmChanged) -> None:
        inst = self.vms.get(message.vm_name)
        if inst is not None and inst.state == InstanceState.BOOTING:
            started = self._boot_started.get(inst.name, time.time())
            for frame in self.all_frames():
                if frame.process.instance is inst:
                    frame.process.boot_progress(inst.status_detail, time.time() - started)
        if inst is not None and inst.state in (InstanceState.FAILED, InstanceState.STOPPED):
            reason = str(inst.error or inst.status_detail or inst.state)
            for frame in self.all_frames():
                if frame.process.instance is inst:
                    frame.process.vm_lost(reason)
        self._refresh_all()

    async def shutdown_vm_named(self, name: str) -> None:
        inst = self.vms.get(name)
        if inst is None:
            return
        self.notify(f"shutting {name} down")
        try:
            await inst.close()
        except Error as exc:
            self.notify(f"{name}: {printable(exc)}", severity="error", markup=False)
        for frame in self.all_frames():
            if frame.process.instance is inst:
                frame.process.vm_lost("shut down")
        self._refresh_all()

    async def action_shutdown_vm(self) -> None:
        frame = self.current_frame()
        if frame is not None:
            await self.shutdown_vm_named(frame.process.instance.name)

    def action_boot_vm(self) -> None:
        def booted(result: Optional[BootChoice]) -> None:
            if result is not None:
                inst = self.boot_vm(result.image, net=result.net, memory_mb=result.memory_mb,
                                    cpus=result.cpus)
                self.call_later(self.open_pane, inst, None, None, "row")
        self.push_screen(BootDialog(self.image, self.memory_mb, self.cpus), booted)

    # -- panes -----------------------------------------------------------------------------
    async def open_pane(self, inst: AsyncInstance, argv: Optional[List[str]] = None,
                        beside: Optional[str] = None, direction: str = "row") -> PaneFrame:
        number = next(self._pane_numbers)
        pane_id = f"pane-{number}"
        holder: Dict[str, PaneFrame] = {}

        def on_output() -> None:
            frame = holder.get("frame")
            if frame is not None:
                frame.view.output_arrived()

        def on_change(process: PaneProcess) -> None:
            self.post_message(PaneChanged(pane_id))

        beside = beside or self.focused_pane
        if beside not in self.layout_widget.frames:
            beside = None                       # a new window: the pane fills it
        size = self._predict_size(pane_id, beside, direction)
        process = PaneProcess(inst, argv, size[0], size[1], on_change, on_output,
                              priority=self.typing_priority)
        frame = PaneFrame(pane_id, number, process, self.painter)
        holder["frame"] = frame
        await self.layout_widget.add_frame(frame, beside, direction)
        frame.view.focus()
        self.run_worker(self._run_pane(frame), group="panes", exit_on_error=False)
        return frame

    def _predict_size(self, pane_id: str, beside: Optional[str], direction: str):
        """The new pane's terminal size, so the command starts at its real size."""
        tree = LayoutTree()
        tree.root = copy.deepcopy(self.layout_widget.layout_tree.root)
        tree.add(pane_id, beside, direction)
        width, height = self.layout_widget.area
        if width <= 0 or height <= 0:
            width, height = max(20, self.size.width - 74), max(5, self.size.height - 1)
        region = tree.regions((width, height))[0].get(pane_id)
        if region is None:
            return (24, 80)
        return (max(1, region.height - 1), max(1, region.width))

    async def _run_pane(self, frame: PaneFrame) -> None:
        process = frame.process
        ready = self._vm_ready.setdefault(process.instance.name, asyncio.Event())
        await ready.wait()
        if process.instance.state != InstanceState.RUNNING:
            process.vm_lost(str(process.instance.error or process.instance.state))
            return
        try:
            await process.start()
        except Exception as exc:  # never let a pane take the app down
            process.crashed(repr(exc))
            self.post_message(PaneChanged(frame.pane_id))

    def on_pane_changed(self, message: PaneChanged) -> None:
        frame = self._find_frame(message.pane_id)
        if frame is None:
            return
        frame.update_title()
        frame.view.follow_model()
        if frame.process.state != PaneState.RUNNING:
            frame.view.refresh()
        if message.pane_id == self.focused_pane:
            self._refresh_panels()
        self._refresh_sidebar()
        self._refresh_status()

    def on_pane_title_changed(self, message: PaneTitleChanged) -> None:
        frame = self._find_frame(message.pane_id)
        if frame is not None:
            frame.update_title()

    def on_pane_focused(self, message: PaneFocused) -> None:
        if message.pane_id != self.focused_pane:
            self.last_pane = self.focused_pane
        self.focused_pane = message.pane_id
        self.layout_widget.active = message.pane_id
        for pane_id, frame in self.layout_widget.frames.items():
            frame.mark_focused(pane_id == message.pane_id)
        self._refresh_panels()
        self._refresh_status()

    def current_frame(self) -> Optional[PaneFrame]:
        if self.focused_pane is None:
            return None
        return self.layout_widget.frames.get(self.focused_pane)

    def focus_pane(self, pane_id: Optional[str]) -> None:
        """Focus a pane, showing its window first if it is in another one."""
        for i, window in enumerate(self.windows):
            if pane_id in window.frames and i != self.window_index:
                window.active = pane_id
                self._show_window(i)
                break
        frame = self.layout_widget.frames.get(pane_id or "")
        if frame is not None:
            if self.layout_widget.zoomed not in (None, pane_id):
                self.layout_widget.toggle_zoom(self.layout_widget.zoomed)
            frame.view.focus()

    async def open_shell_in(self, name: str) -> None:
        inst = self.vms.get(name)
        if inst is not None:
            await self.open_pane(inst, None, self.focused_pane, "row")

    def _focused_vm(self) -> Optional[AsyncInstance]:
        frame = self.current_frame()
        if frame is not None and frame.process.instance.state.live:
            return frame.process.instance
        for inst in self.vms.values():
            if inst.state.live:
                return inst
        return None

    async def _split(self, direction: str) -> None:
        inst = self._focused_vm()
        if inst is None:
            self.notify("no VM is running: ctrl+b v boots one", severity="warning")
            return
        # A split is a new shell, whatever the image's entrypoint is.
        await self.open_pane(inst, inst.shell_argv(), self.focused_pane, direction)

    async def action_split_right(self) -> None:
        await self._split("row")

    async def action_split_down(self) -> None:
        await self._split("column")

    def action_new_pane(self) -> None:
        names = [n for n, i in self.vms.items() if i.state.live]
        if not names:
            self.notify("no VM is running: ctrl+b v boots one", severity="warning")
            return
        inst = self._focused_vm()

        async def chosen(result) -> None:
            if result:
                vm, argv, direction = result
                chosen_vm = self.vms[vm]
                await self.open_pane(chosen_vm, argv or chosen_vm.shell_argv(),
                                     self.focused_pane, direction)
        self.push_screen(NewPaneDialog(names, inst.name if inst else None), chosen)

    async def action_close_pane(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        pane_id = frame.pane_id
        order = self.layout_widget.layout_tree.panes()
        nxt = self.last_pane if self.last_pane in order and self.last_pane != pane_id else None
        if nxt is None and len(order) > 1:
            i = order.index(pane_id)
            nxt = order[i - 1] if i > 0 else order[1]
        await self._drop_pane(self.layout_widget, frame)
        self.focused_pane = None
        if await self._close_window_if_empty():    # the window went with its last pane
            nxt = None
        if nxt is not None:
            self.focus_pane(nxt)
        else:
            self._refresh_all()
        self._refresh_sidebar()

    async def _drop_pane(self, window: PaneLayout, frame: PaneFrame) -> None:
        """End a pane's command and take the pane out of its window."""
        frame.process.kill()
        self.typing_priority.discard(frame.process)
        await window.remove_frame(frame.pane_id)

    def action_zoom(self) -> None:
        if self.focused_pane is not None:
            self.layout_widget.toggle_zoom(self.focused_pane)

    async def action_rerun(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        process = frame.process
        if process.state in (PaneState.RUNNING, PaneState.STARTING):
            self.notify("the command is still running", severity="warning")
            return
        if process.instance.state != InstanceState.RUNNING:
            self.notify(f"{process.instance.name} is {process.instance.state}", severity="error")
            return
        frame.view.redraw()
        self.run_worker(self._rerun(frame), group="panes", exit_on_error=False)

    async def _rerun(self, frame: PaneFrame) -> None:
        try:
            await frame.process.rerun()
        except Exception as exc:
            frame.process.crashed(repr(exc))
        self.post_message(PaneChanged(frame.pane_id))

    # -- focus & resize --------------------------------------------------------------------------
    def _focus_way(self, way: str) -> None:
        if self.focused_pane is None:
            return
        target = self.layout_widget.layout_tree.neighbour(self.focused_pane, way, self.layout_widget.area)
        if target is not None:
            self.focus_pane(target)

    def action_focus_left(self) -> None:
        self._focus_way("left")

    def action_focus_right(self) -> None:
        self._focus_way("right")

    def action_focus_up(self) -> None:
        self._focus_way("up")

    def action_focus_down(self) -> None:
        self._focus_way("down")

    def action_focus_next(self) -> None:
        order = self.layout_widget.layout_tree.panes()
        if order:
            i = order.index(self.focused_pane) if self.focused_pane in order else -1
            self.focus_pane(order[(i + 1) % len(order)])

    def action_focus_last(self) -> None:
        if self._find_frame(self.last_pane) is not None:
            self.focus_pane(self.last_pane)

    def _grow(self, direction: str, cells: int) -> None:
        if self.focused_pane is None:
            return
        layout = self.layout_widget
        if layout.layout_tree.resize(self.focused_pane, direction, cells, layout.area):
            layout.relayout()

    def action_grow_left(self) -> None:
        self._grow("row", -RESIZE_STEP)

    def action_grow_right(self) -> None:
        self._grow("row", RESIZE_STEP)

    def action_grow_up(self) -> None:
        self._grow("column", -RESIZE_STEP)

    def action_grow_down(self) -> None:
        self._grow("column", RESIZE_STEP)

    # -- scrollback ---------------------------------------------------------------------------------
    def action_copy_mode(self) -> None:
        frame = self.current_frame()
        if frame is not None:
            frame.view.enter_copy_mode()
            frame.update_title()

    def action_search(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return

        def found(text: Optional[str]) -> None:
            if text is None:
                return
            hits = frame.view.search(text)
            frame.update_title()
            if not hits:
                self.notify(f"not found: {text}", timeout=2, markup=False)
            frame.view.focus()
        self.push_screen(SearchDialog(frame.view.search_text), found)

    def action_paste_selection(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        text = next((f.view.last_selection for f in self.layout_widget.frames.values()
                     if f.view.last_selection), "") if not frame.view.last_selection else frame.view.last_selection
        frame.view.paste(text)

    # -- view toggles --------------------------------------------------------------------------------
    def _toggle_panel(self, panel) -> None:
        panels = self.query_one("#panels")
        panels.set_class(False, "-narrow")
        if panels.has_class("-hidden"):
            panels.set_class(False, "-hidden")
            panel.display = True
        else:
            panel.display = not panel.display
        if not any(p.display for p in (self.cwd_panel, self.exit_panel, self.env_panel)):
            panels.set_class(True, "-hidden")
        self._refresh_panels()

    def action_toggle_env(self) -> None:
        self._toggle_panel(self.env_panel)

    def action_toggle_cwd(self) -> None:
        self._toggle_panel(self.cwd_panel)

    def action_toggle_exit(self) -> None:
        self._toggle_panel(self.exit_panel)

    def action_toggle_sidebar(self) -> None:
        self.sidebar.toggle_class("-hidden")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.prefix, self.keymap.actions))

    def action_palette(self) -> None:
        self.action_command_palette()

    async def action_quit(self) -> None:
        await self.shutdown_owned_vms()
        self.exit(0)

    async def action_detach(self) -> None:
        """Only a client of the server can detach; this app runs its VMs itself."""
        self.notify("this TUI runs its own VMs (no server): ctrl+b q quits, and `cctui` "
                    "without --local gives sessions you can detach from", severity="warning", timeout=6)

    async def on_unmount(self) -> None:
        await self.end_session()

    async def end_session(self) -> None:
        """The app is closing: its panes' commands end and the VMs it booted power off."""
        for frame in self.all_frames():
            frame.process.kill()
        await self.shutdown_owned_vms()

    async def shutdown_owned_vms(self) -> None:
        owned = [i for i in self._owned if i.state.live]
        if owned:
            await asyncio.gather(*(asyncio.wait_for(i.close(), 10) for i in owned),
                                 return_exceptions=True)

    # -- the prefix key ----------------------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        if (isinstance(event, events.Key) and not event.is_forwarded
                and len(self.screen_stack) == 1):
            if self.prefix_pending:
                self.prefix_pending = False
                self._refresh_status()
                await self._after_prefix(event)
                return
            if event.key == self.prefix:
                self.prefix_pending = True
                self._refresh_status()
                return
        await super().on_event(event)

    async def _after_prefix(self, event: events.Key) -> None:
        key = event.key
        if key == self.prefix:
            frame = self.current_frame()
            if frame is not None:
                frame.process.type(chr(ord(self.prefix.split("+")[-1]) & 0x1F).encode())
            return
        if key == "escape":
            return
        item = self.keys.get(key) or (self.keys.get(event.character)
                                      if event.character else None)
        if item is None:
            self.notify(f"{self.prefix} {key} is not bound: {self.prefix} ? lists the keys",
                        severity="warning", timeout=3)
            return
        if item.action == "select_window":          # one binding for ten digits
            digit = event.character or ""
            if digit.isdigit():
                self.action_select_window(int(digit))
            return
        await self.run_action(item.action)

    # -- refreshing the chrome ---------------------------------------------------------------------------
    def _tick(self) -> None:
        if any(i.state == InstanceState.BOOTING for i in self.vms.values()):
            self._refresh_status()
            for frame in self.all_frames():
                if frame.process.state == PaneState.STARTING:
                    frame.update_title()
        current = self.current_frame()
        if current is not None and current.process.state == PaneState.RUNNING and self.exit_panel.display:
            self.exit_panel.show(current.process)

    def _refresh_all(self) -> None:
        for frame in self.all_frames():
            frame.update_title()
        self._refresh_sidebar()
        self._refresh_panels()
        self._refresh_status()

    def _refresh_sidebar(self) -> None:
        panes = [(f.pane_id, f.number, f.process) for f in self.all_frames()]
        self.sidebar.rebuild(list(self.vms.values()), panes)

    def _refresh_panels(self) -> None:
        frame = self.current_frame()
        process = frame.process if frame is not None else None
        for panel in (self.cwd_panel, self.exit_panel, self.env_panel):
            if panel.display:
                panel.show(process)

    def _refresh_status(self) -> None:
        frame = self.current_frame()
        if frame is not None:
            p = frame.process
            pane = f"{frame.number} {p.instance.name}: {p.title}"
            if p.instance.state != InstanceState.BOOTING:
                pane += f" · {describe_state(p)}"
        else:
            pane = "no pane"
        parts = []
        for inst in self.vms.values():
            text = f"{inst.name} {inst.state}"
            if inst.state == InstanceState.BOOTING:
                started = self._boot_started.get(inst.name)
                took = f" {time.time() - started:.0f}s" if started else ""
                text += f" ({inst.status_detail}{took})"
            elif inst.accel:
                text += f" ({inst.accel})"
            parts.append(text)
        self.status.show(prefix=self.prefix, pending=self.prefix_pending,
                         windows=self._window_titles(),
                         pane=pane,
                         vms=", ".join(parts) or "no VM",
                         theme=self.theme)

    def on_tree_node_selected(self, event) -> None:
        data = event.node.data
        if data and data[0] == "pane":
            self.focus_pane(data[1])


def run_app(image: str = "host", accel: str = "auto", memory_mb: int = 1024, cpus: int = 2,
            command: Optional[List[str]] = None, net: Union[bool, str] = False,
            ports: Sequence[str] = (), volumes: Sequence[str] = ()) -> int:
    """The `cctui` command: boot one VM and open a pane on it running ``command``
    (default: the image's entrypoint, for the host image the login shell)."""
    app = CctuiApp(image=image, accel=accel, memory_mb=memory_mb, cpus=cpus,
                   first_command=command or None, net=net, ports=ports, volumes=volumes)
    result = app.run()
    return result if isinstance(result, int) else 0
