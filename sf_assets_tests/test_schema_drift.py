"""Fields dropped, added and retyped in the org between and during refreshes: real refreshes against the emulator
over HTTPS (its schema switched at run time), with the outputs checked against the emulator's own data."""

import json

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.cli import main as cli_main
from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.storage.field_mapping import refresh_plan
from sf_assets.storage.state_db import state_session
from sf_assets_tests.pipeline_helpers import write_config

ROWS = {"Account": 60, "Contact": 10, "Opportunity": 240, "Widget__c": 80}
OPPORTUNITY = {"name": "Opportunity", "soql": "SELECT Id, Name, StageName, Description FROM Opportunity"}
WIDGET = {"name": "Widget__c", "soql": "SELECT * FROM Widget__c"}
DATASETS = [{"name": "opportunities", "sql": "SELECT * FROM Opportunity"},
            {"name": "widgets", "sql": "SELECT * FROM Widget__c"}]


def _config(org, tmp_path, objects=(OPPORTUNITY, WIDGET), **sections):
    return write_config(org, tmp_path, objects=list(objects), datasets=DATASETS, drift={"keep_removed_refreshes": 1},
                        paths={"create_share_dir": True}, **sections)


def _refresh(path, instance):
    outcome = execute_refresh(load_config(path), instance, new_refresh=True)
    health = json.loads(outcome.health_path.read_text(encoding="utf-8")) if outcome.health_path else {}
    return outcome, health


def _fields_check(instance, name):
    """The object's latest `fields_delivered` check (WARN, non-blocking) as the UI shows it."""
    (record,) = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["salesforce", name]), "fields_delivered"), limit=1)
    return record.evaluation


def _chunk_of_job(org, path, refresh_id, index):
    """The chunk of the refresh whose Id range holds the first row of the org's `index`-th Bulk job (from 0)."""
    job = org.jobs.all()[index]
    first_id = org.data.column(job.plan.sobject.name, "Id", np.array([job.plan.start])).to_pylist()[0]
    with state_session(load_config(path).paths.state_db) as conn:
        states = ChunkTracker(conn).chunks(refresh_id, job.plan.sobject.name)
    (chunk,) = [s.key.chunk_id for s in states
                if (s.id_lo is None or s.id_lo <= first_id) and (s.id_hi is None or first_id < s.id_hi)]
    return chunk


def _output(tmp_path, name):
    return pq.read_table(tmp_path / "output" / name / f"{name}.parquet").sort_by("Id")


def _truth(org, name, fields):
    data = org.data
    table = data.generate(name, 0, data.rows(name), fields=["Id", "IsDeleted", *fields])
    return table.filter(pa.compute.invert(table.column("IsDeleted"))).sort_by("Id")


def _assert_precision_loss(org, health):
    """The health JSON names each decimal column whose values Power BI keeps to 15 significant digits, counted
    against the emulator's own values (its currency(18, 2) fields hold 1234567890123456.78)."""
    truth = _truth(org, "Widget__c", ["Amount__c", "Score__c"])
    wide = {name: [str(v) for v in truth.column(name).to_pylist()
                   if v is not None and len(str(abs(v)).replace(".", "").strip("0")) > 15]
            for name in ("Amount__c", "Score__c")}
    assert "1234567890123456.78" in wide["Amount__c"] and "-1234567890123456.78" in wide["Amount__c"]
    lost = health["precision_loss"]
    assert lost["opportunities"] == {} and set(lost["widgets"]) == {n for n, values in wide.items() if values}
    for name, found in lost["widgets"].items():
        assert found["values"] == len(wide[name]) and found["example"] in wide[name]
    warning = next(w for w in health["warnings"]["last"] if w.startswith("widgets: values with more than 15"))
    assert "Amount__c (" in warning and "type_overrides" in warning and "output.decimals_as_float" in warning


def test_fields_dropped_added_and_retyped_between_refreshes(make_org, tmp_path, capsys):
    org = make_org(rows=ROWS)
    path = _config(org, tmp_path)
    with dg.instance_for_test() as instance:
        first, health = _refresh(path, instance)
        assert first.ok, first.failures
        columns_before = _output(tmp_path, "widgets").column_names
        _assert_precision_loss(org, health)
        assert _fields_check(instance, "Opportunity").passed
        widget = _fields_check(instance, "Widget__c")  # SELECT *: base64 and deprecated fields were never named
        assert widget.passed and widget.description.endswith("; 2 field(s) of SELECT * left out by nature")
        described = org.counters()["describes"]["Opportunity"]
        org.change_schema("drop:Opportunity.Description,drop:Widget__c.Text__c,add:Widget__c.Memo__c:string,"
                          "retype:Widget__c.Ratio__c:int")

        second, health = _refresh(path, instance)
        assert second.ok, second.failures
        # Opportunity's describe was cached: the Bulk job's INVALID_FIELD made it described again, once.
        assert org.counters()["describes"]["Opportunity"] == described + 1
        opportunities = _output(tmp_path, "opportunities")
        assert opportunities.schema.field("Description").type == pa.string()
        assert opportunities.column("Description").null_count == opportunities.num_rows > 0
        widgets = _output(tmp_path, "widgets")
        truth = _truth(org, "Widget__c", ["Ratio__c"])
        assert widgets.column("Text__c").null_count == widgets.num_rows and widgets.schema.field(
            "Text__c").type == pa.string()
        assert widgets.column_names[-1] == "Memo__c"  # a new field comes last
        assert widgets.column("Memo__c").null_count < widgets.num_rows
        assert widgets.schema.field("Ratio__c").type == pa.float64()  # int values kept in the double column
        assert widgets.column("Ratio__c").to_pylist() == [
            None if v is None else float(round(v)) for v in truth.column("Ratio__c").to_pylist()]
        changes = health["schema_changes"]
        assert changes["Opportunity"]["removed"] == ["Description"] and changes["Opportunity"]["kept_null"] == [
            "Description"] and changes["Opportunity"]["replanned_during_refresh"] is True
        assert changes["Widget__c"]["added"] == ["Memo__c"] and changes["Widget__c"]["removed"] == ["Text__c"]
        assert [r["field"] for r in changes["Widget__c"]["retyped"]] == ["Ratio__c"]
        # what a Power BI model sees: the old columns in their order, the new one after them, and nothing else
        assert widgets.column_names == [*columns_before, "Memo__c"]
        assert changes["dataset/widgets"] == {"added": ["Memo__c"], "removed": [], "retyped": [], "reordered": False,
                                              "since_refresh": first.refresh_id}
        assert "dataset/opportunities" not in changes  # Description kept: same name, type and place
        warnings = " | ".join(health["warnings"]["last"])
        assert "Opportunity.Description is no longer delivered by Salesforce" in warnings
        assert "Widget__c.Text__c is no longer delivered by Salesforce" in warnings
        for name, field in (("Opportunity", "Description"), ("Widget__c", "Text__c")):
            check = _fields_check(instance, name)
            assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
            assert check.description == f"{name}: {field} kept all null (no longer delivered by Salesforce)"

        third, health = _refresh(path, instance)  # keep_removed_refreshes: 1 -> SELECT * drops Text__c now
        assert third.ok, third.failures
        assert "Text__c" not in _output(tmp_path, "widgets").column_names
        assert "Description" in _output(tmp_path, "opportunities").column_names  # named in the SOQL: kept
        assert health["schema_changes"]["Widget__c"]["dropped"] == ["Text__c"]
        assert health["schema_changes"]["dataset/widgets"]["removed"] == ["Text__c"]
        assert "dataset widgets: its columns change for Power BI models: removed Text__c" in " | ".join(
            health["warnings"]["last"])
        assert _fields_check(instance, "Widget__c").description == "Widget__c: Text__c dropped from the output"
        assert "Widget__c.Text__c is no longer delivered by Salesforce: dropped" in " | ".join(
            health["warnings"]["last"])
        with state_session(tmp_path / "state" / "state.db") as conn:
            assert not any(c.name == "Text__c" for c in refresh_plan(conn, third.refresh_id, "Widget__c").columns)

        jobs = sum(org.counters()["jobs_created"].values())
        failing = _config(org, tmp_path, objects=({**OPPORTUNITY, "on_missing_field": "fail"}, WIDGET))
        fourth, _ = _refresh(failing, instance)
        assert not fourth.ok and fourth.failures == [
            "field plans: Opportunity: field 'Description' is no longer delivered by Salesforce (no such field: "
            "deleted, renamed or hidden by a permission change) and on_missing_field is fail"]
        org.change_schema("retype:Widget__c.Count__c:double")
        fifth, _ = _refresh(_config(org, tmp_path), instance)  # the same file again, without on_missing_field
        assert not fifth.ok and fifth.failures == [
            "field plans: Widget__c.Count__c changed type in Salesforce from int to double: its values cannot be kept "
            "as int64 without loss; to accept the new type, add Count__c to the type_overrides of Widget__c"]
        assert sum(org.counters()["jobs_created"].values()) == jobs  # both failed before any Bulk job

    typo = _config(org, tmp_path, objects=({**OPPORTUNITY, "soql": "SELECT Id, StageNme FROM Opportunity"},))
    assert cli_main(["config", "check", "--online", "--config", str(typo)]) == 2
    assert ("configuration error: objects.Opportunity: Opportunity: field 'StageNme' does not exist in Salesforce "
            "(no such field) and no refresh ever delivered it (did you mean StageName?)") in capsys.readouterr().err


def test_a_field_dropped_mid_refresh_re_extracts_finished_chunks(make_org, tmp_path):
    org = make_org(rows=ROWS)
    path = write_config(org, tmp_path, objects=[OPPORTUNITY], datasets=[DATASETS[0]], paths={"create_share_dir": True},
                        extraction={"chunk_size": 80, "max_concurrent_jobs": 1})
    org.change_schema("drop:Opportunity.Description", after_jobs=2)  # after chunk planning's job and c0001's
    with dg.instance_for_test() as instance:
        outcome, health = _refresh(path, instance)
    assert outcome.ok, outcome.failures
    table = _output(tmp_path, "opportunities")
    assert table.num_rows == org.data.row_count("Opportunity") > 160
    assert table.column("Description").null_count == table.num_rows  # no half-null column
    assert table.column("Name").to_pylist() == _truth(org, "Opportunity", ["Name"]).column("Name").to_pylist()
    changes = health["schema_changes"]["Opportunity"]
    # exactly the chunk whose job the org created before the drop (its 2nd job, after the planning scan) is
    # extracted again: which chunk that is, is the order in which the chunks' threads took the one job slot
    assert changes["replanned_during_refresh"] is True
    assert changes["chunks_extracted_again"] == [_chunk_of_job(org, path, outcome.refresh_id, 1)]
    assert changes["kept_null"] == ["Description"]
