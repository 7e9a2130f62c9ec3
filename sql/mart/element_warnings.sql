-- One warning per college, year and diagnostic element (all 15, every college in mart.school_base).
-- The level comes from the element's own indicators (ref.indicator_elements → mart.indicator_warnings),
-- whose verdicts already carry any escalation (a threshold-based yellow two years running):
--   red / yellow     the worst of its indicators, when one is red or yellow: those indicators are the
--                    drivers, named first (driving_indicators) and their reasons come first;
--   no_coverage      无数据覆盖: no point of the element cites a platform table and no indicator informs it;
--   no_indicator     无适用指标: its points cite tables but no indicator fits their meaning (the
--                    mapping says which indicator fits which element; none is borrowed);
--   insufficient     数据不足: the data-quality layer judged a cited table unusable, or one of its
--                    indicators has no value — never green then;
--   green            every indicator has a value and none warns.
-- is_escalated: red only because a driver's yellow persisted (no driver beyond its 限制招生 value).
create or replace table mart.element_warnings as
with base as (
    select school_code, year from mart.school_base
),

elements as (
    select element_code, element_name, item_code from ref.diagnostic_elements
),

cited as (
    select element_code, list(distinct platform_code order by platform_code) as cited_tables
    from ref.point_platform_codes
    group by all
),

links as (
    select indicator_code, element_code from ref.indicator_elements
),

linked_elements as (
    select distinct element_code from links
),

indicator_warnings as (
    select * from mart.indicator_warnings
),

element_data_status as (
    select school_code, year, element_code, status, reasons_zh from quality.element_data_status
),

severities as (
    select * from (values ('red', 3), ('yellow', 2), ('insufficient', 1), ('green', 0)) as s (level, severity)
),

grid as (
    select
        base.school_code,
        base.year,
        elements.element_code,
        elements.element_name,
        elements.item_code,
        cited.element_code is not null as has_coverage,
        cited.cited_tables,
        linked_elements.element_code is not null as has_indicator
    from base
    cross join elements
    left join cited using (element_code)
    left join linked_elements using (element_code)
),

-- an element's indicators in one list, worst first then by ordinal (ref.indicators' row number, unique):
-- sorted once by list_sort, not by five ordered aggregates (DuckDB sorts an ordered aggregate per group,
-- 17,000 groups at national size); the drivers, the missing and the partial notes are read from it
indicator_rows as (
    select
        links.element_code,
        indicator_warnings.school_code,
        indicator_warnings.year,
        count(*) as indicator_count,
        max(severities.severity) as worst_severity,
        bool_and(not indicator_warnings.below_restricted) filter (where indicator_warnings.level = 'red')
            as red_only_by_escalation,
        list_sort(list({
            'rank': -severities.severity,
            'ordinal': indicator_warnings.ordinal,
            'severity': severities.severity,
            'name_zh': indicator_warnings.name_zh,
            'indicator_code': indicator_warnings.indicator_code,
            'reasons': indicator_warnings.reasons,
            'data_notes': indicator_warnings.data_notes,
            'green_zh': case when indicator_warnings.level = 'green'
                then indicator_warnings.name_zh || indicator_warnings.value_zh end
        })) as found
    from links
    inner join indicator_warnings using (indicator_code)
    inner join severities using (level)
    group by all
),

indicator_findings as (
    select
        element_code,
        school_code,
        year,
        indicator_count,
        worst_severity,
        red_only_by_escalation,
        list_transform(list_filter(found, f -> f.severity >= 2), f -> f.name_zh) as driving_indicators,
        list_transform(list_filter(found, f -> f.severity >= 2), f -> f.indicator_code) as driving_codes,
        flatten(list_transform(list_filter(found, f -> f.severity >= 2), f -> f.reasons)) as driver_reasons,
        flatten(list_transform(list_filter(found, f -> f.severity = 1), f -> f.reasons)) as missing_reasons,
        list_sort(list_distinct(flatten(list_transform(list_filter(found, f -> f.severity = 0), f -> f.data_notes))))
            as partial_notes,
        list_filter(list_transform(found, f -> f.green_zh), green -> green is not null) as greens
    from indicator_rows
),

assessed as (
    select
        grid.*,
        element_data_status.status as data_status,
        coalesce(indicator_findings.indicator_count, 0) as indicator_count,
        coalesce(indicator_findings.driving_indicators, []) as driving_indicators,
        coalesce(indicator_findings.driving_codes, []) as driving_codes,
        case
            when coalesce(indicator_findings.worst_severity, 0) = 3 then 'red'
            when coalesce(indicator_findings.worst_severity, 0) = 2 then 'yellow'
            when not grid.has_indicator and not grid.has_coverage then 'no_coverage'
            when not grid.has_indicator then 'no_indicator'
            when element_data_status.status = 'insufficient' or indicator_findings.worst_severity = 1
                or indicator_findings.worst_severity is null then 'insufficient'
            else 'green'
        end as level,
        coalesce(indicator_findings.red_only_by_escalation, false) as red_only_by_escalation,
        coalesce(indicator_findings.driver_reasons, []) as driver_reasons,
        list_filter([
            case when not grid.has_coverage and not grid.has_indicator then
                '无数据覆盖：本要素的诊断点没有引用状态数据平台的数据表，无法依据数据预警，请学校对照诊断点自行诊断。'
            end,
            case when grid.has_coverage and not grid.has_indicator then
                '无适用指标：本要素的诊断点引用了表' || array_to_string(grid.cited_tables, '、表')
                || '，但目前没有与其含义相符的指标，不作数据预警，请学校对照诊断点自行诊断。'
            end,
            -- quality.element_data_status already opens its reasons with 数据不足：: said once
            case when element_data_status.status = 'insufficient' then
                '数据不足：' || coalesce(
                    nullif(regexp_replace(coalesce(element_data_status.reasons_zh, ''), '^数据不足：', ''), ''),
                    '数据质量检查判定本要素数据不足'
                )
                || case when right(coalesce(element_data_status.reasons_zh, ''), 1) = '。' then '' else '。' end
            end,
            case when grid.has_indicator and coalesce(element_data_status.status, '') <> 'insufficient'
                and indicator_findings.indicator_count is null then
                '数据不足：本要素没有可计算的指标。'
            end
        ], sentence -> sentence is not null)
        || coalesce(indicator_findings.missing_reasons, [])
        -- a table's trimmed rows said once, unless a driver's reasons say it already
        || list_filter(
            coalesce(indicator_findings.partial_notes, []),
            note -> not list_contains(coalesce(indicator_findings.driver_reasons, []), note)
        ) as data_reasons,
        case when len(indicator_findings.greens) > 0 then array_to_string(indicator_findings.greens, '、') end as green_zh
    from grid
    left join element_data_status using (school_code, year, element_code)
    left join indicator_findings using (school_code, year, element_code)
),

final as (
    select
        school_code,
        year,
        element_code,
        level,
        case level
            when 'red' then '红' when 'yellow' then '黄' when 'green' then '绿'
            when 'no_coverage' then '无数据覆盖' when 'no_indicator' then '无适用指标' else '数据不足'
        end as level_zh,
        -- the drivers' causes first, then what the data do not allow, then the indicators that did not warn
        driver_reasons || data_reasons
            || case when green_zh is not null then ['未触发预警的指标：' || green_zh || '。'] else [] end as reasons,
        driving_indicators,
        driving_codes,
        element_name,
        item_code,
        has_coverage,
        data_status,
        indicator_count,
        level = 'red' and red_only_by_escalation as is_escalated
    from assessed
)

select * from final order by school_code, year, element_code
