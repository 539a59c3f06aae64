"""Pydantic models of `config/pipeline.yaml`. Every field's description is its reference doc.

`docs/CONFIGURATION.md` is generated from these models (`sf-assets config doc --output docs/CONFIGURATION.md`).
Relative paths are resolved against the directory of the configuration file.
Secrets are never stored here: only the *names* of environment variables that hold them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sf_assets.config.drift import DriftConfig, MissingFieldRule
from sf_assets.config.extraction import ChunkSize, ExtractionConfig
from sf_assets.config.output import OutputConfig
from sf_assets.config.schedule import ScheduleConfig

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OWNER = re.compile(r"team:\S+|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,7}")  # what Dagster accepts as an owner
MAX_DATASET_NAME = 40


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EnvVarName = Annotated[str, Field(pattern=_ENV_NAME.pattern, description="Name of an environment variable")]


class EmulatorAuth(_Model):
    """Target the built-in local org emulator (`sf-assets org serve`)."""

    kind: Literal["emulator"] = Field(description="Selects this auth kind.")
    state_file: Path = Field(Path("../var/org/org.json"), description="State file written by `sf-assets org serve`.")
    autostart: bool = Field(True, description="Start an in-process emulator when none answers at the state file's URL.")
    rows: dict[str, int] = Field(
        default_factory=lambda: {"Account": 2000, "Contact": 5000, "Opportunity": 10000, "Widget__c": 1000},
        description="Rows per object of an autostarted emulator.")
    seed: int = Field(7, description="Data seed of an autostarted emulator.")


def _https_only(value: str | None) -> str | None:
    """Refuse a URL that would send logins and tokens unencrypted."""
    if value is not None and not value.lower().startswith("https://"):
        raise ValueError("must be an https:// URL (tokens and passwords are never sent unencrypted)")
    return value


class AccessTokenAuth(_Model):
    """An existing session: access token (from an environment variable) and instance URL."""

    kind: Literal["access_token"] = Field(description="Selects this auth kind.")
    instance_url: str = Field(description="https://yourorg.my.salesforce.com (https:// required).")
    access_token_env: EnvVarName = Field("SF_ACCESS_TOKEN", description="Env var holding the access token.")

    @field_validator("instance_url")
    @classmethod
    def _https(cls, value: str) -> str:
        return _https_only(value) or value


class PasswordAuth(_Model):
    """Username + password + security token (SOAP login, or OAuth password flow with a connected app)."""

    kind: Literal["password"] = Field(description="Selects this auth kind.")
    username: str = Field(description="Salesforce username.")
    password_env: EnvVarName = Field("SF_PASSWORD", description="Env var holding the password.")
    security_token_env: EnvVarName | None = Field(
        "SF_SECURITY_TOKEN", description="Env var holding the security token (None for IP-allowlisted users).")
    domain: str = Field("login", description="'login', 'test' or your My Domain (e.g. 'acme.my').")
    consumer_key: str | None = Field(None, description="Connected app consumer key (OAuth password flow).")
    consumer_secret_env: EnvVarName | None = Field(None, description="Env var holding the consumer secret.")


class ClientCredentialsAuth(_Model):
    """OAuth 2.0 client credentials flow of a connected app (needs a My Domain)."""

    kind: Literal["client_credentials"] = Field(description="Selects this auth kind.")
    consumer_key: str = Field(description="Connected app consumer key.")
    consumer_secret_env: EnvVarName = Field("SF_CONSUMER_SECRET", description="Env var holding the consumer secret.")
    domain: str = Field(description="Your My Domain, e.g. 'acme.my' (login/test are refused by Salesforce).")


class JwtAuth(_Model):
    """OAuth 2.0 JWT bearer flow: connected app + certificate."""

    kind: Literal["jwt"] = Field(description="Selects this auth kind.")
    username: str = Field(description="Salesforce username.")
    consumer_key: str = Field(description="Connected app consumer key.")
    private_key_file: Path = Field(description="PEM private key whose certificate the connected app holds.")
    domain: str = Field("login", description="'login', 'test' or your My Domain.")


AuthConfig = Annotated[
    EmulatorAuth | AccessTokenAuth | PasswordAuth | ClientCredentialsAuth | JwtAuth, Field(discriminator="kind")
]


class SalesforceConfig(_Model):
    """Connection to the org."""

    auth: AuthConfig = Field(default_factory=lambda: EmulatorAuth(kind="emulator"))
    api_version: str = Field("62.0", pattern=r"^\d{2,3}\.0$", description="REST/Bulk API version, e.g. '62.0'.")
    login_url: str | None = Field(None, description="Send logins here instead of https://<domain>.salesforce.com "
                                  "(proxies, the emulator); https:// required.")
    ca_bundle: Path | None = Field(None, description="PEM file of CAs to trust (corporate TLS proxy, the emulator).")
    verify: bool = Field(True, description="Verify TLS certificates. Only `auth.kind: emulator` may turn it off; "
                         "`ca_bundle` is the way to add trust.")
    connect_timeout_s: float = Field(15.0, gt=0, description="Seconds to wait for a TCP/TLS connection.")
    read_timeout_s: float = Field(300.0, gt=0, description="Seconds to wait for response bytes.")

    @field_validator("login_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return _https_only(value)

    @model_validator(mode="after")
    def _verify_outside_emulator(self) -> SalesforceConfig:
        if not self.verify and self.auth.kind != "emulator":
            raise ValueError("verify: false is only allowed with auth.kind: emulator; to trust a corporate proxy "
                             "set ca_bundle")
        return self


class ObjectConfig(_Model):
    """One Salesforce object to extract."""

    name: str = Field(description="API name, e.g. Account or Widget__c.")
    soql: str = Field(description="SELECT ... FROM <name> [WHERE ...]; `SELECT *` takes every queryable field.")
    query_all: bool = Field(False, description="Use queryAll (include deleted/archived rows, with IsDeleted).")
    critical_fields: list[str] = Field(default_factory=list, description="Fields whose absence fails the refresh.")
    join_keys: list[str] = Field(default_factory=list,
                                 description="Reference fields used by datasets; critical and indexed.")
    index_fields: list[str] = Field(default_factory=list, description="Extra fields indexed in SQLite staging.")
    type_overrides: dict[str, str] = Field(
        default_factory=dict, description="Field -> string|int64|float64|bool|date|timestamp|time|decimal(p,s).")
    chunk_size: ChunkSize | None = Field(None, description="Overrides extraction.chunk_size for this object.")
    on_missing_field: MissingFieldRule | None = Field(None, description="Overrides drift.on_missing_field here.")

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"'{value}' is not a Salesforce API name")
        return value


class RetryConfig(_Model):
    """Retries of transient errors (timeouts, connection errors, 5xx, rate limits)."""

    attempts: int = Field(3, ge=1, le=20, description=(
        "Tries of one call, the first included. In a chunk every retry (its Bulk job, a results page, a status poll) "
        "counts in one sequence: `attempts` tries per step the chunk reaches (each new page starts again)."))
    backoff_base_s: float = Field(1.0, ge=0, description="First backoff; doubles each retry.")
    backoff_max_s: float = Field(60.0, ge=0, description="Longest backoff.")
    jitter_s: float = Field(1.0, ge=0, description="Random extra wait up to this, against thundering herds.")


class ApiUsageConfig(_Model):
    """Daily API request budget."""

    warn_pct: float = Field(80.0, gt=0, le=100, description="Warn, wait, then throttle at or above this usage.")
    halt_pct: float = Field(90.0, gt=0, le=100, description="Stop before creating any job at or above this usage.")
    wait_initial_s: float = Field(60.0, ge=0, description="First wait for usage to fall (doubles each attempt).")
    wait_attempts: int = Field(3, ge=0, description="Waits for usage to fall before continuing throttled.")

    @model_validator(mode="after")
    def _ordered(self) -> ApiUsageConfig:
        if self.warn_pct > self.halt_pct:
            raise ValueError(f"warn_pct ({self.warn_pct}) must not exceed halt_pct ({self.halt_pct})")
        return self


class PathsConfig(_Model):
    """Where files go. Work, output and log dirs must be local disks; the share may be UNC."""

    work_dir: Path = Field(Path("../var/work"), description="Chunk files, temp files, spill (fast local disk).")
    output_dir: Path = Field(Path("../var/output"), description="Power BI Parquet output and health JSON.")
    log_dir: Path = Field(Path("../var/logs"), description="Rotating JSON-lines logs.")
    state_db: Path = Field(Path("../var/state/state.db"), description="Catalog, plans, job tracker (local disk).")
    staging_db: Path = Field(Path("../var/state/staging.db"), description="SQLite staging tables (local disk).")
    share_dir: Path | None = Field(None, description=r"Network share to publish to, e.g. \\server\share\powerbi.")
    create_share_dir: bool = Field(
        False, description="Create share_dir when missing (a local folder, as in the demo); leave off for a real share."
    )


class PreflightConfig(_Model):
    """Checks before any extraction."""

    min_free_disk_gb: float = Field(20.0, ge=0, description="Free space each drive of work, staging and output must "
                                    "keep beyond what preflight predicts the refresh needs there (decimal GB).")
    catalog_ttl_hours: float = Field(24.0, ge=0, description="Reuse cached describe() results younger than this "
        "(never for `SELECT *`, a SOQL field it lacks, or a field Salesforce rejects: INVALID_FIELD).")


class StagingConfig(_Model):
    """SQLite staging."""

    batch_rows: int = Field(10_000, gt=0, description="Rows per batch read from the chunk files and ingested.")
    cache_size_mb: int = Field(
        64, gt=0, description="SQLite page cache of a load (PRAGMA cache_size; the index sort uses as much again).")
    max_invalid_chunk_pct: float = Field(30.0, ge=0, le=100,
                                         description="Stop the refresh when more chunks are invalid.")
    lock_timeout_s: float = Field(60.0, gt=0,
                                  description="How long to wait for another program to release the staging DB.")


class TransformConfig(_Model):
    """How the datasets' SQL runs."""

    engine: str = Field(
        "dask_sql", description="Dataset engine: dask_sql (parallel; its settings are under `dask:`) or sqlite (low "
        "memory, no Dask). Written `dask.engine` before: read there for one release, with a warning.")


class DaskConfig(_Model):
    """Settings of the dask_sql dataset engine."""

    scheduler_address: str | None = Field(None, description="tcp://host:8786 of an existing Dask scheduler.")
    n_workers: int = Field(2, ge=1, description="LocalCluster worker processes.")
    threads_per_worker: int = Field(1, ge=1, description="Threads per LocalCluster worker.")
    memory_limit: str = Field("3GB", description="Per worker, e.g. '3GB'.")
    spill_dir: Path | None = Field(None, description="Defaults to <work_dir>/dask-spill.")
    in_process_below_rows: int = Field(
        250_000, ge=0,
        description="A run whose datasets read fewer staged rows than this runs them on worker threads in its own "
                    "process (no worker processes to start, 2-3 s less; no per-worker memory limit); 0: always "
                    "worker processes.")

    def worker_processes(self, input_rows: int | None) -> bool:
        """Whether a LocalCluster for datasets reading `input_rows` staged rows (None: unknown) gets worker
        processes."""
        return input_rows is None or input_rows >= self.in_process_below_rows


class DatasetConfig(_Model):
    """A named SQL statement over the staged objects; each becomes one Power BI output."""

    name: str = Field(description="Output name (letters, digits, _).")
    sql: str = Field(description="SQL over the staged objects (tables named like the objects).")
    partition_cols: list[str] = Field(default_factory=list, description="Hive partition columns of the dataset.")

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"dataset name '{value}' must be letters, digits and _")
        if len(value) > MAX_DATASET_NAME:  # keeps output paths under Windows' MAX_PATH on a UNC share
            raise ValueError(f"dataset name '{value}' is longer than {MAX_DATASET_NAME} characters")
        return value


class PublishConfig(_Model):
    """Copy to the network share."""

    retries: int = Field(3, ge=0, description="Retries of a failed copy to the share.")
    keep_last: int | None = Field(None, ge=1, description="Keep the last N published files; None keeps all.")
    include_dataset_folder: bool = Field(
        False, description="Also copy each dataset's Hive-partitioned folder (for Power BI's Folder connector).")


class LoggingConfig(_Model):
    """Structured logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log verbosity.")
    format: Literal["json", "keyvalue"] = Field("json", description="Log line format of the log files.")


class PipelineConfig(_Model):
    """The whole pipeline configuration (one YAML file)."""

    salesforce: SalesforceConfig = Field(default_factory=SalesforceConfig)
    objects: list[ObjectConfig] = Field(min_length=1)
    extraction: ExtractionConfig = Field(default_factory=ExtractionConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    api_usage: ApiUsageConfig = Field(default_factory=ApiUsageConfig)
    preflight: PreflightConfig = Field(default_factory=PreflightConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    staging: StagingConfig = Field(default_factory=StagingConfig)
    transform: TransformConfig = Field(default_factory=TransformConfig)
    dask: DaskConfig = Field(default_factory=DaskConfig)
    datasets: list[DatasetConfig] = Field(default_factory=list)
    output: OutputConfig = Field(default_factory=OutputConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    owner: str | None = Field(
        None, description="Owner of every asset in the Dagster UI: an email address or `team:<name>` (none if unset).")
    source_file: Path | None = Field(None, exclude=True, description="Set by the loader.")
    deprecations: tuple[str, ...] = Field(
        (), exclude=True, description="Set by the loader: one line per renamed key read in its old place.")

    @field_validator("owner")
    @classmethod
    def _valid_owner(cls, value: str | None) -> str | None:
        if value is not None and not _OWNER.fullmatch(value):
            raise ValueError("must be an email address or 'team:<name>' (e.g. team:data)")
        return value

    @model_validator(mode="after")
    def _cleanup_spares_resumable_work(self) -> PipelineConfig:
        if self.output.cleanup_after_hours < self.extraction.resume_window_hours:
            raise ValueError(
                f"output.cleanup_after_hours ({self.output.cleanup_after_hours:g}) must not be shorter than extraction."
                f"resume_window_hours ({self.extraction.resume_window_hours:g}): resumable chunks would be deleted"
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> PipelineConfig:
        for kind, names in (("object", [o.name for o in self.objects]), ("dataset", [d.name for d in self.datasets])):
            lowered = [n.lower() for n in names]
            dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} names: {', '.join(dupes)}")
        return self

    def object(self, name: str) -> ObjectConfig:
        """The configured object called `name` (KeyError if absent)."""
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise KeyError(name)
