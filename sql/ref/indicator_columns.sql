-- The catalog columns each indicator reads (reference/indicator_columns.csv): a file lacking one of
-- them makes only these indicators 数据不足 for that college and year (quality.issues
-- `missing_column`, mart.indicator_values), not every indicator of its table.
create or replace table ref.indicator_columns as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select distinct
        trim(indicator_code) as indicator_code,
        trim(table_code) as table_code,
        trim(column_name) as column_name
    from source
    where trim(coalesce(column_name, '')) <> ''
)

select * from final order by indicator_code, table_code, column_name
