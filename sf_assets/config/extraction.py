"""Configuration of the Bulk API 2.0 extraction (part of `config.models`' reference doc)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ChunkSize = Annotated[int, Field(gt=0)] | Literal["auto"]


class ExtractionConfig(BaseModel):
    """Bulk API 2.0 extraction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_size: ChunkSize = Field("auto", description=(
        "Most rows per chunk (one Bulk job = one partition). `auto`: as many rows as the object's jobs extracted in "
        "5 minutes on the last refresh (0.5-10 M; 2.5 M before any), so a chunk is one job unless it is big."))
    max_concurrent_jobs: int = Field(2, ge=1, le=2, description="Bulk jobs at once, across threads and runs.")
    max_records_per_page: int = Field(
        400_000, gt=0, description="Most rows of a results page (API 58.0+: fewer when that spreads a job's pages "
        "over the parallel downloads, not below 20,000).")
    max_concurrent_requests: int = Field(8, ge=1, le=24, description="Salesforce requests in flight at once per "
        "connection (polls, pages, counts, creations; pages at most 2 fewer), below an org's 25 long-running ones.")
    poll_initial_s: float = Field(0.2, gt=0, description="Shortest wait between job status polls.")
    poll_fraction: float = Field(
        0.25, gt=0, le=1, description="Each wait between job status polls is at most this fraction of the time the "
        "job has been waited for, so a processed job is noticed within that fraction of its processing time.")
    poll_max_s: float = Field(30.0, gt=0, description="Longest wait between job status polls.")
    resume_window_hours: float = Field(20.0, ge=0, description="An unfinished refresh younger than this is resumed.")
    job_timeout_minutes: float = Field(240.0, gt=0, description="Abort a Bulk job that has not completed by then.")
    row_drop_warn_pct: float = Field(
        20.0, ge=0, le=100, description="Warn (check `row_count_drop`) when an object's rows fall by more than this "
        "% from its last successful refresh.")
