create table if not exists raw.ingest_log (
    source_file varchar,
    file_sha256 varchar,
    archived_path varchar,
    school_code varchar,
    year integer,
    table_code varchar,
    status varchar,
    rows bigint,
    reason varchar,
    reason_en varchar,
    title varchar,
    period_year integer,
    exported_at timestamp,
    ingested_at timestamp,
    extra_columns varchar[],
    coercion_failures bigint
)
