-- Which diagnostic elements each indicator informs, as the secretariat wrote them ($path,
-- reference/indicator_elements.csv): one row per link, with the diagnostic point whose hint text
-- (附件2) the indicator answers and a rationale in Chinese. via_tables lists the indicator's source
-- tables that the element's points cite (empty: a judgement link the citations do not make);
-- link says which ('cited' or 'judgement'). breadth_zh says why an indicator informs more than
-- three elements (the ref asset refuses one that does without saying why).
create or replace table ref.indicator_elements as
with source as (
    select
        trim(indicator_code) as indicator_code,
        trim(element_code) as element_code,
        cast(trim(point_no) as integer) as point_no,
        trim(rationale_zh) as rationale_zh,
        nullif(trim(coalesce(breadth_zh, '')), '') as breadth_zh
    from read_csv($path, header = true, all_varchar = true)
),

indicators as (
    select indicator_code, source_tables from ref.indicators
),

point_codes as (
    select element_code, platform_code from ref.point_platform_codes
),

points as (
    select element_code, point_no, point_name from ref.diagnostic_points
),

cited as (
    select
        source.indicator_code,
        source.element_code,
        list(distinct point_codes.platform_code order by point_codes.platform_code) as via_tables
    from source
    inner join indicators using (indicator_code)
    cross join unnest(indicators.source_tables) as used (platform_code)
    inner join point_codes
        on point_codes.element_code = source.element_code
        and point_codes.platform_code = used.platform_code
    group by all
),

final as (
    select
        source.indicator_code,
        source.element_code,
        source.point_no,
        points.point_name,
        case when cited.via_tables is null then 'judgement' else 'cited' end as link,
        coalesce(cited.via_tables, []::varchar[]) as via_tables,
        source.rationale_zh,
        source.breadth_zh
    from source
    left join cited using (indicator_code, element_code)
    left join points using (element_code, point_no)
)

select * from final order by indicator_code, element_code
