-- One row per college and collection year: fingerprints of what its raw rows and its log rows were
-- built from, for the later steps to tell which college-years changed since they last looked.
-- `fingerprint` follows the files now in raw (each table's latest load: table, sha256 and the header
-- mapping it was read with); `log_fingerprint` follows every log row of the college-year as a data
-- officer would read it (a file's status `unchanged` counts as `loaded`, the run's time not at all).
-- Only the colleges in $schools are computed again (`$every`: all); the others' rows are kept.
create table if not exists raw.college_year_inputs (
    school_code varchar,
    year integer,
    fingerprint varchar,
    log_fingerprint varchar,
    tables bigint,
    files bigint,
    quarantined bigint,
    changed_at timestamp
);

create or replace table raw.college_year_inputs as

with kept as (
    select * from raw.college_year_inputs
    where not ($every or school_code in (select unnest($schools)))
),

log as (
    select * from raw.ingest_log
    where
        school_code is not null
        and year is not null
        and ($every or school_code in (select unnest($schools)))
),

current_files as (
    select * from log
    where status in ('loaded', 'unchanged') and table_code is not null
    qualify rank() over (partition by school_code, year, table_code order by ingested_at desc) = 1
),

data_inputs as (
    select
        school_code,
        year,
        sha256(
            string_agg(
                concat_ws(':', table_code, file_sha256, coalesce(mapping_fingerprint, '')),
                ',' order by table_code, file_sha256
            )
        ) as fingerprint,
        count(distinct table_code) as tables,
        count(*) as files,
        max(ingested_at) as changed_at
    from current_files
    group by all
),

log_inputs as (
    select
        school_code,
        year,
        sha256(
            string_agg(
                to_json(struct_pack(
                    source_file,
                    file_sha256,
                    table_code,
                    status := if(status = 'unchanged', 'loaded', status),
                    rows,
                    reason,
                    title,
                    exported_at,
                    coercion_failures,
                    extra_columns,
                    missing_columns,
                    not_exported_columns,
                    conversions,
                    unmapped_headers
                ))::varchar,
                ',' order by source_file, table_code
            )
        ) as log_fingerprint,
        count(*) filter (where status = 'quarantined') as quarantined
    from log
    group by all
),

final as (
    select
        log_inputs.school_code,
        log_inputs.year,
        data_inputs.fingerprint,
        log_inputs.log_fingerprint,
        coalesce(data_inputs.tables, 0) as tables,
        coalesce(data_inputs.files, 0) as files,
        log_inputs.quarantined,
        data_inputs.changed_at
    from log_inputs
    left join data_inputs using (school_code, year)
)

select * from kept
union all by name
select * from final
order by school_code, year
