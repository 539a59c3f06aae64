"""The forms a Bulk job without records may answer with are no rows, and only from a job that reports none."""
from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from sf_assets.extract.page_writer import ChunkValidationError, write_page


@pytest.mark.parametrize("body", [b"", b"\n", b"Records not found for this query",
                                  b"Records not found for this query\r\n"], ids=["empty", "blank", "not_found", "crlf"])
def test_an_empty_result_is_an_empty_typed_part_only_for_a_job_without_records(plans, tmp_path, body):
    plan = plans["Widget__c"]
    part = tmp_path / "page-00001.parquet"
    assert write_page(io.BytesIO(body), plan, part, 0, empty_job=True) == 0
    assert pq.read_metadata(part).num_rows == 0
    assert pq.read_schema(part).remove_metadata() == plan.arrow_schema().remove_metadata()  # every planned column

    other = tmp_path / "page-00002.parquet"
    with pytest.raises(ChunkValidationError, match="without a CSV header .* from a job that reports records"):
        write_page(io.BytesIO(body), plan, other, 0, empty_job=False)
    assert not other.exists()
    with pytest.raises(ChunkValidationError, match="followed by more text"):
        write_page(io.BytesIO(body.rstrip() + b'\n"001000000000001AAA"\n'), plan, other, 1, empty_job=True)
