"""Progress lines: counts, percentage, rate and ETA."""

import logging

from sf_assets.extract.progress import Progress, eta_text


def test_eta_text():
    assert [eta_text(s) for s in (0, 42, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]


def test_progress_lines(caplog):
    caplog.set_level(logging.INFO, logger="sf_assets")
    progress = Progress(4, expected_rows=400, started=0.0)
    first = progress.step(100)
    assert first.startswith("1 of 4 chunks (25%), 100 rows of ~400, ")
    assert "rows/s, ETA " in first
    progress.step(0)  # a failed chunk counts as done, with no rows
    assert progress.step(150).startswith("3 of 4 chunks (75%), 250 rows of ~400")
    assert all(getattr(r, "progress", False) for r in caplog.records)


def test_chunk_keys_are_stable_positions_and_change_only_as_asked():
    from sf_assets.defs.partitions import key_changes
    from sf_assets.extract.chunk_planner import chunk_id

    assert [chunk_id(i) for i in (1, 7, 123)] == ["c0001", "c0007", "c0123"]
    assert key_changes([], 2) == (["c0001", "c0002"], [])
    assert key_changes(["c0001", "c0002", "c0003"], 2) == ([], ["c0003"])  # shrink: only the surplus key goes
    assert key_changes(["c0001"], 3) == (["c0002", "c0003"], [])
