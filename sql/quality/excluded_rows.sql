-- The rows a usable table leaves out: every row an error names (row_keys of quality.issues) in a
-- table judged `partial` (few bad rows, within its tolerance). The mart reads each raw table without
-- them, so an indicator is computed from the rest instead of losing the whole table.
create or replace table quality.excluded_rows as
with partial_tables as (
    select school_code, year, table_code from quality.table_status where status = 'partial'
),

tables as (
    select table_code, table_name from ref.platform_tables
),

issues as (
    select school_code, year, table_code, check_name, row_keys from quality.issues where severity = 'error'
),

named as (
    select
        issues.school_code,
        issues.year,
        issues.table_code,
        bad.key.source_file,
        bad.key.row_no,
        issues.check_name
    from issues
    inner join partial_tables using (school_code, year, table_code)
    cross join unnest(issues.row_keys) as bad (key)
),

final as (
    select
        named.school_code,
        named.year,
        named.table_code,
        tables.table_name,
        named.source_file,
        named.row_no,
        list(distinct named.check_name order by named.check_name) as checks
    from named
    inner join tables using (table_code)
    group by all
)

select * from final order by school_code, year, table_code, source_file, row_no
