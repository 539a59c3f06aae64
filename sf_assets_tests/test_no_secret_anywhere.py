"""No token, password or session id in any file or database a refresh leaves, even when they are pushed at
every sink (see `secret_probe`); a negative control proves the scan finds them when redaction is off."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from sf_assets.emulator.auth import ORG_ID
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets_tests.pipeline_helpers import write_config

REPO = Path(__file__).resolve().parents[1]
SESSION_PREFIX = f"{ORG_ID[:15]}!"  # every session id the emulator issues starts with it (login results too)


def run_cli(config: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return subprocess.run([sys.executable, "-m", "sf_assets_tests.secret_probe", "run", "--config", str(config)],
                          env={**os.environ, "DAGSTER_HOME": str(home), **env}, capture_output=True, text=True,
                          timeout=300)


def _forms(secret: str) -> list[bytes]:
    """The secret as written raw, inside JSON and URL-encoded."""
    return sorted({secret.encode(), json.dumps(secret)[1:-1].encode(), quote(secret, safe="").encode()})


def scan(root: Path, secrets: list[str], skip: Path) -> list[str]:
    """'file: secret' for every file under `root` (but `skip`) holding a secret, as bytes or in its SQL dump."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and skip not in p.parents):
        data = path.read_bytes()
        if data.startswith(b"SQLite format 3\x00"):
            conn = connect_readonly(path)
            try:
                data += "\n".join(conn.iterdump()).encode()
            except sqlite3.Error as exc:
                hits.append(f"{path}: cannot dump: {exc}")
            finally:
                conn.close()
        hits += [f"{path.relative_to(root)}: {secret[:6]}…" for secret in secrets
                 if any(form in data for form in _forms(secret))]
    return hits


def config_for(org, tmp_path: Path, auth: dict) -> Path:
    return write_config(org, tmp_path, salesforce={"auth": auth, "ca_bundle": str(org.ca_path),
                                                    "login_url": org.login_url}, paths={"create_share_dir": True})


def test_access_token_refresh_with_failures_leaves_no_secret(org, tmp_path):
    token = org.access_token
    config = config_for(org, tmp_path, {"kind": "access_token", "instance_url": org.instance_url})
    outputs = []
    for fail_at in ("/results:1", "/results:2", ""):  # chunk planning fails, then (resumed) a chunk, then success
        result = run_cli(config, tmp_path, {"SF_ACCESS_TOKEN": token, "SECRET_PROBE_FAIL": fail_at})
        outputs.append(result.stdout + result.stderr)
    assert result.returncode == 0, outputs[-1][-3000:]
    assert all("Failure:" in out and "malformed reply" in out for out in outputs[:2]), (
        outputs
    )  # the failure carrying the token was reported
    secrets = [token, SESSION_PREFIX]
    assert scan(tmp_path, secrets, skip=tmp_path / "org") == []
    assert not [s for s in secrets if any(s in out for out in outputs)]
    assert list((tmp_path / "logs").rglob("sf_assets_*.log")) and list((tmp_path / "dagster_home").rglob("*.db"))


def test_password_refresh_leaves_no_secret(make_org, tmp_path):
    org = make_org()
    creds = org.credentials
    config = config_for(org, tmp_path, {"kind": "password", "username": creds["username"]})
    result = run_cli(config, tmp_path, {"SF_PASSWORD": creds["password"], "SF_SECURITY_TOKEN": creds["security_token"]})
    assert result.returncode == 0, result.stderr[-3000:]
    secrets = [creds["password"], creds["security_token"], SESSION_PREFIX, org.access_token]
    assert scan(tmp_path, secrets, skip=tmp_path / "org") == []
    assert not [s for s in secrets if s in result.stdout + result.stderr]


def test_negative_control_scan_finds_secrets_when_redaction_is_off(make_org, tmp_path):
    org = make_org()
    creds = org.credentials
    config = config_for(org, tmp_path, {"kind": "password", "username": creds["username"]})
    result = run_cli(config, tmp_path, {"SF_PASSWORD": creds["password"], "SF_SECURITY_TOKEN": creds["security_token"],
                                        "SECRET_PROBE_NO_REDACTION": "1", "SECRET_PROBE_FAIL": "/results:1"})
    assert result.returncode == 1, result.stderr[-3000:]
    hits = scan(tmp_path, [creds["password"], SESSION_PREFIX], skip=tmp_path / "org")
    assert any(h.startswith("logs/") for h in hits), hits  # the log file
    assert any(h.startswith("dagster_home/") and ".db" in h for h in hits), hits  # Dagster's event log (SQLite)
    assert any(h.startswith("state/") for h in hits), hits  # refreshes.info_json in the state DB


def test_unexpected_step_error_carrying_the_token_stays_out_of_the_event_log(org, tmp_path):
    """Dagster stores an exception escaping an asset as raised (STEP_FAILURE error info): the instance's
    redacting instance (dagster_home/dagster.yaml) masks it."""
    config = config_for(org, tmp_path, {"kind": "access_token", "instance_url": org.instance_url})
    result = run_cli(config, tmp_path, {"SF_ACCESS_TOKEN": org.access_token, "SECRET_PROBE_FAIL": "/limits:1"})
    assert result.returncode == 1
    assert scan(tmp_path, [org.access_token], skip=tmp_path / "org") == []
