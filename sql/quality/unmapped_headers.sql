-- Every header the ingest saw in a college's current file but could not map to a catalog column,
-- per year and table across the province: how many files and colleges have it, a few of its values,
-- and the catalog column it most likely is (the ingest's suggestion, the most frequent one). A data
-- officer accepts one with `zhengai catalog map TABLE_CODE "HEADER" COLUMN`; the next run re-reads
-- those files and the header leaves this list.
create or replace table quality.unmapped_headers as
with tables as (
    select table_code, name_zh from ref.platform_tables
),

columns as (
    select table_code, column_name, headers[1] as header_zh from ref.platform_columns
),

current_files as (
    select school_code, year, table_code, source_file, unmapped_headers
    from raw.ingest_log
    where status in ('loaded', 'unchanged') and table_code is not null
    qualify row_number() over (partition by school_code, year, table_code order by ingested_at desc) = 1
),

seen as (
    select school_code, year, table_code, source_file, unnest(unmapped_headers) as found
    from current_files
),

grouped as (
    select
        year,
        table_code,
        found.header,
        count(distinct source_file) as files,
        count(distinct school_code) as colleges,
        list(distinct school_code order by school_code) as school_codes,
        list_distinct(flatten(list(found.samples order by school_code, source_file)))[1:5] as samples,
        mode(nullif(found.likely_column, '')) as likely_column
    from seen
    group by all
),

final as (
    select
        grouped.year,
        grouped.table_code,
        tables.name_zh,
        grouped.header,
        grouped.files,
        grouped.colleges,
        grouped.school_codes,
        grouped.samples,
        grouped.likely_column,
        columns.header_zh as likely_header_zh
    from grouped
    left join tables using (table_code)
    left join columns on columns.table_code = grouped.table_code and columns.column_name = grouped.likely_column
)

select * from final order by year desc, colleges desc, table_code, header
