-- One row per college and collection year the warnings cover, with the shared denominators of
-- 教发〔2004〕2号's 测算办法 (DOMAIN.md §7; reference/thresholds.csv cites the reproductions used):
--   折合在校生 (equivalent_students) = 全日制高职 + 留学生×3 + 预科生 + 进修生 + 成人脱产 + 夜大×0.3 + 函授×0.1
--   全日制在校生 (fulltime_students) = 全日制高职 + 留学生 + 预科生 + 进修生 + 成人脱产
--   全日制高职在校生 (vocational_students), the denominator of the project's own per-student indicators
--   教师总数 = 专任 + 聘请校外教师 (6.3 校外兼职 + 6.4 校外兼课) × 0.5, with the ¼ cap of the standard's
--     note read as $external_teacher_cap_on_converted says (reference/warning_rules.csv):
--     1: 专任 + min(校外 × 0.5, $external_teacher_cap_share × 专任)   (cap the converted number)
--     0: 专任 + min(校外, $external_teacher_cap_share × 专任) × 0.5   (cap the head count, then halve)
-- The colleges covered: every registered college active in a year the quality layer judged, plus
-- any college the quality layer saw, so a college that submitted nothing still gets warnings.
create or replace table mart.school_base as
with schools as (
    select school_code, school_type, active_from, active_to from ref.schools
),

table_status as (
    select distinct school_code, year from quality.table_status
),

element_status as (
    select distinct school_code, year from quality.element_data_status
),

students_enrolled as (
    select * from raw.students_enrolled
),

full_time_teachers as (
    select school_code, year from raw.full_time_teachers
    anti join (select * from quality.excluded_rows where table_name = 'full_time_teachers')
        using (school_code, year, source_file, row_no)
),

external_part_time_teachers as (
    select school_code, year from raw.external_part_time_teachers
    anti join (select * from quality.excluded_rows where table_name = 'external_part_time_teachers')
        using (school_code, year, source_file, row_no)
),

external_guest_teachers as (
    select school_code, year from raw.external_guest_teachers
    anti join (select * from quality.excluded_rows where table_name = 'external_guest_teachers')
        using (school_code, year, source_file, row_no)
),

judged_years as (
    select year from table_status
    union
    select year from element_status
),

registered as (
    select schools.school_code, judged_years.year
    from schools
    cross join judged_years
    where coalesce(schools.active_from, judged_years.year) <= judged_years.year
        and coalesce(schools.active_to, judged_years.year) >= judged_years.year
),

spine as (
    select school_code, year from registered
    union
    select school_code, year from table_status
    union
    select school_code, year from element_status
),

students as (
    select
        school_code,
        year,
        sum(fulltime_total) as vocational_students,
        sum(
            fulltime_total
            + coalesce(international_students, 0)
            + coalesce(preparatory_students, 0)
            + coalesce(further_study, 0)
            + coalesce(adult_fulltime, 0)
        ) as fulltime_students,
        sum(
            fulltime_total
            + 3 * coalesce(international_students, 0)
            + coalesce(preparatory_students, 0)
            + coalesce(further_study, 0)
            + coalesce(adult_fulltime, 0)
            + 0.3 * coalesce(evening, 0)
            + 0.1 * coalesce(correspondence, 0)
        ) as equivalent_students
    from students_enrolled
    group by all
),

internal as (
    select school_code, year, count(*) as fulltime_teachers from full_time_teachers group by all
),

external as (
    select school_code, year, count(*) as external_teachers
    from (
        select * from external_part_time_teachers
        union all
        select * from external_guest_teachers
    )
    group by all
),

counted as (
    select
        spine.school_code,
        spine.year,
        schools.school_type,
        students.vocational_students,
        students.fulltime_students,
        students.equivalent_students,
        coalesce(internal.fulltime_teachers, 0) as fulltime_teachers,
        coalesce(external.external_teachers, 0) as external_teachers
    from spine
    left join schools using (school_code)
    left join students using (school_code, year)
    left join internal using (school_code, year)
    left join external using (school_code, year)
),

converted as (
    select
        *,
        case
            when $external_teacher_cap_on_converted = 1
                then least(0.5 * external_teachers, $external_teacher_cap_share * fulltime_teachers)
            else 0.5 * least(external_teachers, $external_teacher_cap_share * fulltime_teachers)
        end as external_teachers_converted
    from counted
),

final as (
    select *, fulltime_teachers + external_teachers_converted as total_teachers from converted
)

select * from final order by school_code, year
