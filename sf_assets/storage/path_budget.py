"""The longest file path a configuration makes the product write (Windows MAX_PATH).

Windows paths are limited to 260 characters (MAX_PATH) unless long paths are enabled, which
Power BI Desktop and Explorer do not rely on; we keep every path under ``PATH_LIMIT`` = 240.
Counted: the work folder (chunk files, their page parts and temp files, the datasets' engine parts,
held versions, schema files, the pending deletes list), the staging and state files beside their
databases, the log files, the output (temp versions, stable files, the health JSON) and the share
copy. Partition folder values are data, so they are counted at ``PARTITION_VALUE_CHARS`` characters;
the names Dask gives its spill files are Dask's and are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sf_assets.config import PipelineConfig

PATH_LIMIT = 240
PARTITION_VALUE_CHARS = 40
_REFRESH_ID = "20260101T000000Z-abcd"  # refresh ids have a fixed length
_STAMP = "20260101T000000Z"
_PID = "4194304"  # the longest pid (22 bits)
_OWNER = f"p{_PID}s999999999999"  # the longest owner tag: pid, start time in centiseconds
_HEX = "0123abcd"
_CHUNK = "c9999"  # the planner refuses more chunks (extract.chunk_planner.MAX_CHUNKS)
_PAGE = "page-99999.parquet"
_PART = "part-99999.parquet"
_TEMP_VERSION = f".tmp-{_OWNER}-{_HEX}"


@dataclass(frozen=True)
class LongestPath:
    """The longest path and its length."""

    path: str
    length: int

    @property
    def ok(self) -> bool:
        return self.length < PATH_LIMIT


def _sep(root: str) -> str:
    return "\\" if "\\" in root or root[1:3] == ":\\" else "/"


def _join(root: str, *parts: str) -> str:
    return _sep(root).join([root.rstrip("\\/"), *parts])


def _parent(path: str) -> str:
    """The folder of `path`, as written (a Windows path keeps its backslashes on every OS)."""
    return path.rstrip("\\/").rsplit(_sep(path), 1)[0]


def _atomic_temp(name: str) -> str:
    """The temp sibling an atomic write of `name` goes through (``storage.files.temp_path_for``)."""
    return f".{name}.{_OWNER}-{_HEX}.tmp"


def _work_candidates(config: PipelineConfig) -> Iterable[str]:
    work, staging, state = str(config.paths.work_dir), str(config.paths.staging_db), str(config.paths.state_db)
    for obj in config.objects:
        chunks = _join(work, "chunks", _REFRESH_ID, obj.name)
        yield _join(chunks, f"{_CHUNK}.parquet.tmp")
        yield _join(chunks, f"{_CHUNK}.parts", f"{_PAGE}.tmp")
        yield _join(work, "schemas", _atomic_temp(f"{obj.name}.schema.json"))
        yield _join(staging + ".loading", f"{obj.name}.db-journal")
    for dataset in config.datasets:
        partitions = [f"{col}={'x' * PARTITION_VALUE_CHARS}" for col in dataset.partition_cols]
        yield _join(work, "datasets", f"{_REFRESH_ID}.{_OWNER}", dataset.name, _PART)
        yield _join(work, "held", dataset.name, _TEMP_VERSION, "dataset", *partitions, _PART)
        yield _join(work, "held", dataset.name, _TEMP_VERSION, f"{dataset.name}.parquet")
    yield _join(work, f".pending_deletes.json.{_HEX}.tmp")
    yield staging + "-journal"
    yield state + "-journal"
    yield _join(_parent(state), _atomic_temp("refresh.lock.holder.json"))
    yield _join(str(config.paths.log_dir), _REFRESH_ID, f"sf_assets_{_STAMP}_{_PID}.log.9")


def _output_candidates(config: PipelineConfig) -> Iterable[str]:
    out = str(config.paths.output_dir)
    share = str(config.paths.share_dir) if config.paths.share_dir is not None else None
    yield _join(out, _atomic_temp(f"health_check_{_REFRESH_ID}.json"))
    for dataset in config.datasets:
        name = dataset.name
        partitions = [f"{col}={'x' * PARTITION_VALUE_CHARS}" for col in dataset.partition_cols]
        yield _join(out, name, _TEMP_VERSION, "dataset", *partitions, _PART)
        yield _join(out, name, _TEMP_VERSION, f"{name}.parquet")
        yield _join(out, name, _atomic_temp(f"{name}.parquet"))
        if share is not None:
            yield _join(share, f"{name}__{_STAMP}__{_REFRESH_ID}.parquet.tmp")
            if config.publish.include_dataset_folder:
                yield _join(share, f"{name}_dataset__{_STAMP}__{_REFRESH_ID}.tmp", *partitions, _PART)


def longest_path(config: PipelineConfig) -> LongestPath:
    """The longest path `config` makes the product write: work, state, logs, output and share."""
    longest = max([*_work_candidates(config), *_output_candidates(config)], key=len)
    return LongestPath(longest, len(longest))
