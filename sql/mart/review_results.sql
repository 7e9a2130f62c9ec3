-- Expert review results, one row per college, year and element, from the recorded files
-- $ZHENGAI_HOME/reviews/<year>/<school_code>.csv (registered by the asset as recorded_review_results).
create or replace table mart.review_results as
with recorded as (
    select * from recorded_review_results
),

elements as (
    select element_code, element_name from ref.diagnostic_elements
),

final as (
    select
        recorded.school_code,
        recorded.year,
        recorded.element_code,
        elements.element_name,
        recorded.matched,
        recorded.measures,
        recorded.review_date,
        recorded.source_file,
        recorded.imported_at
    from recorded
    left join elements using (element_code)
)

select * from final order by school_code, year, element_code
