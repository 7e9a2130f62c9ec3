-- One review conclusion (有效 / 待改进 / 异常) per college and year, with the improvement deadline
-- and whether a re-review is due. The conclusions are computed by pipelines.review.conclude
-- (exact fractions) and registered by the asset as computed_review_conclusions.
create or replace table mart.review_conclusions as
with computed as (
    select * from computed_review_conclusions
),

schools as (
    select school_code, name_zh from ref.schools
),

final as (
    select
        computed.school_code,
        schools.name_zh,
        computed.year,
        computed.review_date,
        computed.elements,
        computed.matched,
        computed.measures,
        computed.conclusion,
        computed.conclusion_en,
        computed.improvement_deadline,
        computed.re_reviewed_year,
        computed.re_review_due
    from computed
    left join schools using (school_code)
)

select * from final order by school_code, year
