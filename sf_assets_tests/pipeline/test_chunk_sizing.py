"""`extraction.chunk_size: auto`: a chunk is as big as the work one Bulk job of the object did in 5 minutes on its
last successful refresh (2.5 M rows before any), so most objects are one job with no planning job."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_planner import ranges_from_boundaries
from sf_assets.extract.refresh import current_or_new_refresh, finish_refresh
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.pipeline.chunk_sizing import AUTO_MAX_ROWS, AUTO_MIN_ROWS, AUTO_UNMEASURED_ROWS, chunk_rows
from sf_assets.storage.state_db import state_session
from sf_assets_tests.pipeline_helpers import make_config


def _refresh(conn, status: str, chunks: list[tuple[int, float]]) -> str:
    """A refresh of Opportunity whose chunks extracted `rows` each in `seconds` (their times set in the state DB:
    a real job of minutes cannot run in a test)."""
    refresh = current_or_new_refresh(conn, 0, force_new=True)
    tracker = ChunkTracker(conn)
    tracker.add_plan(refresh.refresh_id, "Opportunity", ranges_from_boundaries([f"006{i:015d}" for i in
                                                                               range(1, len(chunks))]))
    start = datetime.now(UTC) - timedelta(hours=1)
    for state, (rows, seconds) in zip(tracker.chunks(refresh.refresh_id, "Opportunity"), chunks):
        tracker.mark_success(state.key, "f.parquet", rows, rows * 100, "x", None, rows)
        conn.execute("UPDATE chunks SET started_at = ?, ended_at = ? WHERE refresh_id = ? AND chunk_id = ?",
                     (start.isoformat(), (start + timedelta(seconds=seconds)).isoformat(), refresh.refresh_id,
                      state.key.chunk_id))
    conn.commit()
    finish_refresh(conn, refresh.refresh_id, status)
    return refresh.refresh_id


def test_auto_follows_the_speed_of_the_last_successful_refresh(org, tmp_path):
    config: PipelineConfig = make_config(org, tmp_path, extraction={"chunk_size": "auto"})
    opportunity = ObjectConfig(name="Opportunity", soql="SELECT Id FROM Opportunity")
    with state_session(config.paths.state_db) as conn:
        def planned(obj: ObjectConfig = opportunity, cfg: PipelineConfig = config) -> int:  # in a new refresh
            return chunk_rows(conn, cfg, obj, current_or_new_refresh(conn, 0, force_new=True).refresh_id)

        assert planned() == AUTO_UNMEASURED_ROWS  # nothing measured yet
        _refresh(conn, "success", [(600_000, 100.0), (600_000, 140.0)])  # 5,000 rows/s per job
        assert planned() == 1_500_000  # 5 minutes of one job
        _refresh(conn, "failed", [(10, 100.0)])  # a failed refresh measures nothing
        assert planned() == 1_500_000
        _refresh(conn, "success", [(100_000, 200.0)])  # a far slower service: still at least AUTO_MIN_ROWS
        assert planned() == AUTO_MIN_ROWS
        _refresh(conn, "success", [(5_000_000, 10.0)])  # a fast one: at most AUTO_MAX_ROWS
        assert planned() == AUTO_MAX_ROWS
        assert planned(opportunity.model_copy(update={"chunk_size": 700})) == 700  # the user's cap
        fixed = config.model_copy(update={"extraction": config.extraction.model_copy(update={"chunk_size": 900})})
        assert planned(cfg=fixed) == 900
