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


@pytest.mark.parametrize("argv", [("--rows", "Nope=3"), ("--faults", "boom:1")])
def test_bad_specs_exit_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(*argv)
    assert args.func(args) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_serve_writes_state_and_stops_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "org.json"
    proc = subprocess.Popen([sys.executable, "-m", "sf_assets.emulator.cli", "serve", "--rows", "Account=10",
                             "--state-file", str(state)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("instance_url: https://127.0.0.1:")
        info = json.loads(state.read_text())
        assert info["pid"] == proc.pid and Path(info["ca_path"]).exists() and info["api_version"] == "62.0"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
