#!/usr/bin/env python3
"""Regenerate screenshots/*.svg: the real app, headless, on a real VM running real commands.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Boots one VM (TCG here: ~10 s), opens a shell with `ls --color`, vim in a split,
`less` below it, the panels, then saves the same layout in two themes plus the
help screen and a scrollback search. Nothing here is faked: every pixel is a
guest program's output drawn by the pane widget.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cctui.tui.app import CctuiApp  # noqa: E402

PS1 = r"\[\e[1;32m\]root@\h\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ "
SHELL = ["env", f"PS1={PS1}", "bash", "--norc", "--noprofile"]
SIZE = (160, 46)


async def until(predicate, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await asyncio.sleep(0.05)


def text_of(frame) -> str:
    return "\n".join(frame.process.model.display)


async def type_line(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")


async def shoot(out: Path) -> None:
    app = CctuiApp(first_command=SHELL)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.layout_widget.frames, 10, "the first pane")
        first = next(iter(app.layout_widget.frames.values()))
        await until(lambda: first.process.state == "running", 180, "the VM and the shell")
        await until(lambda: "root@" in text_of(first), 60, "a prompt")
        await type_line(pilot, "cd /usr/share && ls --color=auto -F | head -n 40 | column -c 80")
        await until(lambda: "zoneinfo" in text_of(first) or text_of(first).count("root@") >= 2,
                    30, "ls output")
        await type_line(pilot, "ls --color=auto -la /etc | head -n 12")
        await until(lambda: text_of(first).count("root@") >= 3, 30, "ls -la output")
        await pilot.press("ctrl+b", "percent_sign")
        await until(lambda: len(app.layout_widget.frames) == 2, 10, "a split")
        second = list(app.layout_widget.frames.values())[1]
        await until(lambda: "root@" in text_of(second), 60, "the second prompt")
        await type_line(pilot, "vim -u DEFAULTS -c 'syntax on' -c 'set number' /etc/bash.bashrc")
        await until(lambda: second.process.model.alternate_screen and "bashrc" in text_of(second),
                    60, "vim")
        await pilot.press("ctrl+b", "quotation_mark")
        await until(lambda: len(app.layout_widget.frames) == 3, 10, "a second split")
        third = list(app.layout_widget.frames.values())[2]
        await until(lambda: "root@" in text_of(third), 60, "the third prompt")
        await type_line(pilot, "cd /tmp && printf 'exit 3 ends this shell\\n'; exit 3")
        await until(lambda: third.process.state == "exited", 30, "the exit")
        await pilot.press("ctrl+b", "e")
        app.env_panel.filter.value = "PATH"
        first.view.focus()
        await pilot.pause(0.5)
        app.focus_pane(third.pane_id)
        await pilot.pause(0.5)
        app.save_screenshot(filename="cctui-dark.svg", path=str(out))
        app.focus_pane(first.pane_id)
        app.apply_theme("solarized-light", remember=False)
        await pilot.pause(0.5)
        app.save_screenshot(filename="solarized-light.svg", path=str(out))
        app.apply_theme("gruvbox-dark", remember=False)
        await pilot.press("ctrl+b", "question_mark")
        await pilot.pause(0.5)
        app.save_screenshot(filename="help-gruvbox-dark.svg", path=str(out))
        await pilot.press("escape")
        app.apply_theme("nord", remember=False)
        await pilot.press("ctrl+b", "z")
        await pilot.pause(0.3)
        await pilot.press("ctrl+b", "slash")
        await pilot.pause(0.2)
        await pilot.press(*"root", "enter")
        await pilot.pause(0.5)
        app.save_screenshot(filename="zoom-search-nord.svg", path=str(out))
        await pilot.press("q")
        await app.shutdown_owned_vms()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # a private config dir: the screenshots never depend on (or change) the user's theme
    os.environ["CCTUI_CONFIG_DIR"] = tempfile.mkdtemp(prefix="cctui-shots-")
    asyncio.run(shoot(out))
    for path in sorted(out.glob("*.svg")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
