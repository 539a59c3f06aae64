"""Every emulated object extracted with 1, 3 and many chunks equals the org's data, value for value."""
from __future__ import annotations

import math

import pyarrow.compute as pc
import pytest

from sf_assets.emulator.values import AWKWARD, LONG_TEXT
from sf_assets.storage.files import file_digest
from sf_assets_tests.extract.helpers import QUERY_ALL, expected_table, extract_all, make_context, read_chunks


@pytest.mark.parametrize("object_name", ["Account", "Contact", "Opportunity", "Widget__c"])
@pytest.mark.parametrize("chunks", [1, 3, 12])
def test_chunks_equal_the_org(org, connection, plans, tmp_path, object_name, chunks):
    plan = plans[object_name]
    expected = expected_table(org, plan, object_name in QUERY_ALL)
    chunk_size = 10**9 if chunks == 1 else math.ceil(expected.num_rows / chunks)
    ctx = make_context(connection, tmp_path)

    outcome = extract_all(ctx, plan, chunk_size)

    assert outcome.failures == {}
    assert len(outcome.results) == chunks
    assert read_chunks(ctx, plan).equals(expected)
    assert outcome.rows == expected.num_rows
    assert org.counters()["jobs_created"][object_name] == chunks + 1  # + the planner's Id scan
    latest = pc.max(expected.column("LastModifiedDate")).as_py()
    assert max(r.max_last_modified for r in outcome.results.values()) == (
        latest.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    for state, result in zip(ctx.tracker.chunks(ctx.refresh_id, object_name), outcome.results.values()):
        assert state.status == "success" and state.attempts == 1 and not result.skipped
        assert (state.rows, state.bytes, state.job_id) == (result.rows, result.bytes, result.job_id)
        assert state.checksum == file_digest(result.file_path) and result.file_path.stat().st_size == state.bytes
        assert not result.file_path.with_name(f"{state.key.chunk_id}.parts").exists()


def test_the_data_is_awkward(org, plans):
    """The exactness above covers every awkward value: CR/LF, quotes, unicode, 32k text, exponents."""
    texts = set()
    for name in ("Account", "Opportunity", "Widget__c"):
        table = expected_table(org, plans[name], name in QUERY_ALL)
        for column in table.columns:
            if column.type == "string":
                texts.update(v for v in column.to_pylist() if v)
    assert set(AWKWARD) <= texts and LONG_TEXT in texts
    widgets = expected_table(org, plans["Widget__c"], True)
    assert pc.max(widgets.column("Amount__c")).as_py() >= 10**7  # rendered as 1.23456789012345678E15
    assert pc.max(widgets.column("Ratio__c")).as_py() >= 1e7  # a double in exponent form


def test_crlf_inside_a_value_survives_a_csv_block_boundary(monkeypatch):
    """pyarrow's streaming CSV reader loses the LF of a CRLF split across two blocks; every
    block boundary of this page falls somewhere else in the values."""
    import io

    import pyarrow as pa

    from sf_assets.extract import page_writer
    from sf_assets.schema.field_plan import FieldPlan, PlannedColumn

    monkeypatch.setattr(page_writer, "CSV_BLOCK_BYTES", 1000)
    value = "ab\r\ncd\re\n" * 50
    plan = FieldPlan(
        "X", (PlannedColumn("Id", "id", "string", False), PlannedColumn("Text", "textarea", "string", True))
    )
    body = b'"Id","Text"\n' + "".join(f'"{i:04d}","{value}"\n' for i in range(200)).encode()
    table = pa.Table.from_batches(list(page_writer.page_batches(io.BytesIO(body), plan)))
    assert table.num_rows == 200 and set(table.column("Text").to_pylist()) == {value}
