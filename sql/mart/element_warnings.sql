-- One warning per college, year and diagnostic element (all 15, every college in mart.school_base).
-- Before escalation an element takes the worst of, in order red > yellow > insufficient > green:
--   its indicators' levels (ref.indicator_elements → mart.indicator_warnings);
--   insufficient when the data-quality layer judged its data insufficient, when its points cite no
--   table (no data coverage), or when it has no indicator with a value — so it is never green then.
-- Escalation: yellow before escalation in this year and in the year before → red, said as such.
-- score = the level's weight ($weight_red, $weight_yellow, $weight_insufficient, green 0); an element
-- without data coverage scores 0, because no figure could have warned about it.
create or replace table mart.element_warnings as
with base as (
    select school_code, year from mart.school_base
),

elements as (
    select element_code, element_name, item_code from ref.diagnostic_elements
),

covered as (
    select distinct element_code from ref.point_platform_codes
),

links as (
    select indicator_code, element_code from ref.indicator_elements
),

indicator_warnings as (
    select * from mart.indicator_warnings
),

element_data_status as (
    select school_code, year, element_code, status, reasons_zh from quality.element_data_status
),

grid as (
    select
        base.school_code,
        base.year,
        elements.element_code,
        elements.element_name,
        elements.item_code,
        covered.element_code is not null as has_coverage
    from base
    cross join elements
    left join covered using (element_code)
),

severities as (
    select * from (values ('red', 3), ('yellow', 2), ('insufficient', 1), ('green', 0)) as s(level, severity)
),

indicator_findings as (
    select
        links.element_code,
        indicator_warnings.school_code,
        indicator_warnings.year,
        count(*) filter (where indicator_warnings.value is not null) as indicators_with_value,
        count(*) as indicator_count,
        max(severities.severity) as worst_severity,
        flatten(list(indicator_warnings.reasons order by severities.severity desc, indicator_warnings.ordinal))
            as reasons,
        string_agg(
            indicator_warnings.name_zh || indicator_warnings.value_zh, '、' order by indicator_warnings.ordinal
        ) filter (where indicator_warnings.level = 'green') as green_zh
    from links
    inner join indicator_warnings using (indicator_code)
    inner join severities using (level)
    group by all
),

assessed as (
    select
        grid.*,
        element_data_status.status as data_status,
        coalesce(indicator_findings.indicator_count, 0) as indicator_count,
        greatest(
            coalesce(indicator_findings.worst_severity, 1),
            case
                when not grid.has_coverage then 1
                when element_data_status.status in ('insufficient', 'no_data_coverage') then 1
                when coalesce(indicator_findings.indicators_with_value, 0) = 0 then 1
                else 0
            end
        ) as severity,
        list_filter([
            case when not grid.has_coverage or element_data_status.status = 'no_data_coverage' then
                '本要素的诊断点没有引用状态数据平台的数据表，无法依据数据预警，请学校对照诊断点自行诊断。'
            end,
            case when grid.has_coverage and element_data_status.status = 'insufficient' then
                '数据不足：' || coalesce(nullif(element_data_status.reasons_zh, ''), '数据质量检查判定本要素数据不足')
                || case when right(coalesce(element_data_status.reasons_zh, ''), 1) = '。' then '' else '。' end
            end,
            case when grid.has_coverage and coalesce(indicator_findings.indicators_with_value, 0) = 0
                and coalesce(element_data_status.status, '') <> 'insufficient' then
                '数据不足：本要素没有可计算的指标。'
            end
        ], sentence -> sentence is not null)
        || coalesce(indicator_findings.reasons, [])
        || case when indicator_findings.green_zh is not null then
            ['未触发预警的指标：' || indicator_findings.green_zh || '。']
            else [] end as reasons_before_escalation
    from grid
    left join element_data_status using (school_code, year, element_code)
    left join indicator_findings using (school_code, year, element_code)
),

leveled as (
    select
        assessed.*,
        severities.level as base_level,
        lag(severities.level) over history as previous_base_level,
        lag(assessed.year) over history as previous_year
    from assessed
    inner join severities using (severity)
    window history as (partition by school_code, element_code order by year)
),

escalated as (
    select
        *,
        base_level = 'yellow' and previous_base_level = 'yellow' and previous_year = year - 1 as is_escalated
    from leveled
),

final as (
    select
        school_code,
        year,
        element_code,
        case when is_escalated then 'red' else base_level end as level,
        case case when is_escalated then 'red' else base_level end
            when 'red' then '红' when 'yellow' then '黄' when 'green' then '绿' else '数据不足'
        end as level_zh,
        case
            when not has_coverage then 0.0
            when is_escalated or base_level = 'red' then $weight_red
            when base_level = 'yellow' then $weight_yellow
            when base_level = 'insufficient' then $weight_insufficient
            else 0.0
        end as score,
        case when is_escalated then
            ['本要素' || previous_year || '年、' || year || '年连续两年黄色预警，按规则升级为红色预警。']
            else [] end || reasons_before_escalation as reasons,
        element_name,
        item_code,
        has_coverage,
        data_status,
        indicator_count,
        base_level,
        is_escalated
    from escalated
)

select * from final order by school_code, year, element_code
