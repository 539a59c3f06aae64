"""Write the Power BI hand-off into a folder with the data: each file atomically (temp name, then replace).

Written by the output step into the output folder after a promotion, and by the publish step into the share
after its copies: one `<dataset>.pq` per dataset, `FolderPath.parameter.pq`, `sf_assets.pbids` and
`README.txt`, all under stable names. A reader sees the previous file or the new one, never half of one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.powerbi.m_query import Place, dataset_query, parameter_query
from sf_assets.powerbi.pbids import PBIDS_NAME, pbids_document
from sf_assets.powerbi.readme import PARAMETER_FILE, README_NAME, readme_text
from sf_assets.storage.files import atomic_write_text

log = logging.getLogger(__name__)


def query_file(dataset: str) -> str:
    """File name of a dataset's M query."""
    return f"{dataset}.pq"


def schemas_of(files: Iterable[Path]) -> dict[str, pa.Schema]:
    """The Parquet schema of each file, by dataset (the file's stem)."""
    return {path.stem: pq.read_schema(path) for path in files}


def handoff_files(schemas: Mapping[str, pa.Schema], place: Place, folder: str, health_dir: str) -> dict[str, str]:
    """File name → text of the hand-off of `folder` (ValueError when a column has no Power Query type)."""
    texts = {query_file(name): dataset_query(name, schema, place) for name, schema in schemas.items()}
    texts[PARAMETER_FILE] = parameter_query(folder)
    texts[PBIDS_NAME] = pbids_document(folder)
    texts[README_NAME] = readme_text(place, folder, health_dir)
    return texts


def write_handoff(target: Path, schemas: Mapping[str, pa.Schema], place: Place, *, folder: str,
                  health_dir: str) -> list[Path]:
    """Write the hand-off into `target` (`folder` is how users reach it, e.g. its UNC path); never raises.

    A failure is logged as a warning: the data it describes is already in place, and the previous hand-off
    files stay whole.
    """
    written: list[Path] = []
    try:
        for name, text in handoff_files(schemas, place, folder, health_dir).items():
            atomic_write_text(target / name, text)
            written.append(target / name)
    except (OSError, ValueError) as exc:
        log.warning("Writing the Power BI hand-off files to %s failed: %s; the data is in place", target, exc)
    return written
