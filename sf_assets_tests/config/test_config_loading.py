"""Loading pipeline.yaml: defaults, interpolation, path resolution and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from sf_assets.cli import main
from sf_assets.config import ConfigError, load_config
from sf_assets.config.reference import render_reference

REPO = Path(__file__).resolve().parents[2]
MINIMAL = "objects:\n  - name: Account\n    soql: SELECT Id, Name FROM Account\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_configs_load(monkeypatch):
    config = load_config(REPO / "config" / "pipeline.yaml")
    assert config.salesforce.auth.kind == "emulator"
    assert [o.name for o in config.objects] == ["Account", "Contact", "Opportunity", "Widget__c"]
    assert config.paths.work_dir == (REPO / "var" / "work").resolve()
    monkeypatch.setenv("SF_USERNAME", "someone@example.com")
    production = load_config(REPO / "config" / "production.example.yaml")
    assert production.preflight.min_free_disk_gb == 20
    assert production.salesforce.auth.username == "someone@example.com"
    assert str(production.paths.share_dir) == r"\\server\share\powerbi"  # UNC kept as written
    assert str(production.paths.work_dir) == "C:/sf_assets/work"  # Windows drive path kept as written


def test_defaults_and_relative_paths(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.extraction.chunk_size == "auto"  # rows per chunk from the service's measured speed
    assert config.extraction.max_concurrent_jobs == 2
    assert (config.api_usage.warn_pct, config.api_usage.halt_pct) == (80, 90)
    assert config.preflight.min_free_disk_gb == 20
    assert config.paths.output_dir == (tmp_path / ".." / "var" / "output").resolve()


def test_env_interpolation_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CHUNK", "5000")
    monkeypatch.delenv("UNSET_DIR", raising=False)
    text = MINIMAL + "extraction: {chunk_size: '${CHUNK}'}\npaths: {work_dir: '${UNSET_DIR:-/tmp/w}'}\n"
    config = load_config(write(tmp_path, text))
    assert config.extraction.chunk_size == 5000
    assert config.paths.work_dir == Path("/tmp/w").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL + "extraction: {chunk_sise: 5}\n", "extraction.chunk_sise: unknown key"),
        (MINIMAL + "extraction: {chunk_size: lots}\n", "extraction.chunk_size: Input should be a valid integer"),
        (MINIMAL + "objects: [{name: Account, soql: SELECT Id FROM Account, chunk_size: Auto}]\n",  # one line
         "objects[0].chunk_size: Input should be a valid integer, unable to parse string as an integer, or 'auto' "
         "(got 'Auto')"),
        (
            MINIMAL + "extraction: {max_concurrent_jobs: 3}\n",
            "extraction.max_concurrent_jobs: Input should be less than or equal to 2",
        ),
        ("objects: []\n", "objects: List should have at least 1 item"),
        (
            "objects:\n  - {name: 'Acc ount', soql: x}\n",
            "objects[0].name: Value error, 'Acc ount' is not a Salesforce API name",
        ),
        (
            MINIMAL + "api_usage: {warn_pct: 95, halt_pct: 90}\n",
            "api_usage: Value error, warn_pct (95.0) must not exceed halt_pct",
        ),
        (MINIMAL + "salesforce: {auth: {kind: password}}\n", "salesforce.auth.username: Field required"),
        (
            MINIMAL + "salesforce: {auth: {kind: magic}}\n",
            "salesforce.auth: Input tag 'magic' found using 'kind' does not match",
        ),
        (
            MINIMAL + "salesforce: {auth: {kind: password, username: u, password: hunter2}}\n",
            "salesforce.auth.password: unknown key",
        ),
        (MINIMAL + "salesforce: {ca_bundle: missing.pem}\n", "salesforce.ca_bundle: file not found"),
        (
            MINIMAL + "paths: {work_dir: '${NOPE_NOT_SET}'}\n",
            "paths.work_dir: environment variable NOPE_NOT_SET is not set",
        ),
        (MINIMAL + "objects: [\n", "invalid YAML at line"),
        ("- just\n- a list\n", "expected a mapping of settings at the top level"),
    ],
)
def test_invalid_config_one_line_error(tmp_path, monkeypatch, text, expected):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_literal_secret_never_echoed(tmp_path):
    path = write(tmp_path, MINIMAL + "salesforce: {auth: {kind: password, username: u, password: hunter2-secret}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "hunter2-secret" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml")


def test_cli_exit_code_2_without_traceback(tmp_path):
    path = write(tmp_path, MINIMAL + "extraction: {chunk_size: -1}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sf_assets.cli", "config", "check", "--config", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "extraction.chunk_size: Input should be greater than 0" in lines[0]


def test_cli_run_bad_config_exit_2(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "configuration file not found" in capsys.readouterr().err


def test_config_check_ok(capsys):
    assert main(["config", "check", "--config", str(REPO / "config" / "pipeline.yaml")]) == 0
    assert "OK (4 objects" in capsys.readouterr().out


def test_reference_doc_is_current():
    """docs/CONFIGURATION.md is generated from the models: regenerate with `sf-assets config doc --output`."""
    documented = (REPO / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    assert documented == render_reference()
    for key in ("max_concurrent_jobs", "min_free_disk_gb", "halt_pct", "consolidate_for_powerbi", "password_env"):
        assert f"`{key}`" in documented


def test_cleanup_must_not_delete_resumable_chunks(tmp_path):
    path = write(tmp_path, MINIMAL + "output: {cleanup_after_hours: 4}\nextraction: {resume_window_hours: 20}\n")
    with pytest.raises(
        ConfigError, match="cleanup_after_hours \\(4\\) must not be shorter than extraction.resume_window_hours"
    ):
        load_config(path)
