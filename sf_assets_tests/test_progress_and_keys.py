"""Progress lines: counts, percentage, rate and ETA."""

import logging

from sf_assets.progress import Progress, eta_text


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


def test_partition_keys_round_trip_and_show_the_chunk_first():
    from sf_assets.extraction import partition_key, split_partition_key

    key = partition_key("20261122T020000Z-3f9a", "c0007")
    assert key == "c0007_20261122T020000Z-3f9a" and "," not in key
    assert split_partition_key(key) == ("20261122T020000Z-3f9a", "c0007")
