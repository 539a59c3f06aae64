"""Bulk API 2.0's parallel results endpoint (`resultPages`, API 58.0+): the page URLs of a processed query job.

`GET …/jobs/query/{id}/resultPages` "Returns up to five URIs in one response to use to get results for a query
job"; each `resultUrl` is an ordinary results page (`…/results?locator=…`) and `nextRecordsUrl` names the next call
until `done` (https://developer.salesforce.com/docs/platform/api-asynch/guide/query-get-parallel-job-results.html).
The pages can then be downloaded at the same time. Below 58.0, or where the org answers 404, the caller pages by
`Sforce-Locator`, one page after another.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from sf_assets.salesforce.bulk2 import BulkClient, BulkError, BulkJobNotFound, BulkPermanentError, JobInfo
from sf_assets.salesforce.errors import error_fields

log = logging.getLogger(__name__)
FIRST_VERSION = 58.0  # "This resource is available in API version 58.0 and later"
MIN_PAGE_ROWS = 20_000  # smaller pages would add requests (round trips) without adding parallel downloads


def has_result_pages(api_version: str) -> bool:
    """True when Bulk jobs of `api_version` ('62.0') have the `resultPages` resource."""
    return float(api_version) >= FIRST_VERSION


def page_rows(records: int, width: int, cap: int) -> int:
    """The maxRecords that spreads `records` over `width` pages: at least MIN_PAGE_ROWS, at most `cap`."""
    return max(1, min(cap, max(MIN_PAGE_ROWS, -(-records // max(1, width)))))


def result_page_urls(client: BulkClient, job: JobInfo, max_records: int, label: str) -> list[str] | None:
    """Every results-page URL (a path from /services/…) of the processed `job`, in the order of its rows; None
    when the org answers 404 (no such resource). A 409 (the job's API version refused) is a one-line
    BulkPermanentError naming the version."""
    path = f"/services/data/v{job.api_version}/jobs/query/{job.id}/resultPages"
    urls: list[str] = []
    try:
        while True:
            data = client.get_json(path, label, maxRecords=max_records)
            urls += [_path(str(page["resultUrl"])) for page in data.get("resultPages") or []]
            following = data.get("nextRecordsUrl")
            if data.get("done", True) or not following:
                return urls
            path = _path(str(following))
    except BulkJobNotFound:
        if urls:
            raise
        log.info("Bulk job %s: no resultPages resource (HTTP 404): its pages are fetched one after another", job.id)
        return None
    except BulkError as exc:
        if exc.status != 409:
            raise
        detail = error_fields(exc.content)[1]
        raise BulkPermanentError(
            f"Bulk job {job.id}: Salesforce refused its results for API version {job.api_version} (HTTP 409: "
            "results must be read with the version the job was created with)" + (f": {detail}" if detail else ""),
            status=409, content=exc.content) from None


def _path(url: str) -> str:
    """/services/…?query of a relative or absolute URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
