"""The Dagster layer: thin assets, checks, jobs, schedule, sensors and resources over the Dagster-free stages."""
