"""The gateway-safe Parquet profile (docs/VALUES.md, "What Power BI shows"): `writer_options` decides every option a
reader must understand itself, the checker flags files outside the profile, and a codec the gateway cannot read is
a configuration error (one line, exit 2)."""

import datetime as dt
import re
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.cli import main
from sf_assets.storage.output_consolidate import writer_options
from sf_assets.storage.parquet_profile import profile_violations
from sf_assets_tests.pipeline_helpers import write_config

# Every ParquetWriter option that changes what a reader must understand; a pyarrow default must decide none of them.
READER_OPTIONS = {
    "version": "2.4", "data_page_version": "1.0", "use_dictionary": True, "use_byte_stream_split": False,
    "column_encoding": None, "compression": "snappy", "coerce_timestamps": "us", "allow_truncated_timestamps": False,
    "use_deprecated_int96_timestamps": False, "store_decimal_as_integer": False, "write_time_adjusted_to_utc": False,
    "write_statistics": True, "write_page_index": False, "store_schema": True,
}
TABLE = pa.table({
    "Id": pa.array(["a", "b", None]), "Count": pa.array([1, 2, 3], pa.int64()), "IsWon": [True, False, None],
    "Amount": pa.array([Decimal("1.25"), None, Decimal("-3.50")], pa.decimal128(18, 2)),
    "CloseDate": pa.array([dt.date(1700, 1, 1), dt.date(4000, 12, 31), None], pa.date32()),
    "At": pa.array([1, 2, 3], pa.time64("us")),
    "Stamp": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 3, pa.timestamp("ns", "UTC")),
})


def test_writer_options_pass_every_reader_option_explicitly():
    documented = set(re.findall(r"^(\w+) :", pq.ParquetWriter.__doc__ or "", re.MULTILINE))
    options = writer_options("snappy")
    assert options == READER_OPTIONS
    assert set(options) <= documented  # a renamed or dropped pyarrow option fails here, not in the gateway
    assert writer_options("none")["compression"] is None
    assert writer_options("zstd", "modern") == {**READER_OPTIONS, "version": "2.6", "compression": "zstd"}


def test_a_file_written_with_the_options_is_inside_the_profile(tmp_path):
    path = tmp_path / "ok.parquet"
    pq.write_table(TABLE, path, **writer_options("snappy"))
    assert profile_violations(path) == []
    assert pq.read_table(path).schema.field("Stamp").type == pa.timestamp("us", "UTC")


@pytest.mark.parametrize(("options", "violation"), [
    ({"use_dictionary": False, "column_encoding": {"Count": "DELTA_BINARY_PACKED"}},
     "Count (row group 0): encoding DELTA_BINARY_PACKED"),
    ({"use_dictionary": False, "use_byte_stream_split": ["Count"]}, "Count (row group 0): encoding BYTE_STREAM_SPLIT"),
    ({"version": "2.6"}, "Stamp: timestamp in nanoseconds"),
    ({"use_deprecated_int96_timestamps": True}, "Stamp: physical type INT96"),
    ({"compression": "zstd"}, "Id (row group 0): compression ZSTD"),
])
def test_the_checker_flags_what_the_gateway_cannot_read(tmp_path, options, violation):
    path = tmp_path / "bad.parquet"
    pq.write_table(TABLE, path, **options)  # pyarrow directly, not through writer_options
    assert violation in profile_violations(path)


def test_modern_allows_zstd_but_not_nanoseconds(tmp_path):
    path = tmp_path / "zstd.parquet"
    pq.write_table(TABLE, path, **writer_options("zstd", "modern"))
    assert profile_violations(path, "modern") == [] and profile_violations(path) != []
    pq.write_table(TABLE, path, version="2.6", compression="zstd")
    assert profile_violations(path, "modern") == ["Stamp: timestamp in nanoseconds"]


def test_a_codec_the_gateway_cannot_read_is_one_configuration_line_and_exit_2(org, tmp_path, capsys):
    path = write_config(org, tmp_path, output={"compression": "zstd"})
    for command in (["config", "check"], ["run"]):
        assert main([*command, "--config", str(path)]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"sf-assets: configuration error: {path}: output: Value error, compression zstd is not read by the Power "
            "BI gateway: use snappy, or set output.parquet_profile: modern"], command
    assert not (tmp_path / "state").exists()  # no refresh was started
    modern = write_config(org, tmp_path, output={"compression": "zstd", "parquet_profile": "modern"})
    assert main(["config", "check", "--config", str(modern)]) == 0
