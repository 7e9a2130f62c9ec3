-- The indicator catalog (reference/indicators.csv): one row per indicator, its formula in words,
-- unit, which direction is better, and every platform table its figures are read from.
create or replace table ref.indicators as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select
        trim(indicator_code) as indicator_code,
        trim(name_zh) as name_zh,
        coalesce(unit, '') as unit,
        trim(direction) as direction,
        formula_zh,
        coalesce(denominator_zh, '') as denominator_zh,
        list_filter(string_split(source_tables, '|'), x -> trim(x) <> '') as source_tables,
        cast(decimals as integer) as decimals,
        trim(family) as family,
        row_number() over () as ordinal
    from source
)

select * from final
