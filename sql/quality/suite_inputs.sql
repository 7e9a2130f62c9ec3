-- What each judged college-year's rows of each raw table were loaded from, a temporary table for the
-- suite results cache (pipelines/quality/cache.py): per (table, college, year) with rows, a SHA-256
-- of the suite's version ($versions, per table code in $codes and raw table in $names: suite, rules,
-- catalog columns, code),
-- the row count (`table_rows`) and every file the ingest log holds as loaded or unchanged for it
-- (name, sha256, header mapping, when it was loaded). Only the ingest writes the raw tables, and
-- each write of a college-year's rows logs its files with the run's time, so these change whenever
-- the rows do, and the rows are never hashed. Needs the temporary tables `table_rows` and
-- `college_years` (pipelines/quality/inputs.py).
create or replace temp table suite_inputs as
with versions as (
    select
        unnest($codes) as table_code,
        unnest($names) as table_name,
        unnest($versions) as version
),

judged_rows as (
    select school_code, year, table_code, row_count
    from table_rows
    semi join college_years using (school_code, year)
),

files as (
    select
        school_code,
        year,
        table_code,
        string_agg(
            concat_ws(':', source_file, file_sha256, coalesce(mapping_fingerprint, ''), ingested_at),
            ',' order by source_file, file_sha256, ingested_at
        ) as files
    from raw.ingest_log
    where status in ('loaded', 'unchanged') and table_code is not null
    group by all
),

final as (
    select
        versions.table_name,
        judged_rows.school_code,
        judged_rows.year,
        sha256(concat_ws('|', versions.version, judged_rows.row_count, coalesce(files.files, ''))) as fingerprint
    from judged_rows
    inner join versions using (table_code)
    left join files using (school_code, year, table_code)
)

select * from final
