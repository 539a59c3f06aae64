"""Set-up and run on a fresh clone, on Windows and Linux alike (stdlib only).

    python scripts/dev.py demo   # install into .venv, run a full refresh against the local org emulator
    python scripts/dev.py test   # install into .venv (with test extras), run ruff, mypy, then the test suite
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("SF_ASSETS_VENV", ROOT / ".venv"))
CONSTRAINTS = ROOT / "constraints.txt"


def _bin(name: str) -> Path:
    folder = VENV / ("Scripts" if os.name == "nt" else "bin")
    return folder / (f"{name}.exe" if os.name == "nt" else name)


def _run(*cmd: object, **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def install(extras: str = "") -> None:
    """Create .venv if needed and install the project (editable) with pinned versions."""
    if not _bin("python").exists():
        print(f"Creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    python = _bin("python")
    _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    _run(python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, "-e", target)


def main(argv: list[str]) -> int:
    """Dispatch `demo` / `test`; extra arguments go to sf-assets run / pytest."""
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    env = {**os.environ, "PYTHONUTF8": "1"}
    if argv[0] == "demo":
        install()
        return subprocess.run([str(_bin("sf-assets")), "run", *argv[1:]], cwd=ROOT, env=env).returncode
    install("test")
    for check in (["ruff", "check"], ["mypy"]):  # configured in pyproject.toml; a finding fails the command
        print("+", " ".join(check), flush=True)
        code = subprocess.run([str(_bin("python")), "-m", *check], cwd=ROOT, env=env).returncode
        if code:
            return code
    return subprocess.run([str(_bin("python")), "-m", "pytest", *argv[1:]], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
