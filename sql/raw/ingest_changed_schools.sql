-- The colleges a run must look at (select only, no table): a college is left as it is when every file
-- it has in the inbox (`listing`: source_file, its college or 'unsorted', the sha256 trusted from its
-- listing, NULL when it must be read) was hashed by a committed run, logged loaded or unchanged with
-- that sha256, and is still the current data of each of its tables, mapped with the table's headers
-- now (`mapping_now`: table_code, mapping_fingerprint). A college whose current data was mapped with
-- other headers than now must be read again too, even from the archive (no file in the inbox).
with logged as (
    select
        source_file,
        file_sha256,
        school_code,
        year,
        table_code,
        status,
        mapping_fingerprint,
        ingested_at
    from raw.ingest_log
),

current_data as (
    select
        school_code,
        year,
        table_code,
        max_by(file_sha256, ingested_at) as current_sha,
        max_by(mapping_fingerprint, ingested_at) as mapping_fingerprint
    from logged
    where status in ('loaded', 'unchanged') and table_code is not null
    group by all
),

file_tables as (
    select
        listing.school_code,
        listing.file_sha256,
        logged.table_code,
        logged.status,
        logged.mapping_fingerprint,
        current_data.current_sha,
        mapping_now.mapping_fingerprint as mapping_now
    from listing
    left join logged
        on listing.source_file = logged.source_file and listing.file_sha256 = logged.file_sha256
    left join current_data
        on
            logged.school_code = current_data.school_code
            and logged.year = current_data.year
            and logged.table_code = current_data.table_code
    left join mapping_now on logged.table_code = mapping_now.table_code
),

unsettled_files as (
    select distinct school_code from file_tables
    where
        file_sha256 is null
        or table_code is null
        or status = 'quarantined'
        or current_sha is distinct from file_sha256
        or mapping_fingerprint is distinct from mapping_now
),

remapped as (
    select distinct current_data.school_code from current_data
    inner join mapping_now on current_data.table_code = mapping_now.table_code
    where current_data.mapping_fingerprint is distinct from mapping_now.mapping_fingerprint
)

select school_code from unsettled_files
union
select school_code from remapped
order by school_code
