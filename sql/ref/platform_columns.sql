-- The columns of every catalogued table, with the header texts each may appear under.
create or replace table ref.platform_columns as
with source as (
    select * from read_csv($path, header = true, all_varchar = true, null_padding = true)
    -- later platform versions' shapes are read by pipelines/catalog.py, not by the warehouse
    where coalesce(nullif(trim(platform_version), ''), 'V2') = 'V2'
),

final as (
    select
        trim(table_code) as table_code,
        trim(column_name) as column_name,
        list_filter(string_split(headers, '|'), x -> x <> '') as headers,
        trim(type) as type,
        nullif(unit, '') as unit,
        required = 'yes' as required,
        list_filter(string_split(coalesce(allowed_values, ''), '|'), x -> x <> '') as allowed_values,
        try_cast(nullif(min_value, '') as double) as min_value,
        try_cast(nullif(max_value, '') as double) as max_value,
        description_zh,
        source,
        confidence,
        coalesce(nullif(trim(platform_version), ''), 'V2') as platform_version,
        row_number() over (partition by table_code) as ordinal
    from source
)

select * from final
