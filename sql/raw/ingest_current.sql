-- (school, year, table) → the data now in raw, of the colleges in $schools (the ones a run looks at).
with log as (
    select * from raw.ingest_log
    where
        status in ('loaded', 'unchanged')
        and table_code is not null
        and school_code in (select unnest($schools))
),

final as (
    select
        school_code,
        year,
        table_code,
        max_by(file_sha256, ingested_at) as file_sha256,
        max_by(rows, ingested_at) as rows,
        max_by(mapping_fingerprint, ingested_at) as mapping_fingerprint,
        max_by(source_file, ingested_at) as source_file,
        max_by(archived_path, ingested_at) as archived_path
    from log
    group by all
)

select * from final
