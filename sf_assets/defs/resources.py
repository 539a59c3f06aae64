"""Dagster resources: the pipeline configuration and the Salesforce connection."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from sf_assets.config import PipelineConfig, load_config
from sf_assets.observability.logs import ensure_logging
from sf_assets.pipeline.emulator import open_connection
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.storage.deletion import track_deletes


class PipelineConfigResource(dg.ConfigurableResource):
    """The validated pipeline YAML at `config_path` (set by the code location from `SF_ASSETS_CONFIG` or the cwd)."""

    config_path: str
    _config: PipelineConfig | None = PrivateAttr(default=None)

    def load(self) -> PipelineConfig:
        """The configuration, parsed once per resource; run processes also get the log files set up and their
        deletes tracked (`storage.deletion`)."""
        if self._config is None:
            self._config = load_config(self.config_path)
            ensure_logging(self._config.logging.level, self._config.paths.log_dir, self._config.logging.format)
            track_deletes(self._config.paths)  # a file another program holds open is deleted by a later refresh
        return self._config


class SalesforceResource(dg.ConfigurableResource):
    """An authenticated Salesforce connection built from the pipeline configuration."""

    pipeline: PipelineConfigResource
    _connection: SalesforceConnection | None = PrivateAttr(default=None)

    def connection(self) -> SalesforceConnection:
        """The `SalesforceConnection` (one pooled HTTP session per run process)."""
        if self._connection is None:
            self._connection = open_connection(self.pipeline.load().salesforce)
        return self._connection

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the HTTP session when the run ends."""
        if self._connection is not None:
            self._connection.close()
