"""The laptop instance (dagster_home/dagster.yaml) stores no secret in its event log, whatever a step raises or
reports."""

import shutil
from pathlib import Path

import dagster as dg

from sf_assets.instance.redacting_instance import RedactingInstance
from sf_assets.observability.redaction import register_secret

REPO = Path(__file__).resolve().parents[2]
SECRET = "hunter2-laptop-secret"


def test_step_errors_and_metadata_are_stored_redacted(tmp_path):
    register_secret(SECRET)  # before anything is written, as reading a secret from the environment does
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")

    @dg.asset
    def reports():
        return dg.MaterializeResult(metadata={"note": f"used {SECRET}", SECRET: 1})

    @dg.asset
    def raises():
        raise ValueError(f"login refused for password {SECRET}")  # not caught: Dagster keeps it as raised

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance, RedactingInstance)
        ok = dg.materialize([reports], instance=instance)
        failed = dg.materialize([raises], instance=instance, raise_on_error=False)
        assert ok.success and not failed.success
        failure = next(
            e for e in instance.all_logs(failed.run_id) if e.dagster_event and e.dagster_event.is_step_failure
        )
        assert "login refused for password ***" in failure.dagster_event.step_failure_data.error.cause.message
        note = ok.asset_materializations_for_node("reports")[0].metadata["note"]
        stored = instance.get_latest_materialization_event(dg.AssetKey("reports")).asset_materialization
        assert SECRET in note.value and stored.metadata["note"].value == "used ***"
    files = [p for p in (tmp_path / "history").rglob("*") if p.is_file()]
    assert files and not [p for p in files if SECRET.encode() in p.read_bytes()]
