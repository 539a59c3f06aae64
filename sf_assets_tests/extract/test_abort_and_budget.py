"""Stopping cleanly: an interrupt while polling, and the API budget reaching its halt threshold mid-extraction."""
from __future__ import annotations

import time

import pytest

from sf_assets.emulator import FaultPlan
from sf_assets.extract.chunk_extract import extract_chunk
from sf_assets.extract.chunk_planner import plan_chunks
from sf_assets_tests.extract.helpers import extract_all, make_context


def test_interrupt_while_polling_aborts_the_job(org, connection, plans, tmp_path):
    ctx = make_context(connection, tmp_path)
    plan_chunks(ctx.client, ctx.tracker, plans["Account"], "R1", chunk_size=10**6, estimate=1)
    org.set_faults(FaultPlan.parse("slow_jobs:5"))
    polls = []

    def interrupted_sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            raise KeyboardInterrupt

    ctx.client.sleep = interrupted_sleep
    with pytest.raises(KeyboardInterrupt):
        extract_chunk(ctx, plans["Account"], "c0001")

    state = ctx.tracker.chunks("R1", "Account")[0]
    assert org.jobs.get(state.job_id).state == "Aborted"
    assert org.counters()["aborts"] == 1
    assert state.status == "failed" and state.error == "interrupted"


def test_budget_halt_stops_cleanly(org, connection, plans, tmp_path):
    plan = plans["Opportunity"]
    ctx = make_context(connection, tmp_path)
    plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=600)
    scan_jobs = org.counters()["jobs_created"]["Opportunity"]
    org.set_faults(FaultPlan.parse("slow_jobs:5"))

    def sleep_then_exhaust_budget(seconds: float) -> None:
        org.set_api_used_pct(95)  # the next response carries api-usage=95,000+/100,000
        time.sleep(seconds)

    ctx.client.sleep = sleep_then_exhaust_budget
    outcome = extract_all(ctx, plan, chunk_size=600)

    assert outcome.results == {} and len(outcome.failures) == 5
    assert all(cause.startswith("API usage ") and "halt threshold of 90 % (1 attempt)" in cause
               for cause in outcome.failures.values()), outcome.failures
    states = ctx.tracker.chunks("R1", "Opportunity")
    assert all(s.status == "failed" and "halt threshold" in s.error for s in states)
    started = [s.job_id for s in states if s.job_id]
    assert started and all(org.jobs.get(job_id).state == "Aborted" for job_id in started)
    counters = org.counters()
    assert counters["aborts"] == len(started) == counters["jobs_created"]["Opportunity"] - scan_jobs
    assert ctx.client.governor.state == "halted"


def test_throttled_extraction_still_completes(org, connection, plans, tmp_path):
    org.set_api_used_pct(85)
    ctx = make_context(connection, tmp_path)
    outcome = extract_all(ctx, plans["Account"], chunk_size=100)
    assert outcome.failures == {} and len(outcome.results) == 3
    assert ctx.client.governor.state == "throttled" and ctx.client.governor.job_limit() == 1
