-- The secretariat's risk ranking of colleges per year, for choosing whom to sample.
-- Each distinct indicator counts once, however many elements it informs:
--   risk_score = 100 × Σ indicator weight ÷ ($weight_red × number of indicators judged),
-- where an indicator weighs $weight_red when red (an escalated yellow included), $weight_yellow when
-- yellow, $weight_insufficient when it has no value (数据不足), 0 when green; the indicators judged
-- are those that inform at least one element (ref.indicator_elements). 0 = every indicator green,
-- 100 = every one red. Elements without data coverage or without a fitting indicator carry no
-- indicator, so they are outside the formula. rank 1 = highest risk in the year (ties share a rank).
-- flagged_indicators (red + yellow) is the count the ranking shows, flagged_zh names them worst first;
-- the element counts (red_count, yellow_count, insufficient_count, no_coverage_count) are context.
create or replace table mart.school_risk as
with indicator_warnings as (
    select * from mart.indicator_warnings
    where indicator_code in (select indicator_code from ref.indicator_elements)
),

element_warnings as (
    select * from mart.element_warnings
),

weights as (
    select * from (values
        ('red', $weight_red, 0), ('yellow', $weight_yellow, 1), ('insufficient', $weight_insufficient, 2),
        ('green', 0.0, 3)
    ) as w (level, weight, position)
),

per_indicator as (
    select
        school_code,
        year,
        count(*) as judged_indicators,
        sum(weights.weight) as points,
        count(*) filter (where level = 'red') as red_indicators,
        count(*) filter (where level = 'yellow') as yellow_indicators,
        count(*) filter (where level = 'insufficient') as insufficient_indicators,
        string_agg(name_zh || '（' || case level when 'red' then '红' else '黄' end || '）', '、'
            order by weights.position, ordinal) filter (where level in ('red', 'yellow')) as flagged_zh
    from indicator_warnings
    inner join weights using (level)
    group by all
),

per_element as (
    select
        school_code,
        year,
        count(*) filter (where level = 'red') as red_count,
        count(*) filter (where level = 'yellow') as yellow_count,
        count(*) filter (where level = 'insufficient') as insufficient_count,
        count(*) filter (where level = 'no_coverage') as no_coverage_count
    from element_warnings
    group by all
),

final as (
    select
        per_element.school_code,
        per_element.year,
        round(100.0 * per_indicator.points / nullif($weight_red * per_indicator.judged_indicators, 0), 2)
            as risk_score,
        per_element.red_count,
        per_element.yellow_count,
        per_element.insufficient_count,
        rank() over (
            partition by per_element.year
            order by per_indicator.points / nullif(per_indicator.judged_indicators, 0) desc nulls last
        ) as rank,
        coalesce(per_indicator.red_indicators, 0) + coalesce(per_indicator.yellow_indicators, 0)
            as flagged_indicators,
        coalesce(per_indicator.red_indicators, 0) as red_indicators,
        coalesce(per_indicator.yellow_indicators, 0) as yellow_indicators,
        coalesce(per_indicator.insufficient_indicators, 0) as insufficient_indicators,
        coalesce(per_indicator.judged_indicators, 0) as judged_indicators,
        coalesce(per_indicator.flagged_zh, '') as flagged_zh,
        per_element.no_coverage_count
    from per_element
    left join per_indicator using (school_code, year)
)

select * from final order by year, rank, school_code
