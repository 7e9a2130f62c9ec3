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

-- the files' entries of each (college, year, table), ordered: most have one file, which needs no ordered
-- aggregate (DuckDB's ordered string_agg over 48,000 groups cost 0.9 s of every national nightly)
log_files as (
    select
        school_code,
        year,
        table_code,
        source_file,
        file_sha256,
        ingested_at,
        concat_ws(':', source_file, file_sha256, coalesce(mapping_fingerprint, ''), ingested_at) as entry
    from raw.ingest_log
    where status in ('loaded', 'unchanged') and table_code is not null
),

file_counts as (
    select school_code, year, table_code, count(*) as file_count, any_value(entry) as entry
    from log_files
    group by all
),

files as (
    select school_code, year, table_code, entry as files from file_counts where file_count = 1
    union all
    select
        school_code,
        year,
        table_code,
        string_agg(entry, ',' order by source_file, file_sha256, ingested_at) as files
    from log_files
    semi join (select * from file_counts where file_count > 1) as several using (school_code, year, table_code)
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
