"""Files held open by another program at the end of a refresh (Windows semantics, simulated on Linux by
`held_files.HeldFiles`): the refresh still succeeds, writes its health JSON and publishes; what could not be
deleted is recorded and removed once free."""

import json

import dagster as dg

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.defs.output import POWERBI_OUTPUT
from sf_assets.storage.deletion import PENDING_LIST, retry_pending_deletes
from sf_assets_tests.held_files import HeldFiles
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT * FROM Account"}]


def _is_chunk_file(path) -> bool:
    """<work>/chunks/<refresh>/<Object>/c0001.parquet: opened by a virus scanner as soon as it exists."""
    return path.suffix == ".parquet" and len(path.parents) > 3 and path.parents[2].name == "chunks"


def test_files_held_open_never_fail_a_refresh_and_are_deleted_once_free(make_org, tmp_path, monkeypatch):
    org = make_org(rows={"Account": 30, "Contact": 0, "Opportunity": 0, "Widget__c": 0})
    config = load_config(write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, output={"keep_versions": 1},
                                      publish={"keep_last": 1}, paths={"create_share_dir": True}))
    held = HeldFiles(monkeypatch)
    held.hold(_is_chunk_file)
    pending = config.paths.work_dir / PENDING_LIST
    with dg.instance_for_test() as instance:
        first = execute_refresh(config, instance)
        assert first.ok, first.failures  # today's code: PermissionError from the cleanup fails the output step
        health = json.loads(first.health_path.read_text(encoding="utf-8"))
        assert health["status"] == "success" and [p["ok"] for p in health["published"]] == [True]
        output_runs = [r for r in instance.get_runs() if r.job_name == "output_job"]
        assert instance.get_latest_materialization_event(POWERBI_OUTPUT).run_id == output_runs[0].run_id  # the
        # event the publish sensor acts on for a UI refresh
        (chunk,) = [p for p in config.paths.work_dir.rglob("*.parquet") if _is_chunk_file(p)]
        assert first.refresh_id in str(chunk) and str(chunk.parent.parent) in json.loads(pending.read_text())

        held.release_all()  # the scanner is done; the old output version and share copy are open now
        version = config.paths.output_dir / "accounts" / f"v{first.refresh_id}"
        held.hold(version / "accounts.parquet")
        (old_copy,) = [p for p in config.paths.share_dir.glob("accounts__*.parquet") if first.refresh_id in p.name]
        held.hold(old_copy)
        second = execute_refresh(config, instance, new_refresh=True)
        assert second.ok, second.failures
    assert not chunk.exists() and not chunk.parent.parent.exists()  # removed by the later refresh
    assert json.loads(second.health_path.read_text(encoding="utf-8"))["status"] == "success"
    assert {str(version), str(old_copy)} <= set(json.loads(pending.read_text()))
    held.release_all()
    assert set(retry_pending_deletes(config.paths)) >= {version, old_copy}  # what the next refresh does first
    assert not version.exists() and not old_copy.exists() and json.loads(pending.read_text()) == {}
