"""The API-usage governor: states from Sforce-Limit-Info, job slots, throttling, halt and cancel."""
from __future__ import annotations

import threading
import time

import pytest

from sf_assets.config.models import ApiUsageConfig
from sf_assets.salesforce.governor import ApiBudgetExceeded, ApiGovernor, ExtractionCancelled

POLICY = ApiUsageConfig(warn_pct=80, halt_pct=90)


def test_states_follow_the_header_and_halt_is_sticky():
    governor = ApiGovernor(POLICY, max_concurrent_jobs=2)
    assert governor.state == "normal" and governor.usage is None
    governor.observe_header(None)
    governor.observe_header("garbage")
    governor.observe_header("api-usage=100/1000")
    assert governor.state == "normal" and governor.job_limit() == 2 and governor.poll_delay(2.0) == 2.0
    governor.observe_header("api-usage=850/1000; api-bursts=3/100")
    assert governor.state == "throttled" and governor.job_limit() == 1 and governor.poll_delay(2.0) > 2.0
    governor.check()
    governor.observe_header("api-usage=900/1000")
    assert governor.state == "halted"
    governor.observe_header("api-usage=10/1000")
    assert governor.state == "halted" and governor.usage.used == 10
    with pytest.raises(ApiBudgetExceeded, match=r"900 of 1,000 API calls used \(90.0 %\).*halt threshold of 90 %"):
        governor.check()


def test_preflight_throttle_holds_below_warn():
    governor = ApiGovernor(POLICY, max_concurrent_jobs=2, throttled=True)
    governor.observe_header("api-usage=1/1000")
    assert governor.state == "throttled" and governor.job_limit() == 1


def _peak_concurrency(governor: ApiGovernor, threads: int = 6) -> int:
    active, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with governor.job_slot():
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.05)
            with lock:
                active -= 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return peak


def test_job_slots_bound_concurrency():
    assert _peak_concurrency(ApiGovernor(POLICY, max_concurrent_jobs=2)) == 2
    assert _peak_concurrency(ApiGovernor(POLICY, max_concurrent_jobs=2, throttled=True)) == 1


def test_halt_refuses_new_slots():
    governor = ApiGovernor(POLICY)
    governor.observe_header("api-usage=95/100")
    with pytest.raises(ApiBudgetExceeded):
        with governor.job_slot():
            pass


def test_cancel_cuts_pauses_short():
    governor = ApiGovernor(POLICY)
    threading.Timer(0.1, governor.cancel, args=("stop now",)).start()
    started = time.monotonic()
    with pytest.raises(ExtractionCancelled, match="stop now"):
        governor.pause(30)
    assert time.monotonic() - started < 5
    with pytest.raises(ExtractionCancelled):
        governor.check()
