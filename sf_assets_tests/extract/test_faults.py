"""Injected faults (503, a concurrency limit, resets mid-body, short pages, a failing job): output stays exact."""
from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from sf_assets.config.models import ExtractionConfig, RetryConfig
from sf_assets.emulator import FaultPlan
from sf_assets.extract.chunk_extract import extract_chunk
from sf_assets.extract.chunk_planner import plan_chunks
from sf_assets.salesforce.bulk2 import BulkPermanentError
from sf_assets.schema.field_plan import PlannedColumn
from sf_assets_tests.extract.helpers import (
    FAST_EXTRACTION,
    QUERY_ALL,
    expected_table,
    extract_all,
    make_context,
    read_chunks,
)

RETRY = RetryConfig(attempts=8, backoff_base_s=0.01, backoff_max_s=0.02, jitter_s=0.01)  # ~25 % of requests fail:
# tries per step of a chunk (before one sequence per chunk, 5 nested in 5 gave a page up to 25)
FAULTS = "503:0.05,concurrent:0.03,reset:0.08,short_page:0.1,job_fail_once:Account"
RETRY_LINE = re.compile(  # groups: object, chunk and step; attempt; cause
    r"^Retrying Bulk API extraction of (\w+ chunk c\d{4}(?: \((?:page \d+|job status)\))?)\. Attempt ([2-8]) of 8 "
    r"\((.+)\)$"
)


def test_faults_are_retried_and_output_is_exact(make_org, connect_to, plans, tmp_path, caplog):
    org = make_org()
    connection = connect_to(org)
    connection.client()
    org.set_faults(FaultPlan.parse(FAULTS))
    ctx = make_context(connection, tmp_path, retry=RETRY,
                       extraction=FAST_EXTRACTION.model_copy(update={"max_records_per_page": 50}))
    caplog.set_level(logging.WARNING, logger="sf_assets")

    for name in ("Account", "Opportunity", "Widget__c"):
        outcome = extract_all(ctx, plans[name], chunk_size=1000)
        assert outcome.failures == {}
        assert read_chunks(ctx, plans[name]).equals(expected_table(org, plans[name], name in QUERY_ALL))

    counters = org.counters()
    assert {"503", "concurrent", "reset", "short_page", "job_fail_once"} <= set(counters["errors"])
    assert counters["jobs_created"]["Account"] == 2 + 1  # the first Id scan job failed, a second one, 1 chunk
    retries = [m.groups() for m in map(RETRY_LINE.match, caplog.messages) if m]
    causes = [cause for _, _, cause in retries]
    assert any(c.startswith("HTTP 503") for c in causes) and any(c == "HTTP 403 REQUEST_LIMIT_EXCEEDED" for c in causes)
    assert "connection reset by Salesforce while downloading results" in causes
    assert any(c.startswith("page has ") and c.endswith(" but Sforce-NumberOfRecords says 50") for c in causes)
    last: dict[str, int] = {}  # one "Attempt n of N" sequence per chunk and step: never counts back
    for step, attempt, _ in retries:
        assert int(attempt) == last.get(step, 1) + 1, (step, attempt)
        last[step] = int(attempt)


def test_failed_job_is_replaced_by_a_new_one(make_org, connect_to, plans, tmp_path):
    org = make_org()
    ctx = make_context(connect_to(org), tmp_path)
    plan_chunks(ctx.client, ctx.tracker, plans["Account"], "R1", chunk_size=10**6, estimate=1)
    org.set_faults(FaultPlan.parse("job_fail_once:Account"))

    result = extract_chunk(ctx, plans["Account"], "c0001")

    assert result.attempts == 2 and org.counters()["jobs_created"]["Account"] == 2
    assert ctx.tracker.get(ctx.tracker.chunks("R1", "Account")[0].key).attempts == 2
    assert read_chunks(ctx, plans["Account"]).equals(expected_table(org, plans["Account"], False))


def test_permanent_error_fails_at_once_with_its_cause(org, connection, plans, tmp_path):
    bogus = PlannedColumn(name="Bogus__c", sf_type="string", kind="string", nullable=True)
    plan = dataclasses.replace(plans["Account"], columns=(*plans["Account"].columns, bogus))
    ctx = make_context(connection, tmp_path)
    plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=10**6, estimate=1)

    with pytest.raises(BulkPermanentError, match="INVALID_FIELD"):
        extract_chunk(ctx, plan, "c0001")

    state = ctx.tracker.chunks("R1", "Account")[0]
    assert state.status == "failed" and state.attempts == 1 and "No such column 'Bogus__c'" in state.error
    assert org.counters()["jobs_created"] == {}


def test_retries_give_up_after_the_configured_attempts(make_org, connect_to, plans, tmp_path):
    org = make_org()
    ctx = make_context(connect_to(org), tmp_path, retry=RetryConfig(attempts=2, backoff_base_s=0, jitter_s=0),
                       extraction=ExtractionConfig(poll_initial_s=0.01, poll_max_s=0.01))
    ctx.client.connection.client()
    plan_chunks(ctx.client, ctx.tracker, plans["Account"], "R1", chunk_size=10**6, estimate=1)
    org.set_faults(FaultPlan.parse("503:1"))

    outcome = extract_all(ctx, plans["Account"], chunk_size=10**6)

    assert list(outcome.failures) == ["c0001"] and "HTTP 503" in outcome.failures["c0001"]
    assert ctx.tracker.chunks("R1", "Account")[0].status == "failed"
    assert org.counters()["errors"]["503"] == 2  # 2 attempts in all: nested retries share the chunk's sequence
