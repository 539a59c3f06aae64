"""`sf-assets powerbi [DATASET] [--share]`: print the Power Query M of the datasets (docs/POWERBI.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from sf_assets.config import load_config
from sf_assets.pipeline.powerbi_handoff import stable_files
from sf_assets.powerbi.handoff import schemas_of
from sf_assets.powerbi.m_query import dataset_query, parameter_query

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def print_queries(config_path: Path, dataset: str | None, share: bool) -> int:
    """Print the M of `dataset` (all datasets, after the FolderPath parameter, when None); the exit code."""
    config = load_config(config_path)
    names = [d.name for d in config.datasets]
    if dataset is not None and dataset not in names:
        return _fail(f"unknown dataset '{dataset}': {config.source_file} has {', '.join(names) or 'none'}", EXIT_USAGE)
    if share and config.paths.share_dir is None:
        return _fail("paths.share_dir is not set: there is no share to query", EXIT_USAGE)
    files = stable_files(config, [dataset] if dataset else names)
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        return _fail(f"no Power BI file of {', '.join(missing)} in {config.paths.output_dir} yet: run "
                     "`sf-assets run` first (and keep output.consolidate_for_powerbi on)", EXIT_FAILED)
    try:
        queries = [dataset_query(name, schema, "share" if share else "output")
                   for name, schema in schemas_of(files.values()).items()]
    except ValueError as exc:
        return _fail(str(exc), EXIT_FAILED)
    if dataset is None:
        folder = config.paths.share_dir if share else config.paths.output_dir
        queries.insert(0, parameter_query(str(folder)))
    sys.stdout.write("\n".join(queries))
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"sf-assets: {message}", file=sys.stderr)
    return code
