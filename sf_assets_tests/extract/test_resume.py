"""A refresh killed mid-chunk resumes: finished chunks are kept, the cut chunks continue from their locators
(API 57.0: pages one after another by locator; the parallel `resultPages` path: test_parallel_pages.py).

The kill is `Popen.kill()`: SIGKILL on POSIX, TerminateProcess on Windows; no clean-up runs in the child.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sf_assets.extract.tracker import ChunkTracker
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.extract.helpers import expected_table, make_context, read_chunks

ROOT = Path(__file__).resolve().parents[2]
CHUNK_SIZE, PAGE_RECORDS = 500, 50


def _child(state_file: Path, folder: Path, page_delay: float = 0.0, api_version: str = "57.0") -> subprocess.Popen:
    command = [sys.executable, "-m", "sf_assets_tests.extract.extract_child", "--state-file", str(state_file),
               "--dir", str(folder), "--objects", "Opportunity", "--chunk-size", str(CHUNK_SIZE),
               "--page-records", str(PAGE_RECORDS), "--page-delay", str(page_delay), "--api-version", api_version]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_mid_chunk(tracker: ChunkTracker, child: subprocess.Popen, timeout_s: float = 60) -> str:
    """The child's refresh id, once two chunks are done and a third has at least 3 pages."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        row = tracker.conn.execute("SELECT refresh_id FROM refreshes").fetchone()
        states = tracker.chunks(row[0], "Opportunity") if row else []
        if sum(s.status == "success" for s in states) >= 2 and any(
                s.status == "running" and s.pages_done >= 3 for s in states):
            return row[0]
        time.sleep(0.005)
    raise AssertionError("the child never reached the middle of its third chunk")


def test_killed_mid_refresh_then_resume(org, connection, plans, tmp_path):
    state_file = org.write_state_file(tmp_path / "org.json")
    tracker = ChunkTracker(open_state_db(tmp_path / "state.db"))
    child = _child(state_file, tmp_path, page_delay=0.05)
    refresh_id = _wait_for_mid_chunk(tracker, child)
    child.kill()
    child.wait()

    at_kill = {s.key.chunk_id: s for s in tracker.chunks(refresh_id, "Opportunity")}
    first = org.counters()
    finished = {c for c, s in at_kill.items() if s.status == "success"}
    # the chunks cut: one job's slot plus one downloading thread (`object_extract`), so two at most, one of them
    # mid-download; the other downloading too, or its job being processed, or waiting for the slot with no job yet
    started = [s for s in at_kill.values() if s.status == "running"]
    assert 1 <= len(started) <= 2 and any(s.pages_done >= 3 for s in started)
    mtimes = {c: Path(at_kill[c].file_path).stat().st_mtime_ns for c in finished}
    # every page the first run fetched is recorded, except at most the one in flight
    recorded = sum(s.pages_done for s in at_kill.values()) + 1  # + the planner's Id page
    assert first["pages"] - recorded in (0, 1)

    second = _child(state_file, tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    refresh, *reports = map(json.loads, out.splitlines())
    assert refresh == {"refresh": refresh_id, "resumed": True}
    assert {r["chunk"] for r in reports if r["skipped"]} == finished

    final = {s.key.chunk_id: s for s in tracker.chunks(refresh_id, "Opportunity")}
    assert all(s.status == "success" for s in final.values())
    # every cut chunk with a job resumed it (from its saved locator): no new job for it
    assert all(final[s.key.chunk_id].job_id == s.job_id for s in started if s.job_id)
    assert all(Path(final[c].file_path).stat().st_mtime_ns == mtimes[c] for c in finished)
    counters = org.counters()
    without_job = [c for c, s in at_kill.items() if s.status == "queued" or (s in started and not s.job_id)]
    assert counters["jobs_created"]["Opportunity"] - first["jobs_created"]["Opportunity"] == len(without_job)
    assert counters["pages"] - first["pages"] == sum(final[c].pages_done - at_kill[c].pages_done
                                                     for c in final if c not in finished)
    assert tracker.conn.execute("SELECT status FROM refreshes").fetchall() == [("success",)]
    ctx = make_context(connection, tmp_path, refresh_id)
    assert read_chunks(ctx, plans["Opportunity"]).equals(expected_table(org, plans["Opportunity"], False))
