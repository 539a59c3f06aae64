"""The longest file path a configuration makes the output and the share copy write (Windows MAX_PATH).

Windows paths are limited to 260 characters (MAX_PATH) unless long paths are enabled, which
Power BI Desktop and Explorer do not rely on; we keep every path under ``PATH_LIMIT`` = 240.
Partition folder values are data, so they are counted at ``PARTITION_VALUE_CHARS`` characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sf_assets.config import PipelineConfig

PATH_LIMIT = 240
PARTITION_VALUE_CHARS = 40
_REFRESH_ID = "20260101T000000Z-abcd"  # refresh ids have a fixed length
_STAMP = "20260101T000000Z"
_OWNER = "p4194304s999999999999"  # the longest owner tag: 22-bit pid, start time in centiseconds
_HEX = "0123abcd"


@dataclass(frozen=True)
class LongestPath:
    """The longest path and its length."""

    path: str
    length: int

    @property
    def ok(self) -> bool:
        return self.length < PATH_LIMIT


def _join(root: str, *parts: str) -> str:
    sep = "\\" if "\\" in root or root[1:3] == ":\\" else "/"
    return sep.join([root.rstrip("\\/"), *parts])


def _candidates(config: PipelineConfig) -> Iterable[str]:
    out = str(config.paths.output_dir)
    share = str(config.paths.share_dir) if config.paths.share_dir is not None else None
    for dataset in config.datasets:
        name = dataset.name
        partitions = [f"{col}={'x' * PARTITION_VALUE_CHARS}" for col in dataset.partition_cols]
        temp_version = f".tmp-{_OWNER}-{_HEX}"
        yield _join(out, name, temp_version, "dataset", *partitions, "part-99999.parquet")
        yield _join(out, name, temp_version, f"{name}.parquet")
        yield _join(out, name, f".{name}.parquet.{_OWNER}-{_HEX}.tmp")
        if share is not None:
            yield _join(share, f"{name}__{_STAMP}__{_REFRESH_ID}.parquet.tmp")
            if config.publish.include_dataset_folder:
                yield _join(share, f"{name}_dataset__{_STAMP}__{_REFRESH_ID}.tmp", *partitions, "part-99999.parquet")


def longest_output_path(config: PipelineConfig) -> LongestPath | None:
    """The longest output or share path `config` can produce (None without datasets)."""
    paths = list(_candidates(config))
    if not paths:
        return None
    longest = max(paths, key=len)
    return LongestPath(longest, len(longest))
