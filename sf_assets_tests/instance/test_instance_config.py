"""The shipped dagster_home/dagster.yaml loads in a real instance with its tick retention in force."""

import shutil
from pathlib import Path

import dagster as dg
from dagster._core.definitions.run_request import InstigatorType  # only for the lookup: no public name in 1.13
from dagster._core.scheduler.instigation import TickStatus

REPO = Path(__file__).resolve().parents[2]


def test_shipped_instance_prunes_schedule_and_sensor_ticks(tmp_path):
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
    assert sensor[TickStatus.SKIPPED] == 3 and sensor[TickStatus.SUCCESS] == sensor[TickStatus.FAILURE] == 30
    assert schedule[TickStatus.SKIPPED] == schedule[TickStatus.SUCCESS] == schedule[TickStatus.FAILURE] == 30
