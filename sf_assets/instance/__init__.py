"""Plug-ins of the local Dagster instance (named in `dagster_home/dagster.yaml`)."""
