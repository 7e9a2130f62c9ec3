-- Every problem found by the expectation suites and the SQL checks (registered as `issue_rows`),
-- one row per college, year, table, check and column, in a fixed order so that the same data and
-- the same as-of date give the same table. row_keys: every failing row (file, sheet row) of a
-- row-level check, where the messages show only the first few.
-- A column the college's file does not have is reported
-- once, as `missing_column` or `not_exported_column` (sql/quality/check_columns.sql): the suites' findings on that column
-- (every row NULL) would only repeat it.
create or replace table quality.issues as
with issue_rows as (
    select * from issue_rows
),

missing_columns as (
    select distinct school_code, year, table_code, column_name from issue_rows
    where check_name in ('missing_column', 'not_exported_column')
),

kept as (
    select issue_rows.*
    from issue_rows
    anti join missing_columns
        on missing_columns.school_code = issue_rows.school_code
        and missing_columns.year = issue_rows.year
        and missing_columns.table_code = issue_rows.table_code
        and missing_columns.column_name = issue_rows.column_name
        and issue_rows.check_name not in ('missing_column', 'not_exported_column', 'unit_conversion')
),

final as (
    select
        school_code::varchar as school_code,
        year::integer as year,
        table_code::varchar as table_code,
        column_name::varchar as column_name,
        check_name::varchar as check_name,
        severity::varchar as severity,
        failed_count::bigint as failed_count,
        samples::varchar as samples,
        message_zh::varchar as message_zh,
        message_en::varchar as message_en,
        summary_zh::varchar as summary_zh,
        source_file::varchar as source_file,
        coalesce(row_keys, [])::struct(source_file varchar, row_no bigint)[] as row_keys
    from kept
)

select * from final
order by school_code, year, table_code nulls first, check_name, column_name nulls first, message_zh
