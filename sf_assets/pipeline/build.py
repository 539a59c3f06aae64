"""Stage "build": datasets (Dask-SQL or SQLite) built and held, then the refresh's whole set promoted as the
all-or-nothing Power BI output (Dagster-free).

`build_held` builds any selection of datasets with one engine start (one Dask cluster) and holds each
verified version under ``work_dir/held`` (``storage.output_held``): nothing the user or the share sees
changes. `promote_refresh` makes a refresh's set current together, and only when every dataset has a
verified version of that refresh (held, or already current) built from the current staging and SQL.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sf_assets.config import PipelineConfig
from sf_assets.config.models import DatasetConfig
from sf_assets.extract.tracker import rows_per_object
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.output_report import record_built_version
from sf_assets.pipeline.powerbi_handoff import write_output_handoff
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.manifest import read_manifest
from sf_assets.storage.output import CURRENT, BuiltVersion, PromotedDataset, build_version, consolidated_name
from sf_assets.storage.output_cleanup import remove_dead_output_temps
from sf_assets.storage.output_held import HeldVersion, drop, held_folder, hold, output_temp, read_held
from sf_assets.storage.output_promote import PromotionError, promote_all, recover_promotion
from sf_assets.storage.refresh_facts import put_fact
from sf_assets.storage.staging import staging_stats
from sf_assets.storage.state_db import state_session
from sf_assets.storage.temp_owner import owner_tag, remove_dead_temps
from sf_assets.transform.datasets import DatasetsReport, build_datasets
from sf_assets.transform.engines import dataset_engine
from sf_assets.transform.staged import referenced_tables, rows_read, staged_tables

log = logging.getLogger(__name__)

_PARTS_FOLDER = re.compile(r"\.p\d+s\d+$")  # work/datasets/<refresh_id>.<owner>: engine parts of one run


@dataclass
class HeldReport:
    """Datasets built in one run: verified and held (`held`, with `seconds` from engine start to verified
    version), or failed (name → one-line error)."""

    held: list[HeldVersion] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class OutputsReport:
    """The promotion of one refresh's set; `failed` maps dataset name to why it blocks the promotion.

    All or nothing: when any dataset failed, `promoted_datasets` is empty and the datasets that did build
    are listed in `held_back` (built and verified, not promoted); the previous files stay current.
    """

    promoted_datasets: list[PromotedDataset] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return bool(self.promoted_datasets) and not self.failed

    def to_health(self) -> dict[str, object]:
        """The `outputs` section of the health JSON: promoted or not, and which dataset failed and why."""
        return {
            "promoted": self.promoted,
            "policy": "all-or-nothing: a refresh's files become current only when every dataset built and verified",
            "failed": dict(self.failed),
            "held_back": list(self.held_back),
            "promoted_datasets": {p.dataset: {"refresh_id": p.refresh_id, "rows": p.rows, "folder": str(p.folder),
                                              "stable_file": str(p.stable_file) if p.stable_file else None}
                                  for p in self.promoted_datasets},
        }


def dataset_sources(config: PipelineConfig) -> dict[str, list[str]]:
    """The configured objects (staging tables) each dataset's SQL reads."""
    names = [o.name for o in config.objects]
    return {d.name: referenced_tables(d.sql, names) for d in config.datasets}


def warm_up_engine(config: PipelineConfig, conn: sqlite3.Connection, refresh_id: str, names: Iterable[str]) -> None:
    """Let the dataset engine prepare its start (Dask: its LocalCluster) on a background thread while the staging
    runs, sized by the rows the refresh extracted of the objects the datasets `names` read (`transform.engines`)."""
    wanted, sources = set(names), dataset_sources(config)
    read = {table for name, tables in sources.items() if name in wanted for table in tables}
    extracted = rows_per_object(conn, refresh_id)
    dataset_engine(config.transform.engine).warm_up(config, config.paths.work_dir,
                                                    sum(extracted.get(name, 0) for name in read))


def held_root(config: PipelineConfig) -> Path:
    """Where verified dataset versions wait for their refresh's promotion."""
    return config.paths.work_dir / "held"


def build_held(config: PipelineConfig, refresh_id: str, names: Iterable[str] | None = None) -> HeldReport:
    """Build the datasets named (all by default) with one engine start; hold each verified version.

    A failing dataset does not stop the others; its earlier held version of the refresh is dropped (the latest
    build decides). When the whole set was built and one failed, the refresh's `outputs` fact says so.
    """
    wanted = set(names) if names is not None else {d.name for d in config.datasets}
    selected = [d for d in config.datasets if d.name in wanted]
    paths, root = config.paths, held_root(config)
    parts_root = paths.work_dir / "datasets" / f"{refresh_id}.{owner_tag()}"
    report = HeldReport()
    with log_context(refresh_id=refresh_id):
        remove_dead_temps(paths.work_dir / "datasets", _PARTS_FOLDER)
        remove_dead_output_temps(root, [d.name for d in selected])
        staged_at = {name: t["staged_at"] for name, t in staging_stats(paths.staging_db)["tables"].items()}
        try:
            built = _run_datasets(config, selected, parts_root)
            by_name = {d.name: d for d in selected}
            for result in built.results:
                if result.result is None:  # the engine logged why
                    report.failed[result.name] = result.error or "failed"
                    drop(held_folder(root, result.name, refresh_id))
                    continue
                started = time.perf_counter()
                try:
                    version = build_version(
                        by_name[result.name], result.result.parts, result.result.schema, result.result.rows, root,
                        config.output, refresh_id, source_rows=result.source_rows, timings={"build_s": result.seconds},
                        part_format=result.result.part_format)
                    record_built_version(config, refresh_id, version)
                    sources = {t: staged_at[t] for t in result.source_rows if t in staged_at}
                    report.held.append(hold(version, root, by_name[result.name].sql, sources))
                except Exception as exc:  # reported per dataset; the others go on
                    log.error("Writing dataset %s failed: %s", result.name, exc)
                    report.failed[result.name] = f"{type(exc).__name__}: {exc}"
                    drop(held_folder(root, result.name, refresh_id))
                    continue
                report.seconds[result.name] = result.seconds + time.perf_counter() - started
        finally:
            delete_when_free(parts_root)
        if report.failed and len(selected) == len(config.datasets):
            held_back = [h.dataset for h in report.held]
            log.error("Not promoting refresh %s: %s failed; the previous Power BI files stay current (%s built "
                      "but held back)", refresh_id, ", ".join(report.failed), ", ".join(held_back) or "none")
            record_outputs(config, refresh_id, OutputsReport(failed=dict(report.failed), held_back=held_back))
    return report


def promote_refresh(config: PipelineConfig, refresh_id: str) -> OutputsReport:
    """Make the refresh's whole set of datasets current together, or none of them (see the module doc)."""
    paths, root = config.paths, held_root(config)
    outputs = OutputsReport()
    with log_context(refresh_id=refresh_id):
        recover_promotion(paths.output_dir, config.output.in_use_wait_s)
        remove_dead_output_temps(paths.output_dir, [d.name for d in config.datasets])
        staged_at = {name: t["staged_at"] for name, t in staging_stats(paths.staging_db)["tables"].items()}
        ready: list[HeldVersion] = []
        current: list[PromotedDataset] = []
        for dataset in config.datasets:
            held = read_held(root, dataset.name, refresh_id)
            why_not = _stale(held, dataset, staged_at) if held is not None else None
            if held is not None and why_not is None:
                ready.append(held)
            elif (promoted := _current(paths.output_dir, dataset.name, refresh_id)) is not None and held is None:
                current.append(promoted)
            else:
                outputs.failed[dataset.name] = why_not or (
                    f"no verified version of refresh {refresh_id}: materialize dataset/{dataset.name} (or output_job)")
        if outputs.failed:
            outputs.held_back = [h.dataset for h in ready]
            log.error("Not promoting refresh %s: %s; the previous Power BI files stay current (%s held back)",
                      refresh_id, "; ".join(f"{n}: {why}" for n, why in outputs.failed.items()),
                      ", ".join(outputs.held_back) or "none")
        else:
            _promote(config, ready, outputs)
            if not outputs.failed:
                outputs.promoted_datasets += current
                write_output_handoff(config)
        record_outputs(config, refresh_id, outputs)
    return outputs


def _stale(held: HeldVersion, dataset: DatasetConfig, staged_at: dict[str, str]) -> str | None:
    """Why a held version may not be promoted (its SQL or a staged table it read changed since), or None."""
    if held.sql != dataset.sql:
        return f"its SQL changed since its version of refresh {held.refresh_id} was built: materialize it again"
    changed = [t for t, at in held.sources_staged_at.items() if staged_at.get(t) != at]
    if changed:
        return f"staging/{', staging/'.join(changed)} was loaded again after it was built: materialize it again"
    return None


def _current(output_dir: Path, dataset: str, refresh_id: str) -> PromotedDataset | None:
    """The dataset's current output when it is already the version of `refresh_id`."""
    root = output_dir / dataset
    try:
        pointer = json.loads((root / CURRENT).read_text(encoding="utf-8"))
        manifest = read_manifest(root / pointer["folder"])
    except (OSError, ValueError, KeyError):
        return None
    if pointer.get("refresh_id") != refresh_id:
        return None
    stable = root / consolidated_name(dataset) if pointer.get("stable_file") else None
    return PromotedDataset(dataset, refresh_id, root / pointer["folder"], stable, int(pointer["rows"]), manifest)


def record_outputs(config: PipelineConfig, refresh_id: str, outputs: OutputsReport) -> None:
    """Keep `outputs.to_health()` as the refresh fact "outputs", for the health JSON."""
    with state_session(config.paths.state_db) as conn:
        put_fact(conn, refresh_id, "outputs", outputs.to_health())


def _run_datasets(config: PipelineConfig, datasets: Sequence[DatasetConfig], parts_root: Path) -> DatasetsReport:
    if not datasets:
        return DatasetsReport(())
    input_rows = rows_read((ds.sql for ds in datasets), staged_tables(config.paths.staging_db))
    with dataset_engine(config.transform.engine).start(config, config.paths.work_dir, input_rows=input_rows) as runner:
        return build_datasets(datasets, config.paths.staging_db, parts_root, runner)


def _promote(config: PipelineConfig, ready: list[HeldVersion], outputs: OutputsReport) -> None:
    built: list[BuiltVersion] = []
    try:
        built = [output_temp(h, config.paths.output_dir) for h in ready]
        outputs.promoted_datasets = promote_all(built, config.paths.output_dir, config.output.in_use_wait_s)
    except PromotionError as exc:
        log.error("Promoting dataset %s failed: %s; every dataset keeps its previous files", exc.dataset, exc)
        outputs.failed[exc.dataset] = str(exc)
        outputs.held_back = [h.dataset for h in ready if h.dataset != exc.dataset]
        return
    finally:
        for b in built:
            delete_when_free(b.tmp)
