"""The ``serve`` sub-command."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sf_assets.emulator.cli import add_serve_parser, parse_rows


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_parse_rows() -> None:
    rows = parse_rows("account=10, Opportunity=20")
    assert rows["Account"] == 10 and rows["Opportunity"] == 20 and rows["Contact"] == 5000
    for bad in ("Account", "Foo=1", "Account=x"):
        with pytest.raises(ValueError):
            parse_rows(bad)


@pytest.mark.parametrize("argv", [("--rows", "Nope=3"), ("--faults", "boom:1"), ("--live-changes", "every=week"),
                                  ("--service", "rtt=30")])
def test_bad_specs_exit_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(*argv)
    assert args.func(args) == 2
    assert capsys.readouterr().err.startswith("error: ")


def _stop_gracefully(proc: subprocess.Popen) -> None:
    """What a user's terminal sends: SIGTERM on POSIX, Ctrl+Break to the child's process group on Windows."""
    if sys.platform == "win32":
        os.kill(proc.pid, signal.CTRL_BREAK_EVENT)
    else:
        proc.send_signal(signal.SIGTERM)


def test_serve_writes_private_state_prints_no_token_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "org.json"
    state.write_text("{}")  # an old, world-readable file from an earlier run
    state.chmod(0o644)
    flags = subprocess.CREATE_NEW_PROCESS_GROUP if sys.platform == "win32" else 0
    proc = subprocess.Popen([sys.executable, "-m", "sf_assets.emulator.cli", "serve", "--rows", "Account=10",
                             "--state-file", str(state)], stdout=subprocess.PIPE, text=True, creationflags=flags)
    try:
        printed = proc.stdout.readline()
        assert printed.startswith("instance_url: https://127.0.0.1:")
        while "state_file:" not in printed:
            printed += proc.stdout.readline()
        info = json.loads(state.read_text())
        assert info["pid"] == proc.pid and Path(info["ca_path"]).exists() and info["api_version"] == "62.0"
        if os.name == "posix":
            assert state.stat().st_mode & 0o777 == 0o600  # the token is readable by its owner only
    finally:
        _stop_gracefully(proc)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0  # a clean stop, not a kill
    assert info["access_token"] and info["access_token"] not in printed + out


def test_empty_result_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert _args().empty_result == "empty" and _args("--empty-result", "not_found").empty_result == "not_found"
    with pytest.raises(SystemExit):
        _args("--empty-result", "blank")
    assert "invalid choice: 'blank'" in capsys.readouterr().err
