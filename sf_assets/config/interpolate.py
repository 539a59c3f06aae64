"""`${VAR}` / `${VAR:-default}` environment interpolation for configuration values."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class InterpolationError(ValueError):
    """A `${VAR}` reference names a variable that is not set and has no default."""

    def __init__(self, path: str, variable: str) -> None:
        super().__init__(f"environment variable {variable} is not set (and no ${{{variable}:-default}} given)")
        self.path = path
        self.variable = variable


def interpolate(value: Any, env: Mapping[str, str] | None = None, path: str = "") -> Any:
    """Return `value` with every `${VAR}` in its strings replaced from `env` (default os.environ)."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise InterpolationError(path, name)

        return _PATTERN.sub(substitute, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    return value
