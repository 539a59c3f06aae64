"""`schedule:` settings: whether the nightly refresh runs by itself, its cron and timezone (part of `config.models`'
reference doc)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sf_assets.config.schedule_rules import cron_error, timezone_error


class ScheduleConfig(BaseModel):
    """Nightly refresh."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False, description="Whether the nightly schedule and the sensor continue_scheduled_refresh run as soon as "
        "the Dagster daemon starts. Off: nothing runs before someone turns them on in the UI (Automation), which "
        "Dagster remembers across restarts.")
    cron: str = Field("0 2 * * *", description="Cron of the nightly refresh.")
    timezone: str = Field("UTC", description="IANA timezone of the cron.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if (error := cron_error(value)) is not None:
            raise ValueError(error)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        if (error := timezone_error(value)) is not None:
            raise ValueError(error)
        return value
