"""The REST and Bulk API 2.0 endpoints of the emulated org."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from .bulkcsv import DELIMITERS, LINE_ENDINGS, csv_page, empty_result_body
from .faults import SLOW_PAGE_S
from .jobs import Job
from .limits import CONCURRENCY, TOTAL_REQUESTS
from .org_api import Org
from .plan import QueryPlan
from .rest import describe, sobject_summary
from .result_pages import refuse_results, result_pages
from .server import DATA, Handler
from .soql import SoqlError

DEFAULT_MAX_RECORDS = 100_000


def handle(org: Org, h: Handler, method: str, path: str, query: dict[str, str], body: bytes) -> None:
    """Route one request."""
    org.stats.add("requests")
    if path == "/services/oauth2/token" and method == "POST":
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        status, payload = org.sessions.oauth_token(form, h.headers.get("Authorization"))
        if status == 200:
            org.stats.add("logins")
        return h.send_json(status, payload)
    if path.startswith("/services/Soap/u/") and method == "POST":
        status, xml = org.sessions.soap_login(body, path.rsplit("/", 1)[-1])
        if status == 200:
            org.stats.add("logins")
        return h.send(status, xml.encode(), "text/xml;charset=UTF-8")
    if path.startswith("/__emulator__/"):
        return _admin(org, h, method, path, body)
    if path == "/services/data" or path == "/services/data/" or DATA.match(path):
        return _data(org, h, method, path, query, body)
    h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")


def _admin(org: Org, h: Handler, method: str, path: str, body: bytes) -> None:
    token = h.bearer()
    if not token or not org.sessions.known(token):
        return h.send_error_json(401, "INVALID_SESSION_ID", "Session expired or invalid")
    try:
        payload = json.loads(body or b"{}")
        if path == "/__emulator__/counters" and method == "GET":
            return h.send_json(200, org.counters())
        if path == "/__emulator__/faults" and method == "POST":
            from .faults import FaultPlan
            org.set_faults(FaultPlan.parse(payload.get("faults", "")))
            return h.send_json(200, {"faults": str(org.faults)})
        if path == "/__emulator__/api_used_pct" and method == "POST":
            org.set_api_used_pct(float(payload["pct"]))
            return h.send_json(200, {"pct": float(payload["pct"])})
        if path == "/__emulator__/empty_result" and method == "POST":
            org.set_empty_result(str(payload["form"]))
            return h.send_json(200, {"form": org.empty_result})
        if path == "/__emulator__/new_day" and method == "POST":
            org.new_day()
            return h.send_json(200, org.limits())
        if path == "/__emulator__/live" and method in ("GET", "POST"):
            if method == "POST" and "live" in payload:
                org.set_live_changes(str(payload["live"]))
            if method == "POST" and "advance" in payload:
                org.advance_live(int(payload["advance"]))
            return h.send_json(200, org.data.live.status())
        if path == "/__emulator__/schema" and method in ("GET", "POST"):
            if method == "POST" and payload.get("reset"):
                org.reset_schema()
            if method == "POST" and payload.get("changes"):
                org.change_schema(str(payload["changes"]), int(payload.get("after_jobs", 0)))
            return h.send_json(200, {"schema_changes": org.schema.applied()})
    except (ValueError, KeyError, TypeError) as exc:
        return h.send_error_json(400, "INVALID_REQUEST", str(exc))
    h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")


def _data(org: Org, h: Handler, method: str, path: str, query: dict[str, str], body: bytes) -> None:
    """/services/data: injected transient faults, the session, the daily limits, then the endpoint."""
    m = DATA.match(path)
    seq = org.count_api_request(counts=m is not None)  # the versions URI does not count towards the daily limit
    h.limit_info = org.limit_info()
    if org.faults.hits("503", org.settings.seed, seq):
        org.stats.add("errors", "503")
        return h.send_error_json(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable (injected fault)")
    if org.faults.hits("concurrent", org.settings.seed, seq):
        org.stats.add("errors", "concurrent")
        return h.send_error_json(403, "REQUEST_LIMIT_EXCEEDED", CONCURRENCY[seq % 2])
    token = h.bearer()
    if not token or not org.sessions.check(token):
        org.stats.add("errors", "session_refused_" + ("bulk" if "/jobs/" in path else "rest"))
        return h.send_error_json(401, "INVALID_SESSION_ID", "Session expired or invalid")
    if m is not None and org.daily.api_exhausted():
        org.stats.add("errors", "daily_limit")
        return h.send_error_json(403, "REQUEST_LIMIT_EXCEEDED", TOTAL_REQUESTS)
    if m is None:
        return h.send_json(200, org.versions())
    version, rest = m.group(1), (m.group(2) or "").rstrip("/")
    try:
        if rest == "" and method == "GET":
            return h.send_json(200, {"sobjects": f"/services/data/v{version}/sobjects",
                                     "query": f"/services/data/v{version}/query",
                                     "limits": f"/services/data/v{version}/limits"})
        if rest == "/limits" and method == "GET":
            org.stats.add("limits_calls")
            return h.send_json(200, org.limits())
        if rest.startswith("/sobjects"):
            return _sobjects(org, h, version, rest)
        if rest in ("/query", "/queryAll") or rest.startswith("/query/"):
            return _rest_query(org, h, version, rest, query)
        refused = org.daily.take_bulk_job() if rest == "/jobs/query" and method == "POST" else None
        if refused is not None:
            org.stats.add("errors", refused[0])
            return h.send_error_json(400, "LIMIT_EXCEEDED", refused[1])
        if rest.startswith("/jobs/query"):
            return _jobs(org, h, method, version, rest, query, body)
    except SoqlError as exc:
        return h.send_error_json(400, exc.code, exc.message)
    h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")


def _sobjects(org: Org, h: Handler, version: str, rest: str) -> None:
    parts = rest.split("/")[2:]
    if not parts:
        return h.send_json(200, {"encoding": "UTF-8", "maxBatchSize": 200,
                                 "sobjects": [sobject_summary(o, version) for o in org.data.objects()]})
    try:
        sobj = org.schema.view(org.data.sobject(parts[0]))
    except KeyError:
        return h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")
    if parts[1:] == ["describe"]:
        org.stats.add("describes", sobj.name)
        return h.send_json(200, describe(sobj, version))
    if not parts[1:]:
        return h.send_json(200, {"objectDescribe": sobject_summary(sobj, version), "recentItems": []})
    h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")


def _rest_query(org: Org, h: Handler, version: str, rest: str, query: dict[str, str]) -> None:
    org.stats.add("rest_queries")
    if rest.startswith("/query/"):
        cursor, _, offset = rest[len("/query/"):].rpartition("-")
        page = org.cursors.page(org.data, cursor, int(offset) if offset.isdigit() else -1, version)
        if page is None:
            return h.send_error_json(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return h.send_json(200, page)
    if "q" not in query:
        return h.send_error_json(400, "MALFORMED_QUERY", "A query string has to be specified")
    plan = QueryPlan(org.data, query["q"], all_rows=rest == "/queryAll", schema=org.schema)
    total = plan.count()
    if plan.query.count:
        return h.send_json(200, {"totalSize": total, "done": True, "records": []})
    h.send_json(200, org.cursors.page(org.data, org.cursors.open(plan, total), 0, version))


def _jobs(org: Org, h: Handler, method: str, version: str, rest: str, query: dict[str, str],
          body: bytes) -> None:
    parts = rest.split("/")[3:]
    if not parts:
        if method == "POST":
            return _create_job(org, h, version, body)
        return h.send_json(
            200, {"done": True, "records": [j.info(False) for j in org.jobs.all()], "nextRecordsUrl": None}
        )
    job = org.jobs.get(parts[0])
    if job is None:
        return h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")
    if parts[1:] == ["results"] and method == "GET":
        return _results(org, h, job, version, query)
    if parts[1:] == ["resultPages"] and method == "GET":
        return result_pages(org, h, job, version, query, DEFAULT_MAX_RECORDS)
    if parts[1:]:
        return h.send_error_json(404, "NOT_FOUND", "The requested resource does not exist")
    if method == "GET":
        org.stats.add("polls")
        if job.advance():
            org.stats.add("errors", "slow_jobs")
        return h.send_json(200, job.info())
    if method == "PATCH":
        state = json.loads(body or b"{}").get("state")
        if state != "Aborted" or job.state in ("JobComplete", "Failed"):
            return h.send_error_json(400, "INVALIDJOBSTATE", f"Cannot change job state to {state} from {job.state}")
        job.state = "Aborted"
        org.stats.add("aborts")
        return h.send_json(200, job.info(False))
    if method == "DELETE":
        org.jobs.delete(job.id)
        org.stats.add("deletes")
        return h.no_content()
    h.send_error_json(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")


def _create_job(org: Org, h: Handler, version: str, body: bytes) -> None:
    try:
        spec: dict[str, Any] = json.loads(body or b"{}")
    except ValueError:
        return h.send_error_json(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
    operation = spec.get("operation")
    if operation not in ("query", "queryAll"):
        return h.send_error_json(400, "INVALIDJOB", f"Invalid operation: {operation}")
    delimiter, line_ending = spec.get("columnDelimiter", "COMMA"), spec.get("lineEnding", "LF")
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS or spec.get("contentType", "CSV") != "CSV":
        return h.send_error_json(400, "INVALIDJOB", "Invalid contentType, columnDelimiter or lineEnding")
    plan = QueryPlan(org.data, spec.get("query") or "", all_rows=operation == "queryAll", bulk=True, schema=org.schema)
    obj = plan.sobject.name
    job = Job(org.jobs.new_id(), plan, operation, version, delimiter, line_ending,
              fail=org.jobs.should_fail(obj, org.faults.job_fail_once), extra_polls=org.faults.slow_jobs,
              processing_s=org.service.processing_s(plan.count()) if org.service.timed_jobs else None)
    if job.fail:
        org.stats.add("errors", "job_fail_once")
    org.jobs.add(job)
    org.stats.add("jobs_created", obj)
    h.send_json(200, job.info(False))


def _results(org: Org, h: Handler, job: Job, version: str, query: dict[str, str]) -> None:
    if refuse_results(h, job, version):
        return
    nth = org.count_results_page()  # the page_* faults: the n-th page asked for since the fault plan was set
    if nth == org.faults.page_503:
        org.stats.add("errors", "page_503")
        return h.send_error_json(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable (injected fault)")
    if nth == org.faults.slow_page:
        org.stats.add("errors", "slow_page")
        time.sleep(SLOW_PAGE_S)
    try:
        max_records = int(query.get("maxRecords") or DEFAULT_MAX_RECORDS)
        idx, locator = job.page(query.get("locator") or None, max_records)
    except ValueError:
        return h.send_error_json(400, "INVALID_LOCATOR", "Invalid locator or maxRecords")
    org.stats.add("pages")
    seq = org.stats.get("pages")
    headers = {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(idx))}
    if job.records == 0:  # the form the org is set to (org.empty_result): see docs/EMULATOR.md "Empty results"
        body = empty_result_body(org.empty_result, job.plan, DELIMITERS[job.column_delimiter],
                                 LINE_ENDINGS[job.line_ending])
        return h.send(200, body, "text/csv; charset=UTF-8", headers)
    rows = idx
    if len(idx) and org.faults.hits("short_page", org.settings.seed, seq):
        org.stats.add("errors", "short_page")
        rows = idx[:len(idx) - max(1, len(idx) // 10)]
    reset = nth == org.faults.page_reset or org.faults.hits("reset", org.settings.seed, seq)
    if reset:
        org.stats.add("errors", "page_reset" if nth == org.faults.page_reset else "reset")
    org.stats.add("rows_served", n=len(rows))
    gzip = h.accepts_gzip()
    chunks = csv_page(job.plan, rows, DELIMITERS[job.column_delimiter], LINE_ENDINGS[job.line_ending], gzip=gzip)
    h.stream(chunks, headers, reset_after=0 if reset else None, gzipped=gzip)
