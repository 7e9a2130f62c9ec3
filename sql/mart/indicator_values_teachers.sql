-- Teacher indicators (tables 6.1–6.4 and 1.3.2), long format: numerator, denominator and scale per
-- indicator; mart.indicator_values turns them into values.
create or replace table mart.indicator_values_teachers as
with base as (
    select * from mart.school_base
),

full_time_teachers as (
    select * from raw.full_time_teachers
    anti join (select * from quality.excluded_rows where table_name = 'full_time_teachers')
        using (school_code, year, source_file, row_no)
),

internal_part_time_teachers as (
    select * from raw.internal_part_time_teachers
    anti join (select * from quality.excluded_rows where table_name = 'internal_part_time_teachers')
        using (school_code, year, source_file, row_no)
),

external_part_time_teachers as (
    select * from raw.external_part_time_teachers
    anti join (select * from quality.excluded_rows where table_name = 'external_part_time_teachers')
        using (school_code, year, source_file, row_no)
),

external_guest_teachers as (
    select * from raw.external_guest_teachers
    anti join (select * from quality.excluded_rows where table_name = 'external_guest_teachers')
        using (school_code, year, source_file, row_no)
),

full_time as (
    select
        school_code,
        year,
        count(*) filter (where highest_degree in ('博士', '硕士')) as postgrad,
        count(*) filter (where title_level in ('正高级', '副高级')) as senior,
        count(*) filter (where is_double_qualified) as double_qualified,
        sum(teaching_hours) as hours
    from full_time_teachers
    group by all
),

internal_part_time as (
    select school_code, year, sum(teaching_hours) as hours from internal_part_time_teachers group by all
),

external_part_time as (
    select school_code, year, sum(teaching_hours) as hours from external_part_time_teachers group by all
),

external_guest as (
    select school_code, year, sum(teaching_hours) as hours from external_guest_teachers group by all
),

per_school as (
    select
        base.school_code,
        base.year,
        base.equivalent_students,
        base.total_teachers,
        base.fulltime_teachers,
        coalesce(full_time.postgrad, 0) as postgrad,
        coalesce(full_time.senior, 0) as senior,
        coalesce(full_time.double_qualified, 0) as double_qualified,
        coalesce(external_part_time.hours, 0) as external_hours,
        coalesce(full_time.hours, 0) + coalesce(internal_part_time.hours, 0)
            + coalesce(external_part_time.hours, 0) + coalesce(external_guest.hours, 0) as all_hours
    from base
    left join full_time using (school_code, year)
    left join internal_part_time using (school_code, year)
    left join external_part_time using (school_code, year)
    left join external_guest using (school_code, year)
),

measures as (
    select school_code, year, 'student_teacher_ratio' as indicator_code,
        equivalent_students as numerator, total_teachers as denominator, 1.0 as scale
    from per_school
    union all
    select school_code, year, 'postgrad_teacher_share', postgrad, fulltime_teachers, 100.0 from per_school
    union all
    select school_code, year, 'senior_title_share', senior, fulltime_teachers, 100.0 from per_school
    union all
    select school_code, year, 'double_qualified_share', double_qualified, fulltime_teachers, 100.0 from per_school
    union all
    select school_code, year, 'external_teaching_share', external_hours, all_hours, 100.0 from per_school
)

select * from measures
