"""Windows MAX_PATH: the longest path a configuration can produce, output and share, stays under 240."""

from pathlib import Path

import pytest

from sf_assets.config.models import MAX_DATASET_NAME, DatasetConfig, ObjectConfig, PathsConfig, PipelineConfig, PublishConfig
from sf_assets.storage.path_budget import PATH_LIMIT, longest_output_path

LOCAL_OUTPUT = r"C:\Users\firstname.lastname\sf_assets\var\output"
UNC_SHARE = r"\\fileserver01.corp.example.com\finance$\powerbi\salesforce"


def _config(name: str, partition_col: str) -> PipelineConfig:
    return PipelineConfig(
        objects=[ObjectConfig(name="Opportunity", soql="SELECT Id FROM Opportunity")],
        paths=PathsConfig(output_dir=Path(LOCAL_OUTPUT), share_dir=Path(UNC_SHARE)),
        datasets=[DatasetConfig(name=name, sql="SELECT 1", partition_cols=[partition_col])],
        publish=PublishConfig(include_dataset_folder=True),
    )


def test_the_longest_path_of_a_long_real_world_config_is_under_the_limit():
    longest = longest_output_path(_config("d" * MAX_DATASET_NAME, "Account_Region"))
    assert longest is not None and longest.ok, longest
    assert longest.length < PATH_LIMIT
    assert longest.path.count("d" * MAX_DATASET_NAME) <= 2  # the dataset name is not repeated at every level


def test_a_longer_dataset_name_is_a_configuration_error():
    with pytest.raises(ValueError, match=f"longer than {MAX_DATASET_NAME} characters"):
        DatasetConfig(name="d" * (MAX_DATASET_NAME + 1), sql="SELECT 1")
