-- Teaching and outcome indicators (tables 7.2, 7.4, 9.1, 9.2), long format:
-- numerator, denominator and scale (100: all are percentages); mart.indicator_values turns them into values.
create or replace table mart.indicator_values_teaching as
with base as (
    select school_code, year from mart.school_base
),

courses as (
    select * from raw.courses
    anti join (select * from quality.excluded_rows where table_name = 'courses')
        using (school_code, year, source_file, row_no)
),

internships as (
    select * from raw.internships
    anti join (select * from quality.excluded_rows where table_name = 'internships')
        using (school_code, year, source_file, row_no)
),

admissions as (
    select * from raw.admissions
    anti join (select * from quality.excluded_rows where table_name = 'admissions')
        using (school_code, year, source_file, row_no)
),

employment as (
    select * from raw.employment
    anti join (select * from quality.excluded_rows where table_name = 'employment')
        using (school_code, year, source_file, row_no)
),

course_totals as (
    select
        school_code,
        year,
        sum(practice_hours) as practice_hours,
        sum(total_hours) as total_hours,
        count(*) filter (where is_industry_developed) as industry_courses,
        count(*) as course_count
    from courses
    group by all
),

internship_totals as (
    select school_code, year, sum(relevant_interns) as relevant_interns, sum(interns) as interns
    from internships
    group by all
),

admission_totals as (
    select school_code, year, sum(registered) as registered, sum(admitted) as admitted
    from admissions
    group by all
),

employment_totals as (
    select
        school_code,
        year,
        sum(graduates) as graduates,
        sum(employed) as employed,
        sum(relevant_employed) as relevant_employed
    from employment
    group by all
),

per_school as (
    select *
    from base
    left join course_totals using (school_code, year)
    left join internship_totals using (school_code, year)
    left join admission_totals using (school_code, year)
    left join employment_totals using (school_code, year)
),

measures as (
    select school_code, year, 'practice_hours_share' as indicator_code,
        practice_hours as numerator, total_hours as denominator
    from per_school
    union all
    select school_code, year, 'industry_course_share', industry_courses, course_count from per_school
    union all
    select school_code, year, 'internship_relevance_rate', relevant_interns, interns from per_school
    union all
    select school_code, year, 'enrolment_report_rate', registered, admitted from per_school
    union all
    select school_code, year, 'employment_rate', employed, graduates from per_school
    union all
    select school_code, year, 'employment_relevance_rate', relevant_employed, employed from per_school
)

select *, 100.0 as scale from measures
