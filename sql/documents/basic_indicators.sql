-- The college's basic figures: every indicator with a 合格 value for its school type (教发〔2004〕2号 表一 and
-- the monitoring values), its value this year and the two years before, and its verdict.
with warnings as (
    select * from mart.indicator_warnings
),

final as (
    select
        indicator_code,
        name_zh,
        unit,
        decimals,
        direction,
        value,
        value_1y_ago,
        value_2y_ago,
        qualified_value,
        restricted_value,
        qualified_confidence,
        restricted_confidence,
        exempt,
        exempt_reason_zh,
        level,
        numerator,
        denominator,
        sources_zh
    from warnings
    where school_code = $school and year = $year and qualified_value is not null
)

select * from final
order by name_zh
