"""Run tags and names shared by the Dagster layer (runs of one refresh carry the same refresh id)."""

REFRESH_TAG = "sf_assets/refresh_id"
NEW_REFRESH_TAG = "sf_assets/new_refresh"   # "true" on a UI/terminal run: start a new refresh instead of resuming
LAUNCHED_BY_TAG = "sf_assets/launched_by"   # cli | schedule | catch_up | (absent: the UI)
# Dagster's UI shows a run's launcher from `user`, `dagster/schedule_name` or `dagster/sensor_name` (ui-core
# runs/CreatedByTag.tsx, Dagster 1.13), else "Manually launched": `sf-assets run` sets `user` to say it ran them.
UI_LAUNCHED_BY_TAG = "user"
CLI_LAUNCHER = "sf-assets run (cli)"
STAGE_TAG = "sf_assets/stage"               # prepare | extract | output | publish
PID_TAG = "sf_assets/pid"                   # the process executing an in-process (CLI) run
REFRESH_CONCURRENCY_TAG = "sf_assets/refresh"  # dagster.yaml: one refresh stage at a time
POOL = "salesforce_bulk"
