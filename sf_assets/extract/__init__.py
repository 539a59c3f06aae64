"""Extraction (Dagster-free): refreshes, chunk plans, resumable chunk extraction, the job tracker."""
