"""`transform.engine` picks the dataset engine from the one registry (`transform/engines.py`); `dask.engine`, its
place before, still works for one release with a warning; an unknown engine is a configuration error: one line,
exit 2, before any refresh starts."""

import logging

import dagster as dg
import pytest
import yaml

from sf_assets.cli import main
from sf_assets.config import ConfigError, load_config
from sf_assets.defs.build import build_definitions
from sf_assets.health.causes import explain
from sf_assets_tests.pipeline_helpers import write_config

OLD_KEY = "dask.engine is deprecated and read for one more release: write it as transform.engine"
UNKNOWN = "transform.engine: 'duckdb' is not a dataset engine (use sqlite or dask_sql)"


def _old_style(org, tmp_path, engine: str, **sections):
    """A config written as before: the engine under `dask:`, no `transform:` section."""
    path = write_config(org, tmp_path, **sections)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["transform"]
    data["dask"] = {"engine": engine, "n_workers": 1}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _dataset_kinds(path) -> set[str]:
    graph = build_definitions(path).resolve_asset_graph()
    return graph.get(dg.AssetKey(["dataset", "opportunity_account"])).kinds


def test_the_engine_is_chosen_by_transform_engine_and_still_by_dask_engine_with_a_warning(org, tmp_path, capsys,
                                                                                          caplog):
    new = write_config(org, tmp_path / "new", transform={"engine": "dask_sql"})
    assert main(["config", "check", "--config", str(new)]) == 0
    out = capsys.readouterr().out
    assert "  checked:     dataset engine: dask_sql (Dask-SQL)" in out.splitlines() and "deprecated" not in out
    assert _dataset_kinds(new) == {"dask", "parquet", "powerbi"}

    old = _old_style(org, tmp_path / "old", "dask_sql")
    with caplog.at_level(logging.WARNING, logger="sf_assets.config"):
        assert main(["config", "check", "--config", str(old)]) == 0
    assert f"  warning:     {OLD_KEY}" in capsys.readouterr().out.splitlines()
    assert [r.getMessage() for r in caplog.records if r.name == "sf_assets.config.loader"] == [f"{old}: {OLD_KEY}"]
    config = load_config(old)
    assert (config.transform.engine, config.dask.n_workers, config.deprecations) == ("dask_sql", 1, (OLD_KEY,))
    assert _dataset_kinds(old) == {"dask", "parquet", "powerbi"}  # what the definitions and the build step read
    assert _dataset_kinds(write_config(org, tmp_path / "sqlite")) == {"sqlite", "parquet", "powerbi"}

    both = _old_style(org, tmp_path / "both", "sqlite")
    both.write_text(both.read_text(encoding="utf-8") + "transform: {engine: dask_sql}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="dask.engine and transform.engine are both set: .* keep only transform"):
        load_config(both)


@pytest.mark.parametrize("old_place", [False, True])
def test_an_unknown_engine_is_one_configuration_line_and_exit_2(org, tmp_path, capsys, old_place):
    path = (_old_style(org, tmp_path, "duckdb") if old_place
            else write_config(org, tmp_path, transform={"engine": "duckdb"}))
    for command in (["config", "check"], ["run"]):
        assert main([*command, "--config", str(path)]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if "deprecated" not in line]
        assert err == [f"sf-assets: configuration error: {UNKNOWN}"], command
    assert not (tmp_path / "state").exists() and not (tmp_path / "output").exists()  # no refresh was started
    with pytest.raises(ConfigError) as raised:  # what the Dagster UI shows for the code location
        build_definitions(path)
    assert str(raised.value) == UNKNOWN
    cause = explain(raised.value)  # were it raised inside a run: the same line, to be fixed first (exit 2)
    assert (cause.line, cause.fix_first) == (UNKNOWN, True)
