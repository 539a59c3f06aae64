"""The row check judges a refresh by evidence a lost row would break (chunks whole, ranges gap-free), not by COUNT().

Each kind of real loss — a chunk file that lost rows, a gap between chunk ranges, a dropped results page, a job whose
rows were not all written — is injected after a real extraction from the emulator and must fail the check with one
line naming the object, the chunk and the numbers; through Dagster the blocking check names itself in the failure.
"""

from __future__ import annotations

import json
import sqlite3

import dagster as dg
import pyarrow.parquet as pq
import pytest

from sf_assets.config import load_config
from sf_assets.defs.build import build_definitions
from sf_assets.defs.dagster_internals import partition_range_tags
from sf_assets.defs.errors import step_failure_lines
from sf_assets.defs.partitions import chunk_keys
from sf_assets.pipeline.emulator import open_connection
from sf_assets.pipeline.row_check import evaluate_row_check
from sf_assets.storage.state_db import state_session
from sf_assets_tests.pipeline_helpers import write_config

OPPORTUNITY = {"name": "Opportunity", "soql": "SELECT Id, Name, Amount, CloseDate, LastModifiedDate FROM Opportunity"}


@pytest.fixture(scope="module")
def extracted(_session_org, tmp_path_factory):
    """Opportunity (2,500 rows, 4 chunks) planned and extracted through the Dagster jobs, not staged yet."""
    tmp_path = tmp_path_factory.mktemp("row_check")
    path = write_config(_session_org, tmp_path, objects=[OPPORTUNITY], datasets=[],
                        extraction={"chunk_size": 700})
    defs = build_definitions(str(path))
    with dg.instance_for_test() as instance:
        assert defs.resolve_job_def("prepare_job").execute_in_process(instance=instance).success
        keys = chunk_keys(instance, "Opportunity")
        extract = defs.resolve_job_def("extract_Opportunity_job")
        result = extract.execute_in_process(instance=instance, tags=partition_range_tags(keys[0], keys[-1]))
        assert result.success
        yield load_config(path), defs, instance, keys


def _evaluate(config, conn: sqlite3.Connection):
    connection = open_connection(config.salesforce)
    try:
        refresh_id = conn.execute("SELECT refresh_id FROM refreshes").fetchone()[0]
        return evaluate_row_check(conn, config, config.objects[0], refresh_id, connection.client().query)
    finally:
        connection.close()


def _chunk(conn: sqlite3.Connection, chunk_id: str) -> tuple:
    return conn.execute("SELECT file_path, rows, id_lo, id_hi FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()


def test_a_still_org_passes_with_every_figure_reported(extracted, org):
    config, _, _, keys = extracted
    with state_session(config.paths.state_db) as conn:
        check = _evaluate(config, conn)
    assert check.passed, check.problems
    assert (check.rows, check.chunks, check.done) == (check.count_now, len(keys), len(keys)) and len(keys) == 4
    assert check.count_before == check.count_now
    assert check.change is not None and (check.change.created, check.change.modified, check.change.deleted) == (0, 0, 0)
    line = check.describe()
    assert line.startswith(f"Opportunity: {check.rows:,} rows in 4 of 4 chunks, each complete")
    assert f"{check.count_now:,} now" in line and "0 created, 0 modified, 0 deleted" in line


def _truncate_file(conn, chunk_id):
    path = _chunk(conn, chunk_id)[0]
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 3), path)
    return table.num_rows


def _open_gap(conn, chunk_id):
    conn.execute("UPDATE chunks SET id_lo = id_lo || 'A' WHERE chunk_id = ?", (chunk_id,))


def _drop_page(conn, chunk_id):
    conn.execute("UPDATE chunk_pages SET records = records - 100 WHERE chunk_id = ?", (chunk_id,))


def _short_job(conn, chunk_id):
    conn.execute("UPDATE chunks SET job_records = job_records + 5 WHERE chunk_id = ?", (chunk_id,))


@pytest.mark.parametrize("fault, expected", [
    (_truncate_file, "chunk c0002: file {n3:,} rows, recorded {n:,} rows, Σ Sforce-NumberOfRecords {n:,} rows, "
                     "job numberRecordsProcessed {n:,} rows"),
    (_open_gap, "gap between chunk c0001 [-inf, {hi}) and chunk c0002 [{hi}A, "),
    (_drop_page, "chunk c0002: file {n:,} rows, recorded {n:,} rows, Σ Sforce-NumberOfRecords {n100:,} rows"),
    (_short_job, "job numberRecordsProcessed {n5:,} rows"),
])
def test_each_kind_of_loss_fails_the_check_naming_chunk_and_numbers(extracted, org, fault, expected):
    config, _, _, _ = extracted
    with state_session(config.paths.state_db) as conn:
        conn.execute("SAVEPOINT fault")
        path, rows, _, _ = _chunk(conn, "c0002")
        hi = _chunk(conn, "c0001")[3]
        before = pq.read_table(path)
        try:
            fault(conn, "c0002")
            check = _evaluate(config, conn)
        finally:
            conn.execute("ROLLBACK TO fault")
            conn.execute("RELEASE fault")
            pq.write_table(before, path)
    assert not check.passed
    line = check.describe()
    assert line.startswith("Opportunity: "), line
    assert expected.format(n=rows, n3=rows - 3, n100=rows - 100, n5=rows + 5, hi=hi) in line, line


def test_through_dagster_the_failed_blocking_check_names_itself(extracted, org):
    config, defs, instance, keys = extracted
    with state_session(config.paths.state_db) as conn:
        hi = _chunk(conn, "c0003")[3]
        conn.execute("UPDATE chunks SET id_hi = id_hi || 'A' WHERE chunk_id = 'c0003'")
    try:
        result = defs.resolve_job_def("extract_Opportunity_job").execute_in_process(
            instance=instance, tags=partition_range_tags(keys[0], keys[-1]), raise_on_error=False)
    finally:
        with state_session(config.paths.state_db) as conn:
            conn.execute("UPDATE chunks SET id_hi = ? WHERE chunk_id = 'c0003'", (hi,))
    assert not result.success
    (line,) = step_failure_lines(result.all_events)
    assert line.startswith("blocking check row_count_matches_salesforce of Opportunity failed: Opportunity: gap "
                           "between chunk c0003 [") and f"{hi}A) and chunk c0004 [{hi}, +inf)" in line, line
    evaluation = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["salesforce", "Opportunity"]), "row_count_matches_salesforce"), limit=1)[0]
    assert evaluation.status.value == "FAILED"


def test_a_sharp_drop_warns_and_the_refresh_still_succeeds(make_org, tmp_path):
    from sf_assets.defs.driver import execute_refresh

    datasets = [{"name": "opportunity", "sql": "SELECT * FROM Opportunity"}]
    with dg.instance_for_test() as instance:
        outcomes = []
        for rows in (2500, 1500):  # the same seed: the smaller org holds the first 1,500 rows of the larger one
            org = make_org(rows={"Account": 50, "Opportunity": rows})
            config = load_config(write_config(org, tmp_path, objects=[OPPORTUNITY], datasets=datasets))
            outcomes.append(execute_refresh(config, instance, publish=False))
            assert outcomes[-1].ok, outcomes[-1].failures
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(["salesforce", "Opportunity"]), "row_count_drop"), limit=2)
    second, first = (h.evaluation for h in history)
    assert first is not None and first.passed and "no earlier successful refresh" in first.description
    assert second is not None and not second.passed and second.severity == dg.AssetCheckSeverity.WARN
    with state_session(config.paths.state_db) as conn:
        before, after = (
            conn.execute("SELECT SUM(rows) FROM chunks WHERE refresh_id = ?", (o.refresh_id,)).fetchone()[0]
            for o in outcomes
        )
    assert after < 0.8 * before
    assert second.description == (
        f"Opportunity: {after:,} rows now, {before:,} in the last successful refresh {outcomes[0].refresh_id}: "
        f"{100 * (before - after) / before:.1f} % fewer (more than 20 %). Deletions, a sharing or permission change of "
        "the integration user, or the object's filter can hide rows")
    health = json.loads(outcomes[1].health_path.read_text(encoding="utf-8"))
    assert second.description in health["warnings"]["last"]
