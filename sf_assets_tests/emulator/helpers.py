"""Client helpers for emulator tests: a CA-trusting session and simple-salesforce clients."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
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


def bulk_job(org: EmulatorOrg, soql: str, operation: str = "query", version: str = VERSION,
             on_created: Callable[[], object] | None = None) -> str:
    """Id of a Bulk API 2.0 query job created (then ``on_created()`` runs) and polled until JobComplete."""
    s = session(org)
    created = s.post(f"{org.instance_url}/services/data/v{version}/jobs/query",
                     json={"operation": operation, "query": soql})
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["state"] == "UploadComplete" and job["id"].startswith("750") and len(job["id"]) == 18
    if on_created is not None:
        on_created()
    for _ in range(10):
        state = s.get(f"{org.instance_url}/services/data/v{version}/jobs/query/{job['id']}").json()["state"]
        if state == "JobComplete":
            return job["id"]
    raise AssertionError(f"job stuck in {state}")


def iter_bulk_pages(org: EmulatorOrg, job_id: str, max_records: int,
                    **headers: str) -> Iterator[tuple[requests.Response, list[list[str | None]]]]:
    """A job's result pages one at a time, as (response, CSV rows with header), each holding the number of rows
    its Sforce-NumberOfRecords says."""
    s, locator = session(org), None
    while locator != "null":
        params = {"maxRecords": max_records, **({"locator": locator} if locator else {})}
        r = s.get(api(org, f"/jobs/query/{job_id}/results"), params=params, headers=headers)
        assert r.status_code == 200, r.text
        rows = parse_csv(r.content.decode("utf-8"))
        assert int(r.headers["Sforce-NumberOfRecords"]) == len(rows) - 1
        yield r, rows
        locator = r.headers["Sforce-Locator"]
        assert len(rows) > 1 or locator == "null", "an empty result page that is not the last one"


def bulk_pages(org: EmulatorOrg, job_id: str, max_records: int,
               **headers: str) -> list[tuple[requests.Response, list[list[str | None]]]]:
    """Every result page of a job (see ``iter_bulk_pages``)."""
    return list(iter_bulk_pages(org, job_id, max_records, **headers))
