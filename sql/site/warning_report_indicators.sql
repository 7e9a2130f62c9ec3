-- The early-warning report's indicators, once under each element they inform.
with warnings as (
    select * exclude (reasons) from mart.indicator_warnings
),

links as (
    select indicator_code, element_code from ref.indicator_elements
),

final as (
    select links.element_code, warnings.*
    from warnings
    inner join links using (indicator_code)
)

select * from final
order by school_code, year, element_code, ordinal
