"""Configuration of the Power BI Parquet output (part of `config.models`' reference doc)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GATEWAY_CODECS = ("snappy", "gzip", "none")  # the codecs of Parquet format 1.0, which the gateway reads


class OutputConfig(BaseModel):
    """Power BI Parquet output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consolidate_for_powerbi: bool = Field(True, description="Also write one consolidated snappy Parquet file.")
    compression: Literal["snappy", "zstd", "gzip", "none"] = Field("snappy", description="Parquet codec; snappy "
                                                                  "is safest for Power BI.")
    parquet_profile: Literal["gateway", "modern"] = Field(
        "gateway", description="What a Parquet reader must understand: gateway (the on-premises data gateway's "
        "older reader: data page v1, PLAIN/RLE/RLE_DICTIONARY only, snappy, gzip or none) or modern (also zstd).")
    row_group_rows: int = Field(1_000_000, gt=0, description="Rows per Parquet row group.")
    max_rows_per_file: int = Field(5_000_000, gt=0, description="Rows per file of the partitioned dataset.")
    max_file_size_mb: int = Field(256, gt=0, description="Approximate size cap per dataset file.")
    decimals_as_float: bool = Field(False, description="Write currency/percent as float64 instead of decimal.")
    cleanup_after_hours: float = Field(72.0, ge=0,
                                       description="Temp files older than this are removed at refresh start.")
    keep_versions: int = Field(2, ge=1, description="Output versions kept per dataset (the current one included).")
    in_use_wait_s: float = Field(
        300.0, ge=0, description="How long to wait for a Power BI file another program (Power BI Desktop) holds open "
        "before the refresh's files are left as they were.")

    @model_validator(mode="after")
    def _codec_in_profile(self) -> OutputConfig:
        if self.parquet_profile == "gateway" and self.compression not in GATEWAY_CODECS:
            raise ValueError(f"compression {self.compression} is not read by the Power BI gateway: use snappy, "
                             "or set output.parquet_profile: modern")
        return self
