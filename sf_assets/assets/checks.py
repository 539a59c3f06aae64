"""Asset checks on the extracted objects."""

import dagster as dg

from sf_assets.assets.common import refresh_id_for, state_db
from sf_assets.assets.extract import object_asset_key
from sf_assets.config.models import ObjectConfig
from sf_assets.extraction import estimate
from sf_assets.resources import PipelineConfigResource, SalesforceResource
from sf_assets.salesforce.soql import compose_count_soql, parse_soql


def make_row_count_check(obj: ObjectConfig) -> dg.AssetChecksDefinition:
    """Rows extracted in the current refresh == Salesforce COUNT(), within rows created/deleted meanwhile."""

    @dg.asset_check(asset=object_asset_key(obj.name), name="row_count_matches_salesforce",
                    description=f"Rows of {obj.name} in the current refresh equal Salesforce's COUNT().")
    def _check(context: dg.AssetCheckExecutionContext, pipeline: PipelineConfigResource,
               salesforce: SalesforceResource) -> dg.AssetCheckResult:
        config = pipeline.load()
        with state_db(config) as conn:
            refresh_id = refresh_id_for(context, config, conn)
            chunks, done, rows = conn.execute(
                "SELECT COUNT(*), SUM(status = 'success'), COALESCE(SUM(CASE WHEN status = 'success' THEN rows END), 0) "
                "FROM chunks WHERE refresh_id = ? AND object = ?", (refresh_id, obj.name)).fetchone()
            before = estimate(conn, refresh_id, obj.name)
        parsed = parse_soql(obj.soql)
        now = salesforce.connection().client().query(
            compose_count_soql(parsed.object_name, parsed.where), include_deleted=obj.query_all)["totalSize"]
        low, high = min(before if before is not None else now, now), max(before if before is not None else now, now)
        complete = chunks > 0 and done == chunks
        return dg.AssetCheckResult(
            passed=bool(complete and low <= rows <= high),
            metadata={"refresh_id": refresh_id, "rows_extracted": rows, "count_at_preflight": before if before is not None else -1,
                      "count_now": now, "changed_during_refresh": high - low, "chunks_done": f"{done or 0} of {chunks}"},
        )

    return _check
