"""Dataset engines: the YAML SQL on Dask-SQL (LocalCluster or a remote scheduler) or inside SQLite."""
