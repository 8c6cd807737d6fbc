"""The parts of an image config that decide how a command runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from .errors import ImageError


@dataclass
class ImageConfig:
    """Defaults every command in the image starts with.

    Empty values mean "not set by the image": the caller picks its own default
    (for example a PATH when ``env`` has none, ``/`` for ``working_dir``, root
    for ``user``).
    """

    env: list[str] = field(default_factory=list)  # "K=V" entries, in image order
    working_dir: str = ""
    user: str = ""  # as in the image: "name", "uid", "uid:gid", "name:group"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    @classmethod
    def from_image_config(cls, document: object) -> ImageConfig:
        """Read the ``config`` object of an OCI or docker image config JSON."""
        if not isinstance(document, dict):
            raise ImageError("image config is not a JSON object")
        section = document.get("config")
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ImageError("image config: 'config' is not a JSON object")
        env = _string_list(section, "Env")
        for entry in env:
            if "=" not in entry:
                raise ImageError(f"image config: Env entry {entry!r} has no '='")
        return cls(
            env=env,
            working_dir=_string(section, "WorkingDir"),
            user=_string(section, "User"),
            entrypoint=_string_list(section, "Entrypoint"),
            cmd=_string_list(section, "Cmd"),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ImageConfig:
        return cls(**json.loads(text))


def _string(section: dict[str, Any], key: str) -> str:
    value = section.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImageError(f"image config: {key} is not a string")
    return value


def _string_list(section: dict[str, Any], key: str) -> list[str]:
    value = section.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ImageError(f"image config: {key} is not a list of strings")
    return list(value)


def entrypoint_argv(config: ImageConfig, args: Sequence[str], default_shell: str) -> list[str]:
    """The argv of ``EntrypointCommand(args...)`` on the seed page.

    No args: ENTRYPOINT + CMD.  Args: ENTRYPOINT + args (CMD is replaced).
    With no ENTRYPOINT the args alone are the command, as ``docker run IMAGE
    args`` does.  Only when that leaves nothing to run (no args, no ENTRYPOINT,
    no CMD) is the result ``[default_shell]``.
    """
    argv = list(config.entrypoint) + (list(args) if args else list(config.cmd))
    return argv or [default_shell]
