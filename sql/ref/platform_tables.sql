-- The platform table catalog (reference/platform_tables.csv): one row per status-data table.
create or replace table ref.platform_tables as
with source as (
    select * from read_csv($path, header = true, all_varchar = true, null_padding = true)
    -- later platform versions' shapes are read by pipelines/catalog.py, not by the warehouse
    where coalesce(nullif(trim(platform_version), ''), 'V2') = 'V2'
),

final as (
    select
        trim(table_code) as table_code,
        trim(name_zh) as name_zh,
        trim(table_name) as table_name,
        trim(grain) as grain,
        list_filter(string_split(coalesce(key_columns, ''), '|'), x -> x <> '') as key_columns,
        required = 'yes' as required,
        confidence,
        note,
        source,
        coalesce(nullif(trim(platform_version), ''), 'V2') as platform_version
    from source
)

select * from final
