"""Nothing runs before the user says so: with `schedule.enabled: false` the schedule and the sensor that continues
it start stopped; turned on through the UI's own GraphQL mutations they stay on when the code location is loaded
again (a restart: new code server process, Definitions rebuilt) — the state lives in the Dagster instance."""

import dagster as dg
from dagster_graphql.test.utils import (
    define_out_of_process_context,
    execute_dagster_graphql,
    infer_schedule_selector,
    infer_sensor_selector,
)

from sf_assets_tests.defs.test_definitions import REPO

STATUS = """
query Status($schedule: ScheduleSelector!, $sensor: SensorSelector!) {
  scheduleOrError(scheduleSelector: $schedule) { ... on Schedule { scheduleState { status } } }
  sensorOrError(sensorSelector: $sensor) { ... on Sensor { sensorState { status } } }
}"""
START = """
mutation Start($schedule: ScheduleSelector!, $sensor: SensorSelector!) {
  startSchedule(scheduleSelector: $schedule) { __typename }
  startSensor(sensorSelector: $sensor) { __typename }
}"""


def _load_location(instance: dg.DagsterInstance, start: bool) -> list[tuple[str, str]]:
    """Load the code location; (schedule, sensor) status as the UI reads it, then again after starting both."""
    with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
        selectors = {"schedule": infer_schedule_selector(context, "nightly_refresh"),
                     "sensor": infer_sensor_selector(context, "continue_scheduled_refresh")}

        def status() -> tuple[str, str]:
            data = execute_dagster_graphql(context, STATUS, selectors).data
            return data["scheduleOrError"]["scheduleState"]["status"], data["sensorOrError"]["sensorState"]["status"]

        seen = [status()]
        if start:
            started = execute_dagster_graphql(context, START, selectors).data
            assert started == {"startSchedule": {"__typename": "ScheduleStateResult"},
                               "startSensor": {"__typename": "Sensor"}}, started
            seen.append(status())
        return seen


def test_schedule_started_in_the_ui_stays_started_after_a_restart(monkeypatch):
    monkeypatch.setenv("SF_ASSETS_CONFIG", str(REPO / "config" / "pipeline.yaml"))  # the demo: schedule.enabled false
    with dg.instance_for_test() as instance:
        assert _load_location(instance, start=True) == [("STOPPED", "STOPPED"), ("RUNNING", "RUNNING")]
        assert _load_location(instance, start=False) == [("RUNNING", "RUNNING")]  # Definitions rebuilt, new process
