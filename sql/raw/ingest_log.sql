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
    coercion_failures bigint,
    missing_columns varchar[],
    conversions varchar[],
    unmapped_headers struct(header varchar, likely_column varchar, samples varchar[])[],
    mapping_fingerprint varchar,
    not_exported_columns varchar[]
);

-- a log made before these columns existed gains them (empty: its files are read again once)
alter table raw.ingest_log add column if not exists missing_columns varchar[];
alter table raw.ingest_log add column if not exists conversions varchar[];
alter table raw.ingest_log add column if not exists unmapped_headers
    struct(header varchar, likely_column varchar, samples varchar[])[];
alter table raw.ingest_log add column if not exists mapping_fingerprint varchar;
alter table raw.ingest_log add column if not exists not_exported_columns varchar[]
