"""Extraction test helpers: a product connection to an emulated org, field plans, expected data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sf_assets.config.models import ApiUsageConfig, EmulatorAuth, ExtractionConfig, RetryConfig, SalesforceConfig
from sf_assets.emulator import EmulatorOrg
from sf_assets.extract.chunk_extract import ExtractContext, chunk_path
from sf_assets.extract.chunk_planner import plan_chunks
from sf_assets.extract.object_extract import ObjectResult, extract_object
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.pipeline.emulator import open_connection
from sf_assets.salesforce.bulk2 import BulkClient
from sf_assets.salesforce.catalog import sf_describer
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.salesforce.field_planning import build_field_plan
from sf_assets.salesforce.governor import ApiGovernor
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.soql import parse_soql
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.state_db import open_state_db

FAST_RETRY = RetryConfig(attempts=3, backoff_base_s=0.01, backoff_max_s=0.05, jitter_s=0.01)
FAST_EXTRACTION = ExtractionConfig(
    poll_initial_s=0.01, poll_max_s=0.05, max_records_per_page=400, max_concurrent_jobs=2
)
SOQL = {
    "Account": "SELECT Id, Name, Type, AnnualRevenue, NumberOfEmployees, Description, BillingAddress, ParentId, "
               "OwnerId, CreatedDate, LastModifiedDate FROM Account",
    "Contact": "SELECT Id, AccountId, Account.Name, FirstName, LastName, Email, Birthdate, MailingAddress, "
               "LastModifiedDate FROM Contact",
    "Opportunity": "SELECT Id, AccountId, Account.Name, Name, StageName, Amount, Probability, CloseDate, IsClosed, "
                   "IsWon, ExpectedRevenue, Description, LastModifiedDate FROM Opportunity",
    "Widget__c": "SELECT * FROM Widget__c",
}
QUERY_ALL = {"Widget__c"}


def connect(org: EmulatorOrg, tmp: Path) -> SalesforceConnection:
    """The product's connection to `org` through its state file."""
    state = org.write_state_file(tmp / "org.json")
    return open_connection(SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=state, autostart=False)))


def field_plan(connection: SalesforceConnection, object_name: str, soql: str | None = None) -> FieldPlan:
    """The object's field plan, from describe() of the object and of its parents."""
    describe = sf_describer(connection.client())
    catalog = {name: ObjectMeta.from_describe(describe(name)) for name in {"Account", object_name}}
    return build_field_plan(parse_soql(soql or SOQL[object_name]), catalog, critical_fields=[])


def make_context(connection: SalesforceConnection, tmp: Path, refresh_id: str = "R1", *,
                 extraction: ExtractionConfig = FAST_EXTRACTION, retry: RetryConfig = FAST_RETRY,
                 usage: ApiUsageConfig | None = None) -> ExtractContext:
    """An ExtractContext over a state DB and work dir under `tmp`."""
    governor = ApiGovernor(usage or ApiUsageConfig(), extraction.max_concurrent_jobs)
    client = BulkClient(connection, governor, retry, extraction)
    return ExtractContext(client, ChunkTracker(open_state_db(tmp / "state.db")), refresh_id, tmp / "work")


def expected_table(org: EmulatorOrg, plan: FieldPlan, query_all: bool) -> pa.Table:
    """What the org holds for the plan's columns, typed like the plan (deleted rows only with queryAll)."""
    total = org.data.rows(plan.object_name)
    table = org.data.generate(plan.object_name, 0, total, list(plan.column_names))
    if not query_all:
        table = table.filter(pa.array(~org.data.deleted(plan.object_name, np.arange(total))))
    return pa.Table.from_arrays([table.column(c.name).cast(c.arrow_type) for c in plan.columns],
                                schema=plan.arrow_schema())


def read_chunks(ctx: ExtractContext, plan: FieldPlan) -> pa.Table:
    """Every chunk file of the object, concatenated in Id order."""
    states = ctx.tracker.chunks(ctx.refresh_id, plan.object_name)
    tables = [pq.read_table(chunk_path(ctx.work_dir, ctx.refresh_id, plan.object_name, s.key.chunk_id)) for s in states]
    table = pa.concat_tables(tables)
    return table.take(pc.sort_indices(table, [("Id", "ascending")]))


def extract_all(ctx: ExtractContext, plan: FieldPlan, chunk_size: int) -> ObjectResult:
    """Plan (or reuse the plan of) the object's chunks, then extract them all."""
    query_all = plan.object_name in QUERY_ALL
    plan_chunks(ctx.client, ctx.tracker, plan, ctx.refresh_id, chunk_size=chunk_size, query_all=query_all)
    return extract_object(ctx, plan, query_all=query_all)
