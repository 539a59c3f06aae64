"""Windows MAX_PATH: the longest path a configuration can produce (work, state, logs, output, share) stays under 240."""

from pathlib import Path

import pytest

from sf_assets.config.models import (
    MAX_DATASET_NAME,
    DatasetConfig,
    ObjectConfig,
    PathsConfig,
    PipelineConfig,
    PublishConfig,
)
from sf_assets.pipeline.check_offline import check_offline
from sf_assets.storage.path_budget import PATH_LIMIT, longest_path

LOCAL_VAR = r"C:\Users\firstname.lastname\OneDrive - Example Corporation\Documents\sf_assets\var"
LOCAL_OUTPUT = r"C:\Users\firstname.lastname\sf_assets\var\output"
LONG_OBJECT = "Opportunity_Line_Item_Schedule_History__c"  # 40 characters, a long custom object name
UNC_SHARE = r"\\fileserver01.corp.example.com\finance$\powerbi\salesforce"


def _config(name: str, partition_col: str) -> PipelineConfig:
    return PipelineConfig(
        objects=[ObjectConfig(name="Opportunity", soql="SELECT Id FROM Opportunity")],
        paths=PathsConfig(output_dir=Path(LOCAL_OUTPUT), share_dir=Path(UNC_SHARE)),
        datasets=[DatasetConfig(name=name, sql="SELECT 1", partition_cols=[partition_col])],
        publish=PublishConfig(include_dataset_folder=True),
    )


def test_the_longest_path_of_a_long_real_world_config_is_under_the_limit():
    longest = longest_path(_config("d" * MAX_DATASET_NAME, "Account_Region"))
    assert longest is not None and longest.ok, longest
    assert longest.length < PATH_LIMIT
    assert longest.path.count("d" * MAX_DATASET_NAME) <= 2  # the dataset name is not repeated at every level


def test_a_longer_dataset_name_is_a_configuration_error():
    with pytest.raises(ValueError, match=f"longer than {MAX_DATASET_NAME} characters"):
        DatasetConfig(name="d" * (MAX_DATASET_NAME + 1), sql="SELECT 1")


def _work_config(var: str) -> PipelineConfig:
    paths = {f"{name}_dir": Path(var + "\\" + name) for name in ("work", "output", "log")}
    paths |= {f"{name}_db": Path(var + rf"\state\{name}.db") for name in ("state", "staging")}
    return PipelineConfig(objects=[ObjectConfig(name=LONG_OBJECT, soql=f"SELECT Id FROM {LONG_OBJECT}")],
                          paths=PathsConfig(**paths))


def test_the_work_folders_chunk_parts_are_counted_and_a_deep_work_folder_is_a_config_check_error():
    longest = longest_path(_work_config(LOCAL_VAR))  # a OneDrive folder, the longest object name
    assert longest.ok, longest
    assert longest.path == (LOCAL_VAR + r"\work\chunks\20260101T000000Z-abcd" + "\\" + LONG_OBJECT
                            + r"\c9999.parts\page-99999.parquet.tmp")
    deep = LOCAL_VAR + r"\salesforce exports\nightly refresh of the finance team"
    report = check_offline(_work_config(deep), env={}, plans=False)
    (error,) = [e for e in report.errors if "MAX_PATH" in e]
    assert error.startswith(f"a path of {len(deep) + len(longest.path) - len(LOCAL_VAR)} characters (limit 240")
    assert "page-99999.parquet.tmp; shorten the folders under paths: or the object or dataset names" in error
