-- The recorded review conclusions of a college and of the colleges it succeeded ($codes: the college first,
-- then its predecessors), latest first; the predecessors' names are left out (the document says 前身院校).
with conclusions as (
    select * from mart.review_conclusions
),

final as (
    select
        school_code = $school as own,
        year,
        review_date,
        elements,
        matched,
        measures,
        conclusion,
        improvement_deadline,
        re_reviewed_year,
        re_review_due
    from conclusions
    where list_contains($codes, school_code) and year <= $year
)

select * from final
order by year desc, own desc
