-- The college's rows of the review-cycle view (mart.review_cycle): its status, reviews and plans per cycle.
with cycles as (
    select * from mart.review_cycle
),

final as (
    select
        cycle_start,
        cycle_end,
        status_zh,
        reviewed_years,
        latest_year,
        latest_conclusion,
        improvement_deadline,
        re_review_due,
        planned_years
    from cycles
    where school_code = $school and cycle_start <= $year
)

select * from final
order by cycle_start desc
