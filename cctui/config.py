"""``config.toml``: the user's settings for cctui itself (keys live in keys.toml).

It sits beside keys.toml in ``config_dir()`` (``$CCTUI_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/cctui``, else ``~/.config/cctui``), in the same TOML format::

    spare = 1          # keep one booted VM of the default image ready (0: off)
    spare_idle = 10    # seconds without a request or a keystroke before it boots

A missing file is the defaults; a bad one raises ConfigError naming the file and
the key, so a caller that must keep running (the server) can log it and go on
with the defaults. ``$CCTUI_SPARE`` (0 or 1), when set, wins over the file's
``spare``: the test suite sets it to 0 so servers started by unrelated tests boot
no spare VM in the background.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from .paths import config_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef,import-not-found]  # installed only where needed
    except ImportError:
        tomllib = None  # type: ignore[assignment]

CONFIG_FILE = "config.toml"
MAX_BYTES = 64 * 1024               # a settings file larger than this is not one
SPARE_IDLE_MAX = 24 * 3600.0
SPARE_ENV = "CCTUI_SPARE"


class ConfigError(Exception):
    """config.toml cannot be used; the text names the file and the setting."""


@dataclasses.dataclass(frozen=True)
class Config:
    spare: int = 1              # spare VMs kept booted (0 or 1)
    spare_idle: float = 10.0    # seconds of no client activity before a spare boots


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load_config(path: Optional[Path] = None) -> Config:
    """The defaults changed by the user's config.toml, if there is one, then by $CCTUI_SPARE."""
    config = _load_file(path or config_path())
    override = os.environ.get(SPARE_ENV)
    if override is None:
        return config
    if override not in ("0", "1"):
        raise ConfigError(f"${SPARE_ENV} must be 0 or 1, not {_show(override)}")
    return dataclasses.replace(config, spare=int(override))


def _load_file(path: Path) -> Config:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KiB; is it the right file?")
    if tomllib is None:
        raise ConfigError(f"{path}: reading it needs Python 3.11 or tomli")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, str(path))


def parse_config(data: Dict[str, Any], where: str) -> Config:
    """Check each setting's type and range; the first problem names its key."""
    known = {f.name for f in dataclasses.fields(Config)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key[:80]!r} (settings: {', '.join(sorted(known))})")
    values: Dict[str, Any] = {}
    if "spare" in data:
        spare = data["spare"]
        if isinstance(spare, bool) or not isinstance(spare, int) or spare not in (0, 1):
            raise ConfigError(f"{where}: spare must be 0 (off) or 1 (one spare VM), not {_show(spare)}")
        values["spare"] = spare
    if "spare_idle" in data:
        idle = data["spare_idle"]
        if isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 0 <= idle <= SPARE_IDLE_MAX:
            raise ConfigError(f"{where}: spare_idle must be seconds from 0 to {SPARE_IDLE_MAX:g}, "
                              f"not {_show(idle)}")
        values["spare_idle"] = float(idle)
    return Config(**values)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["CONFIG_FILE", "SPARE_ENV", "Config", "ConfigError", "config_path", "load_config", "parse_config"]
