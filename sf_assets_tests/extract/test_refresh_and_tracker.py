"""Refresh ids and resume windows; the job tracker's chunk rows; chunk files; the resume rule."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from sf_assets.extract.chunk_extract import extract_chunk
from sf_assets.extract.chunk_planner import plan_chunks
from sf_assets.extract.page_writer import ChunkValidationError, ShortPageError, write_page
from sf_assets.extract.refresh import current_or_new_refresh, finish_refresh, new_refresh_id
from sf_assets.extract.tracker import ChunkKey, ChunkRange, ChunkTracker
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.extract.helpers import make_context

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_refresh_id_is_a_safe_sortable_key():
    refresh_id = new_refresh_id(T0)
    assert re.fullmatch(r"20261122T020000Z-[0-9a-f]{4}", refresh_id)
    assert len({new_refresh_id(T0) for _ in range(20)}) > 1  # the random suffix tells same-second refreshes apart


def test_unfinished_refresh_is_resumed_within_the_window(tmp_path, caplog):
    conn = open_state_db(tmp_path / "state.db")
    first = current_or_new_refresh(conn, window_hours=20, now=T0)
    assert not first.resumed and first.refresh_id.startswith("20261122T020000Z-")
    again = current_or_new_refresh(conn, window_hours=20, now=T0 + timedelta(hours=19))
    assert again.resumed and again.refresh_id == first.refresh_id

    finish_refresh(conn, first.refresh_id, "failed", {"failed_chunks": 1})
    retried = current_or_new_refresh(conn, window_hours=20, now=T0 + timedelta(hours=19, minutes=30))
    assert retried.resumed and retried.refresh_id == first.refresh_id  # failed chunks are retried

    late = current_or_new_refresh(conn, window_hours=20, now=T0 + timedelta(hours=21))
    assert not late.resumed and late.refresh_id != first.refresh_id
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [  # one line saying why
        f"Refresh {first.refresh_id} (started 2026-11-22T02:00:00+00:00) is not resumed: older than "
        "extraction.resume_window_hours (20 h); starting a new one"]
    statuses = dict(conn.execute("SELECT refresh_id, status FROM refreshes"))
    assert statuses == {first.refresh_id: "superseded", late.refresh_id: "running"}

    forced = current_or_new_refresh(conn, window_hours=20, force_new=True, now=T0 + timedelta(hours=22))
    assert not forced.resumed
    finish_refresh(conn, forced.refresh_id, "success", {"rows": 5})
    row = conn.execute("SELECT status, finished_at, info_json FROM refreshes WHERE refresh_id = ?",
                       (forced.refresh_id,)).fetchone()
    assert row[0] == "success" and row[1] and json.loads(row[2]) == {"rows": 5}
    assert current_or_new_refresh(conn, 20, now=T0 + timedelta(hours=23)).resumed is False
    with pytest.raises(KeyError):
        finish_refresh(conn, "nope", "success")


def test_tracker_records_pages_and_outcomes(tmp_path):
    tracker = ChunkTracker(open_state_db(tmp_path / "state.db"))
    tracker.add_plan("R1", "Account", [ChunkRange("c0001", None, "001B"), ChunkRange("c0002", "001B", None)])
    key = ChunkKey("R1", "Account", "c0001")
    tracker.start_attempt(key, first=True)
    tracker.set_job(key, "750A", "62.0")
    tracker.page_done(key, 1, None, 100, "LOC2")
    tracker.page_done(key, 2, "LOC2", 50, None)
    state = tracker.get(key)
    assert (state.status, state.attempts, state.job_id, state.pages_done, state.next_locator) == (
        "running", 1, "750A", 2, None)
    assert tracker.page_records(key) == 150
    tracker.set_job(key, None, None)
    assert tracker.page_records(key) == 0 and tracker.get(key).pages_done == 0
    tracker.mark_failed(key, "x" * 5000)
    assert tracker.get(key).status == "failed" and len(tracker.get(key).error) == 2000
    tracker.mark_success(key, "/f.parquet", 150, 999, "abc", None)
    assert tracker.get(key).status == "success" and tracker.get(key).error is None
    with pytest.raises(KeyError):
        tracker.get(ChunkKey("R1", "Account", "c0009"))


def test_short_page_or_wrong_header_leaves_no_part(plans, tmp_path):
    plan = plans["Account"]
    header = ",".join(f'"{n}"' for n in plan.column_names).encode() + b"\n"
    dest = tmp_path / "page-00001.parquet"

    class Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, size: int = -1) -> bytes:
            out, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
            return out

    assert write_page(Body(header), plan, dest, 0) == 0 and pq.read_table(dest).num_rows == 0
    dest.unlink()
    with pytest.raises(ShortPageError):
        write_page(Body(header), plan, dest, 3)
    with pytest.raises(ChunkValidationError, match="differs from the planned columns"):
        write_page(Body(b'"Id","Name"\n'), plan, dest, 0)
    assert list(tmp_path.iterdir()) == []


def test_resume_rule_keeps_matching_files_and_redoes_the_rest(org, connection, plans, tmp_path):
    plan = plans["Account"]
    ctx = make_context(connection, tmp_path)
    plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=100)
    first = {c: extract_chunk(ctx, plan, c) for c in ("c0001", "c0002", "c0003")}
    jobs = org.counters()["jobs_created"]["Account"]

    again = extract_chunk(ctx, plan, "c0001")
    assert again.skipped and again.rows == first["c0001"].rows and again.attempts == 0
    first["c0002"].file_path.write_bytes(b"tampered")
    first["c0003"].file_path.unlink()
    redone = [extract_chunk(ctx, plan, c) for c in ("c0002", "c0003")]

    assert [r.skipped for r in redone] == [False, False]
    assert [r.rows for r in redone] == [first["c0002"].rows, first["c0003"].rows]
    assert org.counters()["jobs_created"]["Account"] == jobs + 2
    assert all(s.attempts == (1 if s.key.chunk_id == "c0001" else 2) for s in ctx.tracker.chunks("R1", "Account"))
