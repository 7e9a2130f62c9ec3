-- 附件2's diagnostic points with what the status data can say about each: the platform tables it cites and
-- the indicators that answer it. A point citing no table has no data coverage; one citing tables that no
-- indicator answers has no applicable indicator.
with points as (
    select * from ref.diagnostic_points
),

cited as (
    select element_code, point_no, list(distinct platform_code order by platform_code) as tables
    from ref.point_platform_codes
    group by all
),

answered as (
    select links.element_code, links.point_no, list(indicators.name_zh order by indicators.ordinal) as indicators
    from ref.indicator_elements as links
    inner join ref.indicators as indicators using (indicator_code)
    group by all
),

final as (
    select
        points.element_code,
        points.point_no,
        points.point_name,
        points.hint,
        coalesce(cited.tables, []::varchar[]) as tables,
        coalesce(answered.indicators, []::varchar[]) as indicators,
        case
            when cited.tables is null then 'no_coverage'
            when answered.indicators is null then 'no_indicator'
            else 'covered'
        end as coverage
    from points
    left join cited using (element_code, point_no)
    left join answered using (element_code, point_no)
)

select * from final
order by element_code, point_no
