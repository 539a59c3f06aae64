"""Client helpers for emulator tests: a CA-trusting session and simple-salesforce clients."""
from __future__ import annotations

import csv
import io
from typing import Any

import requests
from simple_salesforce import Salesforce

from sf_assets.emulator import EmulatorOrg

VERSION = "62.0"


class CASession(requests.Session):
    """Session whose ``verify`` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on these machines,
    and requests lets them override ``session.verify``); optionally sends *.salesforce.com to the emulator."""

    def __init__(self, ca_path: str, login_url: str | None = None) -> None:
        super().__init__()
        self.verify = ca_path
        self.login_url = login_url

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.login_url and ".salesforce.com/" in url:
            url = self.login_url + "/" + url.split(".salesforce.com/", 1)[1]
        return super().request(method, url, *args, **kwargs)


def session(org: EmulatorOrg, token: str | None = None) -> CASession:
    """Session with the org's CA and a Bearer token."""
    s = CASession(str(org.ca_path), org.login_url)
    s.headers["Authorization"] = f"Bearer {token or org.access_token}"
    return s


def sf(org: EmulatorOrg) -> Salesforce:
    """simple-salesforce client on the org's instance with its start token."""
    return Salesforce(instance_url=org.instance_url, session_id=org.access_token,
                      session=CASession(str(org.ca_path), org.login_url), version=VERSION)


def api(org: EmulatorOrg, path: str = "") -> str:
    return f"{org.instance_url}/services/data/v{VERSION}{path}"


def parse_csv(text: str) -> list[list[str | None]]:
    """Bulk CSV rows (header first) with the Python csv module; empty fields become None
    (Bulk CSV cannot tell null from empty, and the emulator never generates empty strings)."""
    return [[v if v != "" else None for v in row] for row in csv.reader(io.StringIO(text, newline=""))]
