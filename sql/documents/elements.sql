-- Each diagnostic element of one college and year: item, verdict, reasons, and the data-quality status
-- (quality.element_data_status); elements without a row for the college-year read 无数据.
with elements as (
    select * from ref.diagnostic_elements
),

items as (
    select item_code, item_name from ref.diagnostic_items
),

warnings as (
    select * from mart.element_warnings
    where school_code = $school and year = $year
),

data_status as (
    select element_code, status, reasons_zh from quality.element_data_status
    where school_code = $school and year = $year
),

final as (
    select
        elements.item_code,
        items.item_name,
        elements.element_code,
        elements.element_name,
        coalesce(warnings.level, 'insufficient') as level,
        coalesce(warnings.level_zh, '无数据') as level_zh,
        coalesce(warnings.reasons, ['该校本年度没有状态数据。']) as reasons,
        coalesce(warnings.driving_indicators, []::varchar[]) as driving_indicators,
        coalesce(warnings.has_coverage, false) as has_coverage,
        coalesce(warnings.indicator_count, 0) as indicator_count,
        data_status.status as data_status,
        data_status.reasons_zh as data_status_zh
    from elements
    left join items using (item_code)
    left join warnings using (element_code)
    left join data_status using (element_code)
)

select * from final
order by element_code
