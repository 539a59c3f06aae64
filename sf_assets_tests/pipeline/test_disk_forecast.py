"""Preflight's disk forecast against a real refresh on the emulator (measured, not assumed), and what preflight does
with it: refuse with the numbers, sum per drive, warn about the share, record it in the health JSON.

A full disk or a second drive cannot be made here: where a test needs one, it wraps `shutil.disk_usage` (the only
part simulated) and says so.
"""
from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

import pytest

from sf_assets.cli import main
from sf_assets.config import load_config
from sf_assets.pipeline.disk_forecast import DiskForecast, area_bytes, area_paths, drive_of
from sf_assets.pipeline.emulator import open_connection
from sf_assets.pipeline.health import write_refresh_health
from sf_assets.pipeline.prepare import PreflightError, check_disk, run_preflight
from sf_assets.publish.units import human_bytes
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.pipeline_helpers import make_config, write_config

REPO = Path(__file__).resolve().parents[2]
ROWS = {"Account": 2_000, "Contact": 10, "Opportunity": 60_000, "Widget__c": 10}
TOLERANCE = 0.25


class PeakSampler(threading.Thread):
    """The largest bytes the forecast's areas held together while a refresh ran (sampled every 2 ms: the peak, when
    staging's checkpoint has copied an object's WAL into the DB, lasts about 10 ms at ROWS)."""

    def __init__(self, areas: dict[str, list[Path]]) -> None:
        super().__init__(daemon=True)
        self.areas, self.peak, self.done = areas, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.002):
            self.peak = max(self.peak, sum(area_bytes(self.areas).values()))

    def __enter__(self) -> PeakSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))


def _health(tmp_path: Path) -> dict:
    newest = max((tmp_path / "output").glob("health_check_*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text(encoding="utf-8"))


def test_forecast_of_real_refreshes_is_within_a_quarter_of_their_measured_peak(make_org, tmp_path, monkeypatch):
    org = make_org(rows=ROWS)
    _home(tmp_path, monkeypatch)
    path = write_config(org, tmp_path, extraction={"chunk_size": 100_000}, paths={"create_share_dir": True})
    areas = area_paths(load_config(path))
    for basis in ("column types", "previous refresh"):  # a first refresh, then one with measured sizes
        with PeakSampler(areas) as sampler:
            assert main(["run", "--config", str(path), "--new-refresh"]) == 0
        forecast = _health(tmp_path)["disk_forecast"]  # in the health JSON, beside disk_free_start
        assert set(forecast["basis"].values()) == {basis}
        predicted = forecast["peak_bytes"]["total"]
        assert abs(predicted / sampler.peak - 1) <= TOLERANCE, (basis, predicted, sampler.peak, forecast)
        assert forecast["share_bytes"] > 0
        assert list(forecast["drives"]) == [drive_of(tmp_path)]  # one drive here: its three areas summed
        assert set(forecast["drives"][drive_of(tmp_path)]["needed_bytes"]) == {"work", "staging", "output"}


def test_run_refuses_with_the_numbers_when_the_forecast_exceeds_free_space(org, tmp_path, monkeypatch, capsys):
    _home(tmp_path, monkeypatch)
    real = shutil.disk_usage
    # Simulated: every drive has 1 kB free (a full disk cannot be made here).
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1_000))
    path = write_config(org, tmp_path, preflight={"min_free_disk_gb": 0})  # refused for the forecast alone
    assert main(["run", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    (line,) = [e.removeprefix("  Failure: ") for e in err.splitlines() if e.startswith("  Failure: ")]
    size = r"([\d.]+) (?:B|KB|MB)"
    found = re.fullmatch(rf"preflight: Not enough disk space: this refresh needs about {size} on (.+?) \(work {size}, "
                         rf"staging {size}, output {size}\) plus the 0 GB minimum; 1.0 KB free: free space there .*",
                         line)
    assert found and found[2] == drive_of(tmp_path), line
    assert float(found[1]) > 0 and float(found[4]) > 0  # staging: the loading files and the staged tables
    assert not org.counters()["jobs_created"]
    health = _health(tmp_path)
    assert health["status"] == "failed" and health["disk_forecast"]["peak_bytes"]["total"] > 0


def _forecast(work: int, staging: int, output: int) -> DiskForecast:
    return DiskForecast(present={"work": 0, "staging": 0, "output": 0}, share=0,
                        moments={"staging swap": {"work": work, "staging": staging, "output": 0},
                                 "promotion": {"work": work // 2, "staging": staging // 2, "output": output // 2}})


def test_areas_on_one_drive_are_summed_and_each_drive_checked():
    forecast = _forecast(work=4_000_000_000, staging=9_000_000_000, output=2_000_000_000)
    # work and output on D:, staging on E: (drives and free space given: no second drive can be made here)
    needs = {"D:\\": forecast.growth(["work", "output"]), "E:\\": forecast.growth(["staging"])}
    assert needs == {"D:\\": {"work": 4_000_000_000, "output": 0}, "E:\\": {"staging": 9_000_000_000}}
    free = {"D:\\": 5_000_000_000, "E:\\": 30_000_000_000}  # 35 GB free in all, but D: lacks the 2 GB minimum
    with pytest.raises(PreflightError) as refused:
        check_disk(needs, free, min_free_gb=2)
    assert str(refused.value) == ("Not enough disk space: this refresh needs about 4.0 GB on D:\\ (work 4.0 GB, "
                                  "output 0 B) plus the 2 GB minimum; 5.0 GB free")
    check_disk(needs, free, min_free_gb=1)  # just enough on each
    # one drive for all three: their common largest moment, not each area's own peak
    assert sum(forecast.growth(["work", "staging", "output"]).values()) == 13_000_000_000


def test_share_without_room_is_a_warning_in_the_health_json(org, tmp_path, monkeypatch):
    config = make_config(org, tmp_path, paths={"create_share_dir": True})
    share = config.paths.share_dir
    real = shutil.disk_usage
    # Simulated: the share has 1 kB free (a full share cannot be made here); the local drives are real.
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1_000) if Path(p) == share else real(p))
    conn = open_state_db(config.paths.state_db)
    report = run_preflight(open_connection(config.salesforce).client(), config, conn, "r1", sleep=lambda s: None)
    expected = (f"Share {share} has 1.0 KB free, the published files need about {human_bytes(report.forecast.share)}: "
                "publishing will fail until space is freed there")
    assert expected in report.warnings
    write_refresh_health(config, "r1")
    assert expected in json.dumps(_health(tmp_path)["warnings"])
