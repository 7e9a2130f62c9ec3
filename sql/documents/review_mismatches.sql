-- The elements whose self-diagnosis the experts found not to match (相符 = no) in the latest review, up to
-- $year, of the college or a college it succeeded ($codes).
with results as (
    select * from mart.review_results
    where list_contains($codes, school_code) and year <= $year
),

latest as (
    select max(year) as year from results
),

final as (
    select results.element_code, results.year
    from results
    inner join latest using (year)
    where not results.matched
)

select * from final
order by element_code
