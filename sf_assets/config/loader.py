"""Load `pipeline.yaml` into a validated `PipelineConfig`, with one-line errors."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sf_assets.config.interpolate import InterpolationError, interpolate
from sf_assets.config.models import PipelineConfig
from sf_assets.config.renamed import RenamedKeyConflict, move_renamed

log = logging.getLogger(__name__)
CONFIG_ENV_VAR = "SF_ASSETS_CONFIG"
DEFAULT_CONFIG = Path("config") / "pipeline.yaml"  # under the working directory (where workspace.yaml is)
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\\\/]")
_TAGS = {"emulator", "access_token", "password", "client_credentials", "jwt"}
_UNION_MEMBER = re.compile(r"^(constrained-\w+|literal\[.*\]|function-\w+\[.*\])$")  # pydantic's names of members
_WARNED: set[tuple[Path, str]] = set()  # each deprecation logged once per process (sensors load every tick)


class ConfigError(Exception):
    """Invalid configuration; the message is one line naming the file, key path and problem."""


def default_config_path() -> Path:
    """`$SF_ASSETS_CONFIG` if set, else `config/pipeline.yaml` under the working directory (absolute)."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or Path.cwd() / DEFAULT_CONFIG).absolute()


def load_config(path: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Read, interpolate, validate and path-resolve a configuration file."""
    file = Path(path) if path is not None else default_config_path()
    if not file.is_file():
        default = not os.environ.get(CONFIG_ENV_VAR) and file.absolute() == default_config_path()
        hint = (
            f" (the default under the working directory: pass --config FILE or set {CONFIG_ENV_VAR})" if default else ""
        )
        raise ConfigError(f"{file}: configuration file not found{hint}")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}: invalid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of settings at the top level")
    try:
        data = interpolate(raw)
    except InterpolationError as exc:
        raise ConfigError(f"{file}: {exc.path}: {exc}") from None
    try:
        data, deprecations = move_renamed(data)
    except RenamedKeyConflict as exc:
        raise ConfigError(f"{file}: {exc}") from None
    for line in deprecations:
        _warn_once(file, line)
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {_describe(exc)}") from None
    config = resolve_paths(config, file.resolve().parent)
    _check_files_exist(config, file)
    return config.model_copy(update={"source_file": file.resolve(), "deprecations": tuple(deprecations)})


def _warn_once(file: Path, line: str) -> None:
    if (file, line) not in _WARNED:
        _WARNED.add((file, line))
        log.warning("%s: %s", file, line)


def _describe(exc: ValidationError) -> str:
    messages: dict[str, str] = {}  # one message per key: a value of a union (`int` or `auto`) fails each member
    inputs: dict[str, str] = {}
    for error in exc.errors():
        loc = _format_loc(error["loc"])
        if loc in messages:
            if error["type"] == "literal_error":
                messages[loc] += f", or {error['ctx']['expected']}"
            continue
        messages[loc] = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        got = error.get("input")
        if not isinstance(got, (dict, list)) and error["type"] not in ("missing", "extra_forbidden"):
            inputs[loc] = f" (got {got!r})"
    return "; ".join(f"{loc}: {message}{inputs.get(loc, '')}" if loc else message for loc, message in messages.items())


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif (i > 0 and loc[i - 1] == "auth" and part in _TAGS) or _UNION_MEMBER.match(part):
            continue  # pydantic's discriminator tag or union member, not a key the user wrote
        else:
            text += f".{part}" if text else str(part)
    return text


def _resolve(value: Path | None, base: Path) -> Path | None:
    if value is None:
        return None
    text = str(value)
    if text.startswith(("\\\\", "//")) or _WINDOWS_DRIVE.match(text):  # UNC or C:/...: keep as written
        return value
    return value if value.is_absolute() else (base / value).resolve()


def resolve_paths(config: PipelineConfig, base: Path) -> PipelineConfig:
    """Resolve every relative path of `config` against `base` (the config file's folder)."""
    paths = config.paths
    new_paths = paths.model_copy(update={
        k: _resolve(v, base) for k in type(paths).model_fields if isinstance(v := getattr(paths, k), Path)})
    sf = config.salesforce
    auth = sf.auth
    auth_updates = {k: _resolve(getattr(auth, k), base) for k in ("state_file", "private_key_file") if hasattr(auth, k)}
    new_sf = sf.model_copy(
        update={"auth": auth.model_copy(update=auth_updates), "ca_bundle": _resolve(sf.ca_bundle, base)}
    )
    new_dask = config.dask.model_copy(update={"spill_dir": _resolve(config.dask.spill_dir, base)})
    return config.model_copy(update={"paths": new_paths, "salesforce": new_sf, "dask": new_dask})


def _check_files_exist(config: PipelineConfig, file: Path) -> None:
    checks = [("salesforce.ca_bundle", config.salesforce.ca_bundle)]
    key_file = getattr(config.salesforce.auth, "private_key_file", None)
    checks.append(("salesforce.auth.private_key_file", key_file))
    for key, value in checks:
        if value is not None and not value.is_file():
            raise ConfigError(f"{file}: {key}: file not found: {value}")
