-- Which diagnostic elements each indicator informs: an indicator informs every element with a
-- point citing one of its source tables (ref.point_platform_codes), then the secretariat's
-- overrides ($path, reference/indicator_element_overrides.csv) drop links that exist only
-- because a table is a denominator or a whole section is cited, and add links the citations miss.
create or replace table ref.indicator_elements as
with indicators as (
    select indicator_code, source_tables from ref.indicators
),

point_codes as (
    select element_code, platform_code from ref.point_platform_codes
),

overrides as (
    select
        trim(indicator_code) as indicator_code,
        trim(element_code) as element_code,
        trim(action) as action,
        reason_zh
    from read_csv($path, header = true, all_varchar = true)
),

joined as (
    select
        indicators.indicator_code,
        point_codes.element_code,
        list(distinct point_codes.platform_code order by point_codes.platform_code) as via_tables
    from indicators
    cross join unnest(indicators.source_tables) as cited(platform_code)
    inner join point_codes on point_codes.platform_code = cited.platform_code
    group by all
),

kept as (
    select joined.indicator_code, joined.element_code, 'join' as link, joined.via_tables, null as reason_zh
    from joined
    anti join overrides
        on overrides.indicator_code = joined.indicator_code
        and overrides.element_code = joined.element_code
        and overrides.action = 'exclude'
),

added as (
    select indicator_code, element_code, 'override' as link, []::varchar[] as via_tables, reason_zh
    from overrides
    anti join kept using (indicator_code, element_code)
    where action = 'include'
),

final as (
    select * from kept
    union all by name
    select * from added
)

select * from final order by indicator_code, element_code
