"""Connect to the built-in local org emulator (a running `sf-assets org serve`, or one started here), and
`open_connection`: the SalesforceConnection of a configuration, wired to the emulator when it is the target."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from sf_assets.config.models import EmulatorAuth, SalesforceConfig
from sf_assets.observability.redaction import register_secret
from sf_assets.salesforce.auth import SalesforceAuthError, SalesforceSession
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.salesforce.http import SalesforceHttpSession

_lock = threading.Lock()
_started: dict[Path, object] = {}  # state file -> EmulatorOrg kept alive for this process


@dataclass(frozen=True)
class EmulatorTarget:
    """Where the emulator answers and the CA that signs its certificate."""

    session: SalesforceSession
    ca_path: Path


def _from_state_file(state_file: Path) -> EmulatorTarget | None:
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        target = EmulatorTarget(SalesforceSession(state["instance_url"], state["access_token"]), Path(state["ca_path"]))
    except (OSError, ValueError, KeyError):
        return None
    try:
        with SalesforceHttpSession(ca_bundle=target.ca_path, timeout=(2, 5)) as http:
            response = http.get(f"{target.session.instance_url}/services/data/",
                                headers={"Authorization": f"Bearer {target.session.session_id}"})
    except (requests.RequestException, OSError):
        return None
    if response.status_code == 401:  # alive, but the token expired: log in again like a client would
        return _relogin(target, state.get("login_url") or target.session.instance_url)
    return target  # any other answer means it is alive (a 503 may be an injected fault)


def _relogin(target: EmulatorTarget, login_url: str) -> EmulatorTarget | None:
    """A new session from the emulator's OAuth endpoint (client credentials of its demo connected app)."""
    from sf_assets.emulator.org import CREDENTIALS

    try:
        with SalesforceHttpSession(ca_bundle=target.ca_path, timeout=(2, 10)) as http:
            response = http.post(f"{login_url}/services/oauth2/token",
                                 data={"grant_type": "client_credentials", "client_id": CREDENTIALS["consumer_key"],
                                       "client_secret": CREDENTIALS["consumer_secret"]})
        token = response.json()["access_token"] if response.ok else None
    except (requests.RequestException, ValueError, KeyError):
        return None
    return EmulatorTarget(SalesforceSession(target.session.instance_url, token), target.ca_path) if token else None


def connect_emulator(auth: EmulatorAuth, api_version: str) -> EmulatorTarget:
    """The emulator named by the state file if it answers; else start one in this process (autostart)."""
    with _lock:
        target = _from_state_file(auth.state_file)
        if target is None:
            if not auth.autostart:
                raise SalesforceAuthError(
                    f"no local org emulator answers at {auth.state_file}: run `sf-assets org serve` or set autostart"
                )
            from sf_assets.emulator import EmulatorOrg, OrgSettings

            org = EmulatorOrg(
                OrgSettings(
                    rows=dict(auth.rows), seed=auth.seed, state_dir=auth.state_file.parent, api_version=api_version
                )
            )
            org.__enter__()  # kept open for the life of this process
            org.write_state_file(auth.state_file)
            _started[auth.state_file] = org
            target = EmulatorTarget(SalesforceSession(org.instance_url, org.access_token), Path(org.ca_path))
    register_secret(target.session.session_id)
    return target


def emulator_login(auth: EmulatorAuth, api_version: str) -> tuple[SalesforceSession, Path]:
    """The emulator's session and the CA that signs its certificate (connecting or starting it)."""
    target = connect_emulator(auth, api_version)
    return target.session, target.ca_path


def open_connection(config: SalesforceConfig, env: Mapping[str, str] | None = None) -> SalesforceConnection:
    """The connection every stage uses: a real org, or the local emulator for `auth.kind: emulator`."""
    return SalesforceConnection(config, env, emulator_login=emulator_login)
