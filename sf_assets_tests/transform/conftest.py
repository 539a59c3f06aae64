"""One staged DB and one Dask LocalCluster (worker processes) for the whole test session."""

from pathlib import Path

import pytest

from sf_assets.config.models import DaskConfig, ObjectConfig, StagingConfig
from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.staging import stage_object
from sf_assets.transform.cluster import dask_client
from sf_assets_tests.storage.emulated_chunks import emulator_plan, write_chunks

ROWS = {"Account": 400, "Opportunity": 3000, "Widget__c": 500}


@pytest.fixture(scope="session")
def staging_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("staged")
    gen = DataGenerator(ROWS)
    for name in ROWS:
        plan = emulator_plan(name)
        files = write_chunks(gen, plan, folder / name, 1000)
        stage_object(folder / "staging.db", plan, files, ObjectConfig(name=name, soql="x"), StagingConfig())
    return folder / "staging.db"


@pytest.fixture(scope="session")
def dask_session_client(tmp_path_factory):
    cfg = DaskConfig(n_workers=2, threads_per_worker=1, memory_limit="1GB")
    with dask_client(cfg, tmp_path_factory.mktemp("dask"), processes=True) as client:
        yield client
