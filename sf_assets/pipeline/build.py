"""Stage "build": every dataset (Dask-SQL or SQLite) and the all-or-nothing Power BI output (Dagster-free)."""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sf_assets.config import PipelineConfig
from sf_assets.observability.logs import log_context
from sf_assets.storage.output import BuiltVersion, PublishedDataset, build_version
from sf_assets.storage.output_cleanup import prune_versions, remove_dead_output_temps
from sf_assets.storage.output_promote import PromotionError, promote_all, recover_promotion
from sf_assets.storage.refresh_facts import put_fact
from sf_assets.storage.state_db import state_session
from sf_assets.storage.temp_owner import owner_tag, remove_dead_temps
from sf_assets.transform.cluster import dask_client
from sf_assets.transform.datasets import DatasetsReport, build_datasets

log = logging.getLogger(__name__)

_PARTS_FOLDER = re.compile(r"\.p\d+s\d+$")  # work/datasets/<refresh_id>.<owner>: engine parts of one run


@dataclass
class OutputsReport:
    """Datasets built and published; `failed` maps dataset name to its error.

    All or nothing: when any dataset failed, `published` is empty and the datasets that did build
    are listed in `held_back` (built and verified, not promoted); the previous files stay current.
    """

    published: list[PublishedDataset] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return bool(self.published) and not self.failed

    def to_health(self) -> dict[str, object]:
        """The `outputs` section of the health JSON: promoted or not, and which dataset failed and why."""
        return {
            "promoted": self.promoted,
            "policy": "all-or-nothing: a refresh's files become current only when every dataset built and verified",
            "failed": dict(self.failed),
            "held_back": list(self.held_back),
            "published": {p.dataset: {"refresh_id": p.refresh_id, "rows": p.rows, "folder": str(p.folder),
                                      "stable_file": str(p.stable_file) if p.stable_file else None}
                          for p in self.published},
        }


def build_outputs(config: PipelineConfig, refresh_id: str) -> tuple[DatasetsReport, OutputsReport]:
    """Run every dataset (a failing one does not stop the others); promote them all only when all succeeded."""
    paths = config.paths
    parts_root = paths.work_dir / "datasets" / f"{refresh_id}.{owner_tag()}"
    with log_context(refresh_id=refresh_id):
        recover_promotion(paths.output_dir, config.output.in_use_wait_s)
        remove_dead_output_temps(paths.output_dir, [d.name for d in config.datasets])
        remove_dead_temps(paths.work_dir / "datasets", _PARTS_FOLDER)
        built: list[BuiltVersion] = []
        try:
            report = _run_datasets(config, parts_root)
            outputs = OutputsReport(failed={r.name: r.error or "failed" for r in report.results if not r.ok})
            by_name = {d.name: d for d in config.datasets}
            for result in report.results:
                if result.result is None:
                    continue
                try:
                    built.append(build_version(
                        by_name[result.name], result.result.parts, result.result.schema, result.result.rows,
                        paths.output_dir, config.output, refresh_id, source_rows=result.source_rows,
                        timings={"build_s": result.seconds}))
                except Exception as exc:  # noqa: BLE001 - reported per dataset; the others go on
                    log.error("Writing dataset %s failed: %s", result.name, exc)
                    outputs.failed[result.name] = f"{type(exc).__name__}: {exc}"
            if outputs.failed:
                outputs.held_back = [b.dataset for b in built]
                log.error("Not promoting refresh %s: %s failed; the previous Power BI files stay current (%s built "
                          "but held back)", refresh_id, ", ".join(outputs.failed), ", ".join(outputs.held_back) or "none")
            else:
                _promote(config, built, outputs)
        finally:
            for b in built:
                shutil.rmtree(b.tmp, ignore_errors=True)
            shutil.rmtree(parts_root, ignore_errors=True)
        record_outputs(config, refresh_id, outputs)
    return report, outputs


def record_outputs(config: PipelineConfig, refresh_id: str, outputs: OutputsReport) -> None:
    """Keep `outputs.to_health()` as the refresh fact "outputs", for the health JSON."""
    with state_session(config.paths.state_db) as conn:
        put_fact(conn, refresh_id, "outputs", outputs.to_health())


def _run_datasets(config: PipelineConfig, parts_root: Path) -> DatasetsReport:
    if config.dask.engine == "dask_sql":
        with dask_client(config.dask, config.paths.work_dir) as client:
            return build_datasets(config.datasets, config.paths.staging_db, parts_root, engine="dask_sql",
                                  client=client, decimals_as_float=config.output.decimals_as_float)
    return build_datasets(config.datasets, config.paths.staging_db, parts_root, engine="sqlite",
                          decimals_as_float=config.output.decimals_as_float)


def _promote(config: PipelineConfig, built: list[BuiltVersion], outputs: OutputsReport) -> None:
    try:
        outputs.published = promote_all(built, config.paths.output_dir, config.output.in_use_wait_s)
    except PromotionError as exc:
        log.error("Promoting dataset %s failed: %s; every dataset keeps its previous files", exc.dataset, exc)
        outputs.failed[exc.dataset] = str(exc)
        outputs.held_back = [b.dataset for b in built if b.dataset != exc.dataset]
        return
    for published in outputs.published:
        for old in prune_versions(published.folder.parent, config.output.keep_versions):
            log.info("Removed old output version %s of %s", old.name, published.dataset)
