"""The gate between the objects and the output stage: every object of the refresh extracted.

Staging depends on it, so a backfill ("Materialize all", the scheduled refresh) starts staging, the datasets and the
Power BI output in one run once the last object is done, instead of one run per group of objects that happened to
end at the same daemon tick (each run a process start on the critical path; docs/ARCHITECTURE.md, "A refresh from
the UI").
"""

from typing import Any

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.defs.asset_specs import SALESFORCE
from sf_assets.defs.context import enter_refresh, refresh_of_step, state_db
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.extract import GROUP, object_asset_key
from sf_assets.defs.resources import PipelineConfigResource
from sf_assets.pipeline.object_figures import object_figures

EXTRACTED = dg.AssetKey("extracted")


def make_extracted_asset(config: PipelineConfig) -> dg.AssetsDefinition:
    """`extracted`: fails in one line naming what is missing unless every chunk of every object is done."""

    @dg.asset(key=EXTRACTED, group_name=GROUP, kinds=SALESFORCE,
              deps=[dg.AssetDep(object_asset_key(o.name), partition_mapping=dg.AllPartitionMapping())
                    for o in config.objects],
              description="Every object of the refresh extracted (each chunk done): the rows per object beside "
                          "Salesforce's COUNT() at preflight. Staging starts after it, so one run stages, joins and "
                          "promotes the refresh.")
    def _extracted(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
        cfg = pipeline.load()
        with state_db(cfg) as conn, one_line_failures("extraction"):
            refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
            figures = {o.name: object_figures(conn, refresh_id, o.name) for o in cfg.objects}
        missing = [f"{name} {f.chunks_planned - f.chunks_done} of {f.chunks_planned}" if f.chunks_planned
                   else f"{name} not planned" for name, f in figures.items()
                   if not f.chunks_planned or f.chunks_done < f.chunks_planned]
        if missing:
            raise dg.Failure(description=f"refresh {refresh_id} is not fully extracted (chunks not done: "
                                         f"{', '.join(missing)}): materialize them first (Partitions tab, preset "
                                         "'Failed') or run `sf-assets run`", allow_retries=False)
        metadata: dict[str, Any] = {"refresh_id": refresh_id,
                                    "dagster/row_count": sum(f.rows for f in figures.values())}
        for name, f in figures.items():
            metadata[f"{name} rows"] = f.rows
            if f.expected_rows is not None:
                metadata[f"{name} expected_rows"] = f.expected_rows
        return dg.MaterializeResult(metadata=metadata)

    return _extracted
