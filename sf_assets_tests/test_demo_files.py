"""Every Parquet file the demo's configuration produces (its objects, SQL and output settings, on the test org):
inside the gateway-safe profile, and read value for value the same by a second, independent reader (DuckDB)."""
from pathlib import Path

import dagster as dg
import yaml

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.storage.parquet_profile import profile_violations
from sf_assets_tests.pipeline_helpers import write_config
from sf_assets_tests.test_every_value_end_to_end import assert_duckdb_reads_the_same

DEMO = Path(__file__).resolve().parents[1] / "config" / "pipeline.yaml"


def test_every_file_of_the_demo_is_gateway_safe_and_reads_the_same_in_duckdb(org, tmp_path):
    demo = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    path = write_config(org, tmp_path, objects=demo["objects"], datasets=demo["datasets"], output=demo["output"],
                        transform=demo["transform"], paths={"create_share_dir": True})
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(load_config(path), instance)
    assert outcome.ok, outcome.failures
    files = sorted((tmp_path / "output").rglob("*.parquet")) + sorted((tmp_path / "share").rglob("*.parquet"))
    published = [f for f in files if f.is_relative_to(tmp_path / "share")]
    assert len(published) >= len(demo["datasets"])
    for file in files:
        assert profile_violations(file) == [], file
        assert_duckdb_reads_the_same(file)
