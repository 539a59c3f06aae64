"""Configuration of fields that change in the org between refreshes (part of `config.models`' reference doc)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MissingFieldRule = Literal["keep_null", "fail"]


class DriftConfig(BaseModel):
    """Fields that change in the org between refreshes (deleted, renamed, hidden, added, retyped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_missing_field: MissingFieldRule = Field(
        "keep_null", description="A field an earlier refresh delivered and the org no longer does (deleted, "
        "renamed, hidden by a permission change): `keep_null` keeps it as an all-null column of its last type, "
        "with a warning; `fail` fails the refresh before extracting the object (per object: "
        "`objects[].on_missing_field`).")
    keep_removed_refreshes: int = Field(
        3, ge=0, description="Under `SELECT *`, successful refreshes that keep a removed field as an all-null "
        "column before it is dropped (with a warning). A field the SOQL names is kept while it names it.")
