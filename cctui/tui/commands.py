"""The command palette: every keymap action, every theme, and per-VM actions."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterator, Tuple

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .keymap import display_keys

if TYPE_CHECKING:
    from .app import CctuiApp


class CctuiCommands(Provider):
    def _entries(self) -> Iterator[Tuple[str, str, object]]:
        app: "CctuiApp" = self.app  # type: ignore[assignment]
        for item in app.keymap.actions:
            if item.action == "palette":
                continue
            yield (item.description, f"{app.prefix} {display_keys(item)}",
                   partial(app.run_action, item.action))
        for name in sorted(app.themes):
            yield (f"Theme: {name}", "switch theme (remembered)", partial(app.apply_theme, name))
        for name, inst in app.vms.items():
            yield (f"New shell in {name}", f"{inst.state}", partial(app.open_shell_in, name))
            if inst.state.live:
                yield (f"Shut down {name}", "power the VM off", partial(app.shutdown_vm_named, name))

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)  # type: ignore[arg-type]
