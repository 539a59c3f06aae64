"""Which code produced a refresh: git commit (or installed version) and key package versions."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("dagster", "simple-salesforce", "pyarrow", "dask", "distributed", "dask-sql", "pandas", "pydantic",
            "tenacity")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def code_version() -> dict[str, str | None]:
    """{'git_commit': HEAD of the repo holding sf_assets (None if not a checkout), 'version': installed version}."""
    return {"git_commit": _git_commit(), "version": _version("sf-assets")}


def package_versions() -> dict[str, str | None]:
    """Installed versions of PACKAGES (None when absent) and of Python."""
    return {**{name: _version(name) for name in PACKAGES}, "python": platform.python_version()}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    # The package file must be tracked: an install inside some other repo (a venv in a project) is not ours.
    tracked = _git("ls-files", "--error-unmatch", "__init__.py")
    return _git("rev-parse", "HEAD") if tracked is not None else None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=_PACKAGE_DIR, capture_output=True, text=True, timeout=10,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),  # no console flash under the daemon on Windows
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
