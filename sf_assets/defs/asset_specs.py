"""What every asset page shows besides its data: kinds (the tags under each lineage node) and the owner.

Kinds name the technology an asset lives in, so `salesforce/Opportunity` (kinds salesforce, parquet) and
`staging/Opportunity` (sqlite) read differently in the lineage, whose nodes show only the key's last part.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.transform.engines import dataset_engine

SALESFORCE = {"salesforce"}          # asks Salesforce (preflight, describe, chunk planning)
EXTRACTED = {"salesforce", "parquet"}  # Bulk API results written as Parquet chunk files
STAGING = {"sqlite"}                 # a table of the SQLite staging DB
POWERBI = {"parquet", "powerbi"}     # Parquet files for Power BI (output and its share copy)


def dataset_kinds(engine: str) -> set[str]:
    """Kinds of a dataset built by the engine named `engine` (`transform.engine`) into Power BI Parquet."""
    return {dataset_engine(engine).kind, *POWERBI}


def with_owner(assets: Sequence[dg.AssetsDefinition | dg.AssetSpec], config: PipelineConfig
               ) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Every asset owned by `config.owner` (unchanged when no owner is configured)."""
    owner = config.owner
    if owner is None:
        return list(assets)
    return list(dg.map_asset_specs(lambda spec: spec.replace_attributes(owners=[owner]), assets))
