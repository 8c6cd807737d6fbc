"""Theme files (data, not code): app colours plus the terminal's 16-colour palette.

Built-in themes live in the repository's ``themes/`` folder; a user's own go in
``config_dir()/themes`` and win on a name clash. The chosen theme is remembered
in ``config_dir()/settings.json``.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from textual.theme import Theme as TextualTheme

from ..paths import config_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef,import-not-found]  # installed only where needed
    except ImportError:
        tomllib = None  # type: ignore[assignment]

DEFAULT_THEME = "cctui-dark"
APP_KEYS = ("primary", "secondary", "accent", "foreground", "background", "surface",
            "panel", "success", "warning", "error")
XTERM_16 = [
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
]


@dataclass
class TerminalColors:
    foreground: str = "#d0d0d0"
    background: str = "#000000"
    cursor: str = "#ffffff"
    selection: str = "#444444"
    palette: List[str] = field(default_factory=lambda: list(XTERM_16))


@dataclass
class CctuiTheme:
    name: str
    dark: bool
    app: Dict[str, str]
    terminal: TerminalColors
    source: Optional[Path] = None

    def to_textual(self) -> TextualTheme:
        app: Dict[str, Any] = {k: v for k, v in self.app.items() if k in APP_KEYS}
        return TextualTheme(name=self.name, dark=self.dark, **app)


class ThemeError(ValueError):
    """A theme file that cannot be used (the app skips it and says why)."""


def bundled_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "themes"


def user_dir() -> Path:
    return config_dir() / "themes"


def _is_colour(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("#") or len(value) not in (4, 7):
        return False
    try:
        int(value[1:], 16)
    except ValueError:
        return False
    return True


def parse_theme(data: dict, source: Optional[Path] = None) -> CctuiTheme:
    name = data.get("name") or (source.stem if source else "")
    if not isinstance(name, str) or not name:
        raise ThemeError("a theme needs a name")
    app = data.get("app") or {}
    if not isinstance(app, dict) or "primary" not in app:
        raise ThemeError(f"{name}: [app] needs at least 'primary'")
    for key, value in app.items():
        if key in APP_KEYS and not _is_colour(value):
            raise ThemeError(f"{name}: app.{key} is not a #rrggbb colour: {value!r}")
    term = data.get("terminal") or {}
    if not isinstance(term, dict):
        raise ThemeError(f"{name}: [terminal] must be a table")
    palette = term.get("palette", XTERM_16)
    if not isinstance(palette, list) or len(palette) != 16 or not all(map(_is_colour, palette)):
        raise ThemeError(f"{name}: terminal.palette must list 16 #rrggbb colours")
    chosen: Dict[str, Any] = {
        "foreground": term.get("foreground", app.get("foreground", "#d0d0d0")),
        "background": term.get("background", app.get("background", "#000000")),
        "cursor": term.get("cursor", app.get("accent", "#ffffff")),
        "selection": term.get("selection", app.get("panel", "#444444")),
    }
    for key, value in chosen.items():
        if not _is_colour(value):
            raise ThemeError(f"{name}: terminal.{key} is not a #rrggbb colour")
    colours = TerminalColors(**chosen, palette=list(palette))
    return CctuiTheme(name=name, dark=bool(data.get("dark", True)), app=dict(app),
                      terminal=colours, source=source)


def load_theme_file(path: Path) -> CctuiTheme:
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
        elif tomllib is not None:
            data = tomllib.loads(path.read_text())
        else:
            raise ThemeError(f"{path.name}: TOML themes need Python 3.11 or tomli")
    except (OSError, ValueError) as exc:
        raise ThemeError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ThemeError(f"{path}: not a table")
    return parse_theme(data, path)


def load_themes(extra_dirs: Tuple[Path, ...] = ()) -> Tuple[Dict[str, CctuiTheme], List[str]]:
    """All usable themes by name, and a list of problems with the ones skipped."""
    themes: Dict[str, CctuiTheme] = {}
    problems: List[str] = []
    for folder in (bundled_dir(), user_dir(), *extra_dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".toml", ".json"):
                continue
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    if DEFAULT_THEME not in themes:
        themes[DEFAULT_THEME] = CctuiTheme(DEFAULT_THEME, True, {
            "primary": "#5fafff", "background": "#121417", "foreground": "#d0d0d0"},
            TerminalColors(background="#121417"))
    return themes, problems


def _settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings() -> dict:
    try:
        data = json.loads(_settings_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_setting(key: str, value: object) -> None:
    settings = load_settings()
    settings[key] = value
    path = _settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings, indent=2) + "\n")
        tmp.replace(path)
    except OSError:
        pass  # remembering the choice is a convenience, never a failure
