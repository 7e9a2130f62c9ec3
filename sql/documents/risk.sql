-- The college's risk score of one collection year (mart.school_risk) and how many colleges were ranked
-- that year: a rank out of a count, no other college named.
with risk as (
    select * from mart.school_risk
),

ranked as (
    select year, count(*) as ranked_colleges from risk
    where year = $year
    group by all
),

final as (
    select
        risk.risk_score,
        risk.rank,
        ranked.ranked_colleges,
        risk.red_indicators,
        risk.yellow_indicators,
        risk.insufficient_indicators,
        risk.flagged_zh
    from risk
    inner join ranked using (year)
    where risk.school_code = $school
)

select * from final
