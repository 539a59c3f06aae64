"""Fixtures shared by the publish tests: a local output file and an empty share folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sf_assets.publish import copy as copy_module


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A consolidated output of ~2.5 blocks so that the copy loop runs several times."""
    out = tmp_path / "output"
    out.mkdir()
    path = out / "sales.parquet"
    path.write_bytes(os.urandom(copy_module.BLOCK_SIZE * 2 + 12345))
    return path


@pytest.fixture
def share(tmp_path: Path) -> Path:
    path = tmp_path / "share"
    path.mkdir()
    return path
