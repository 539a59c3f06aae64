"""Dagster-free stage services, one module per stage: what the Dagster layer and the CLI call."""
