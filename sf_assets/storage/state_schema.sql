-- State DB of sf_assets: catalog cache, field mappings, refreshes, chunk plan and job tracker.
CREATE TABLE IF NOT EXISTS catalog_objects (
    object TEXT PRIMARY KEY,
    describe_json TEXT NOT NULL,
    last_fetched TEXT NOT NULL
);
DROP TABLE IF EXISTS metadata_catalog;  -- was written, never read (describe_json holds everything)
CREATE TABLE IF NOT EXISTS field_mapping (
    object TEXT NOT NULL,
    column_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    sf_type TEXT NOT NULL,
    arrow_type TEXT NOT NULL,
    pandas_dtype TEXT NOT NULL,
    sqlite_type TEXT NOT NULL,
    nullable INTEGER NOT NULL,
    plan_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (object, column_name)
);
CREATE TABLE IF NOT EXISTS refreshes (
    refresh_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    info_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS object_estimates (
    refresh_id TEXT NOT NULL,
    object TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    counted_at TEXT NOT NULL,
    PRIMARY KEY (refresh_id, object)
);
CREATE TABLE IF NOT EXISTS chunks (
    refresh_id TEXT NOT NULL,
    object TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    id_lo TEXT,
    id_hi TEXT,
    job_id TEXT,
    job_api_version TEXT,
    next_locator TEXT,
    pages_done INTEGER NOT NULL DEFAULT 0,
    file_path TEXT,
    rows INTEGER,
    bytes INTEGER,
    checksum TEXT,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    ended_at TEXT,
    error TEXT,
    max_last_modified TEXT,
    job_records INTEGER,  -- the Bulk job's numberRecordsProcessed (the row check compares it with the file)
    retries INTEGER NOT NULL DEFAULT 0,  -- retries logged while extracting it in this refresh (any call of the chunk)
    retry_causes TEXT,  -- their distinct causes, '; '-separated (the health JSON's warning of the chunk)
    PRIMARY KEY (refresh_id, object, chunk_id)
);
-- Results pages of a chunk's current Bulk job already written as Parquet parts (resume + row checks).
CREATE TABLE IF NOT EXISTS chunk_pages (
    refresh_id TEXT NOT NULL,
    object TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    locator TEXT,
    records INTEGER NOT NULL,
    PRIMARY KEY (refresh_id, object, chunk_id, page)
);
-- Facts about a refresh that later stages and the health JSON read (throttled, usage/disk at start...).
CREATE TABLE IF NOT EXISTS refresh_facts (
    refresh_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (refresh_id, name)
);
-- The refresh that each asset backfill (UI "Materialize all", the nightly schedule) works on.
CREATE TABLE IF NOT EXISTS backfill_refreshes (
    backfill_id TEXT PRIMARY KEY,
    refresh_id TEXT NOT NULL
);
-- The process executing each Dagster run of ours: a run whose process is gone is dead (see pipeline reaping).
CREATE TABLE IF NOT EXISTS run_processes (
    run_id TEXT PRIMARY KEY,
    refresh_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    process_started REAL NOT NULL,
    host TEXT NOT NULL
);
-- How many stable chunk partition keys (c0001…) each object should have from its last plan.
CREATE TABLE IF NOT EXISTS chunk_key_targets (
    object TEXT PRIMARY KEY,
    keys INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
-- The field plan each refresh used per object (drift rules compare with the last successful refresh's).
CREATE TABLE IF NOT EXISTS refresh_field_plans (
    refresh_id TEXT NOT NULL,
    object TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (refresh_id, object)
);
