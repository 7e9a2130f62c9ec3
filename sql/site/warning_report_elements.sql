-- The early-warning report's elements: every college, year and element with its item and college names.
with warnings as (
    select * from mart.element_warnings
),

items as (
    select item_code, item_name from ref.diagnostic_items
),

schools as (
    select school_code, name_zh, school_type from ref.schools
),

final as (
    select warnings.*, items.item_name, schools.name_zh as school_name, schools.school_type
    from warnings
    inner join items using (item_code)
    left join schools using (school_code)
)

select * from final
order by school_code, year, element_code
