"""Daily limits end a refresh at once, against the emulator over HTTPS: no retry after the first refusal, every
output left as it was, one line saying which limit and what the next `sf-assets run` does, and the next day's
run resumes without re-extracting finished chunks (its sessions expiring in the middle: REST and Bulk calls log
in again). An expired bare access token ends `sf-assets run` with one line. (Concurrency limits are retried:
extract/test_faults.py.)"""
from __future__ import annotations

import json
import re

import dagster as dg
import pyarrow.parquet as pq
import pytest

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.emulator import FaultPlan
from sf_assets.extract.chunk_planner import plan_chunks
from sf_assets.extract.object_extract import extract_object
from sf_assets.extract.refresh import current_or_new_refresh
from sf_assets.pipeline.plan import extract_context
from sf_assets.pipeline.refresh_stop import RefreshStopped
from sf_assets.salesforce.errors import DailyLimitExceeded
from sf_assets.storage.refresh_facts import get_fact
from sf_assets.storage.state_db import open_state_db, state_session
from sf_assets_tests.cli.test_run import start as start_cli
from sf_assets_tests.extract.helpers import connect
from sf_assets_tests.pipeline_helpers import make_config, write_config
from sf_assets_tests.test_end_to_end import JOIN, OBJECTS, expected_join

NEXT_RUN = re.compile(r"`sf-assets run` resumes refresh (\S+) until \d{4}-\d\d-\d\d \d\d:\d\d UTC "
                      r"\(extraction\.resume_window_hours after its start\), later it starts a new refresh\.$")


def _chunks(config, refresh_id):
    with state_session(config.paths.state_db) as conn:
        return {(obj, chunk): (status, checksum) for obj, chunk, status, checksum in conn.execute(
            "SELECT object, chunk_id, status, checksum FROM chunks WHERE refresh_id = ?", (refresh_id,))}


def test_daily_api_limit_mid_refresh_stops_at_once_and_the_next_day_resumes(make_org, tmp_path):
    org = make_org()
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=[{"name": "opportunities", "sql": JOIN}],
                        extraction={"chunk_size": 500}, paths={"share_dir": None})
    config = load_config(path)
    output = tmp_path / "output" / "opportunities"
    with dg.instance_for_test() as instance:
        assert execute_refresh(config, instance).ok
        before = {p: p.read_bytes() for p in output.rglob("*") if p.is_file()}

        # a refresh makes about 40 API requests; after 28 the org's day is used up, amid Opportunity's chunks
        org.reset_counters()
        org.set_faults(FaultPlan.parse("daily_limit_after:28"))
        stopped = execute_refresh(config, instance, new_refresh=True)

        counters = org.counters()
        # every request after the day ran out is refused: at most one per worker in flight, none retried
        assert 1 <= counters["errors"]["daily_limit"] <= config.extraction.max_concurrent_jobs
        assert not stopped.ok and stopped.stop is not None
        assert stopped.failures == [f"extraction of Opportunity: {stopped.stop}"]
        assert stopped.stop.startswith("Salesforce's daily API request limit (TotalRequests) is reached "
                                       "(REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.); "
                                       "Salesforce resets it within 24 hours. ")
        assert NEXT_RUN.search(stopped.stop).group(1) == stopped.refresh_id
        assert {p: p.read_bytes() for p in output.rglob("*") if p.is_file()} == before  # outputs as they were
        health = json.loads(stopped.health_path.read_text(encoding="utf-8"))
        assert health["status"] == "failed" and health["limit_stop"]["limit"] == "DailyApiRequests"
        assert health["limit_stop"]["next_run"] == "resume" and health["limit_stop"]["line"] == stopped.stop
        chunks = _chunks(config, stopped.refresh_id)
        done = {key: checksum for key, (status, checksum) in chunks.items() if status == "success"}
        left = [key for key, (status, _) in chunks.items() if status != "success"]
        assert ("Account", "c0001") in done and left and all(obj == "Opportunity" for obj, _ in left)

        org.new_day()  # usage back to zero; sessions now expire after 4 requests: REST calls log in again too
        org.set_faults(FaultPlan.parse("expire_session_after:4"))
        org.reset_counters()
        resumed = execute_refresh(config, instance)

    assert resumed.ok, resumed.failures
    assert resumed.refresh_id == stopped.refresh_id
    counters = org.counters()
    assert counters["errors"]["session_refused_rest"] > 0 and counters["errors"]["session_refused_bulk"] > 0
    jobs = counters["jobs_created"]
    assert "Account" not in jobs and jobs.get("Opportunity", 0) <= len(left)  # finished chunks are not extracted again
    assert {key: checksum for key, (_, checksum) in _chunks(config, resumed.refresh_id).items() if key in done} == done
    table = pq.read_table(output / "opportunities.parquet").sort_by("Id")
    expected = expected_join(org)
    for column in ("Id", "AccountId", "Amount", "LastModifiedDate", "AccountName"):
        assert table.column(column).to_pylist() == expected.column(column).to_pylist(), column


def test_bulk_job_cap_aborts_the_open_job_and_stops_without_retry(make_org, plans, tmp_path):
    org = make_org()
    config = make_config(org, tmp_path, extraction={"chunk_size": 500})
    connection = connect(org, tmp_path)
    conn = open_state_db(config.paths.state_db)
    refresh = current_or_new_refresh(conn, config.extraction.resume_window_hours)
    plan = plans["Opportunity"]
    try:
        with pytest.raises(RefreshStopped) as info:
            with extract_context(config, connection, conn, refresh.refresh_id) as ctx:
                plan_chunks(ctx.client, ctx.tracker, plan, refresh.refresh_id, chunk_size=500)
                org.reset_counters()
                org.set_faults(FaultPlan.parse("bulk_job_cap_after:1,slow_jobs:50"))  # job 1 runs; job 2 is refused
                extract_object(ctx, plan)
    finally:
        connection.close()

    counters = org.counters()
    assert counters["errors"]["bulk_job_cap"] == 1 and counters["jobs_created"] == {"Opportunity": 1}
    assert counters["aborts"] == 1  # the open job, aborted at once (its daily job cap does not refuse aborts)
    assert isinstance(info.value.__cause__, DailyLimitExceeded)
    line = str(info.value)
    assert line.startswith("Salesforce's daily Bulk API 2.0 query job limit is reached (LIMIT_EXCEEDED: Max bulk v2 "
                           "query jobs (10000) per 24 hrs has been reached (10001)); "
                           "Salesforce resets it within 24 hours.")
    assert NEXT_RUN.search(line).group(1) == refresh.refresh_id
    stop = get_fact(conn, refresh.refresh_id, "health:limit_stop")
    assert stop["limit"] == "DailyBulkV2QueryJobs" and stop["line"] == line
    assert not any(status == "success" for status, _ in _chunks(config, refresh.refresh_id).values())


def test_an_expired_bare_access_token_ends_sf_assets_run_with_one_line(make_org, tmp_path, monkeypatch):
    org = make_org(faults=FaultPlan.parse("expire_session_after:30"))  # the token dies in the middle of the refresh
    auth = {"kind": "access_token", "instance_url": org.instance_url, "access_token_env": "SF_ACCESS_TOKEN"}
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=[{"name": "opportunities", "sql": JOIN}],
                        extraction={"chunk_size": 500}, paths={"share_dir": None},
                        salesforce={"auth": auth, "ca_bundle": str(org.ca_path)})
    monkeypatch.setenv("SF_ACCESS_TOKEN", org.access_token)
    proc = start_cli(path, tmp_path)
    out, err = proc.communicate(timeout=300)

    assert proc.returncode == 2, err[-3000:]  # a credential to fix first: running again cannot help
    failures = [line for line in err.splitlines() if line.strip().startswith("Failure:")]
    assert len(failures) == 1 and "the access token expired: set a new one, then `sf-assets run` resumes" in failures[0]
    assert "Traceback" not in out + err and org.access_token not in out + err
    assert org.counters()["logins"] == 0 and org.counters()["errors"]["expire_session_after"] == 1
