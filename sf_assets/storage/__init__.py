"""Local files and SQLite: the state DB, catalog cache, chunk files, staging, output versions and their promotion."""
