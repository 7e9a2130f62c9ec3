-- The college's own text per element (附件3, mart.selfreport_elements), from its latest report up to $year.
with reports as (
    select * from mart.selfreport_elements
    where school_code = $school and year <= $year
),

latest as (
    select max(year) as year from reports
),

final as (
    select
        reports.year,
        reports.element_code,
        reports.self_diagnosis,
        reports.improvement_measures,
        reports.improvement_effects,
        reports.problem_share,
        reports.overview,
        reports.signed_date
    from reports
    inner join latest using (year)
)

select * from final
order by element_code
