"""Field plans and typed Parquet chunk files built from the emulator's objects and data generator."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.emulator.datagen import DataGenerator
from sf_assets.emulator.objects import OBJECTS
from sf_assets.salesforce.field_planning import build_field_plan
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.soql import parse_soql
from sf_assets.schema.field_plan import FieldPlan

SOQL = {
    "Account": "SELECT Id, Name, Type, Industry, AnnualRevenue, NumberOfEmployees, Rating, "
    "BillingCountry, CreatedDate FROM Account",
    "Opportunity": "SELECT Id, AccountId, Account.Name, Name, StageName, Amount, Probability, CloseDate, "
    "Type, LeadSource, IsClosed, IsWon, ForecastCategory, ExpectedRevenue, CreatedDate, LastModifiedDate "
    "FROM Opportunity",
    "Widget__c": "SELECT * FROM Widget__c",
}


def catalog() -> dict[str, ObjectMeta]:
    """describe()-built metadata of every emulated object."""
    return {
        o.name: ObjectMeta.from_describe({"name": o.name, "fields": [f.describe() for f in o.fields]})
        for o in OBJECTS.values()
    }


def emulator_plan(object_name: str, soql: str | None = None, critical: tuple[str, ...] = (),
                  join_keys: tuple[str, ...] = ()) -> FieldPlan:
    """The field plan of an emulated object for ``soql`` (default: SOQL[object_name])."""
    return build_field_plan(parse_soql(soql or SOQL[object_name]), catalog(), critical, join_keys)


def chunk_table(gen: DataGenerator, plan: FieldPlan, start: int, stop: int) -> pa.Table:
    """Rows [start, stop) of the object, typed exactly like an extracted chunk."""
    table = gen.generate(plan.object_name, start, stop, list(plan.column_names))
    return table.cast(plan.arrow_schema(), safe=False)


def write_chunks(gen: DataGenerator, plan: FieldPlan, folder: Path, chunk_rows: int) -> list[Path]:
    """One Parquet chunk file per ``chunk_rows`` rows of the object."""
    folder.mkdir(parents=True, exist_ok=True)
    total, files = gen.rows(plan.object_name), []
    for i, start in enumerate(range(0, total, chunk_rows)):
        path = folder / f"{plan.object_name}__chunk{i:04d}.parquet"
        pq.write_table(chunk_table(gen, plan, start, start + chunk_rows), path)
        files.append(path)
    return files
