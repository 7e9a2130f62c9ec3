-- The college a document is about: its registry row and the collection years the warehouse holds for it.
with schools as (
    select * from ref.schools
),

years as (
    select school_code, list(distinct year order by year) as data_years
    from mart.element_warnings
    group by all
),

final as (
    select
        schools.school_code,
        schools.name_zh,
        schools.school_type,
        schools.ownership,
        schools.status,
        schools.succeeded,
        schools.active_from,
        coalesce(years.data_years, []::integer[]) as data_years
    from schools
    left join years using (school_code)
    where schools.school_code = $school
)

select * from final
