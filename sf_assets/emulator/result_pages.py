"""Who may read a Bulk query job's results, and the parallel results endpoint (``resultPages``, API v58.0+)."""
from __future__ import annotations

from .jobs import Job
from .org_api import Org
from .server import Handler

FIRST_VERSION = 58.0  # "This resource is available in API version 58.0 and later"
URLS_PER_CALL = 5  # "Returns up to five URIs in one response"


def refuse_results(h: Handler, job: Job, version: str) -> bool:
    """Answer (and return True) when ``job``'s results cannot be read with ``version`` now."""
    if job.api_version != version:
        h.send_error_json(409, "INVALIDJOBSTATE", f"This job was created with API version {job.api_version}; "
                          f"get its results with the same version (requested {version})")
        return True
    if job.state != "JobComplete":
        h.send_error_json(400, "INVALIDJOBSTATE", f"Job {job.id} is not complete (state {job.state})")
        return True
    return False


def result_pages(org: Org, h: Handler, job: Job, version: str, query: dict[str, str], default_records: int) -> None:
    """``GET .../jobs/query/{id}/resultPages[?locator=…][&maxRecords=n]``: up to five ordinary result-page URLs,
    ``nextRecordsUrl`` for the next five and ``done`` (see docs/EMULATOR.md "The parallel results endpoint")."""
    if float(version) < FIRST_VERSION:
        return h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")
    if refuse_results(h, job, version):
        return
    try:
        max_records = int(query.get("maxRecords") or default_records)
        if max_records < 1:
            raise ValueError(max_records)
        locators, after = job.page_locators(query.get("locator") or None, max_records, URLS_PER_CALL)
    except ValueError:
        return h.send_error_json(400, "INVALID_LOCATOR", "Invalid locator or maxRecords")
    org.stats.add("result_pages_calls")
    base = f"/services/data/v{version}/jobs/query/{job.id}"
    h.send_json(200, {
        "resultPages": [{"resultUrl": f"{base}/results?locator={loc}"} for loc in locators],
        "nextRecordsUrl": f"{base}/resultPages?locator={after}" if after else None,
        "done": after is None,
    })
