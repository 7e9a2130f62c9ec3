-- Funding, management and student-support indicators (tables 2.2, 5.1, 5.2, 8.1–8.8 over 1.3.2),
-- long format: numerator, denominator and scale per indicator; mart.indicator_values turns them into values.
-- 质量管理制度文件数 is a count: its value is the numerator and it has no denominator. Counts and
-- sums stay NULL when a college has no row at all in their table, so an absent table never reads as 0.
create or replace table mart.indicator_values_management as
with base as (
    select * from mart.school_base
),

funding_income as (
    select * from raw.funding_income
),

funding_expenditure as (
    select * from raw.funding_expenditure
),

teaching_evaluations as (
    select * from raw.teaching_evaluations
    anti join (select * from quality.excluded_rows where table_name = 'teaching_evaluations')
        using (school_code, year, source_file, row_no)
),

student_aid as (
    select * from raw.student_aid
    anti join (select * from quality.excluded_rows where table_name = 'student_aid')
        using (school_code, year, source_file, row_no)
),

leader_engagement as (
    select * from raw.leader_engagement
    anti join (select * from quality.excluded_rows where table_name = 'leader_engagement')
        using (school_code, year, source_file, row_no)
),

management_documents as (
    select * from raw.management_documents
    anti join (select * from quality.excluded_rows where table_name = 'management_documents')
        using (school_code, year, source_file, row_no)
),

management_staff as (
    select school_code, year from raw.teaching_admin_staff
    anti join (select * from quality.excluded_rows where table_name = 'teaching_admin_staff')
        using (school_code, year, source_file, row_no)
    union all
    select school_code, year from raw.student_affairs_staff
    anti join (select * from quality.excluded_rows where table_name = 'student_affairs_staff')
        using (school_code, year, source_file, row_no)
    union all
    select school_code, year from raw.admissions_employment_staff
    anti join (select * from quality.excluded_rows where table_name = 'admissions_employment_staff')
        using (school_code, year, source_file, row_no)
    union all
    select school_code, year from raw.supervision_staff
    anti join (select * from quality.excluded_rows where table_name = 'supervision_staff')
        using (school_code, year, source_file, row_no)
    union all
    select school_code, year from raw.teaching_research_staff
    anti join (select * from quality.excluded_rows where table_name = 'teaching_research_staff')
        using (school_code, year, source_file, row_no)
),

income as (
    select school_code, year, sum(fiscal_appropriation) * 10000 as fiscal_yuan from funding_income group by all
),

expenditure as (
    select school_code, year, sum(daily_teaching) as daily_teaching, sum(expenditure_total) as expenditure_total
    from funding_expenditure
    group by all
),

evaluations as (
    select school_code, year, count(*) filter (where result in ('优', '良')) as good, count(*) as evaluated
    from teaching_evaluations
    group by all
),

aid as (
    select school_code, year, sum(students) as aided from student_aid group by all
),

leaders as (
    select school_code, year, sum(lectures_observed) as lectures, count(*) as leader_count
    from leader_engagement
    group by all
),

documents as (
    select school_code, year, count(*) filter (where category = '质量保证') as quality_documents
    from management_documents
    group by all
),

staff as (
    select school_code, year, count(*) as staff_count from management_staff group by all
),

per_school as (
    select
        base.school_code,
        base.year,
        base.equivalent_students,
        base.vocational_students,
        income.fiscal_yuan,
        expenditure.daily_teaching,
        expenditure.expenditure_total,
        evaluations.good,
        evaluations.evaluated,
        aid.aided,
        leaders.lectures,
        leaders.leader_count,
        documents.quality_documents,
        staff.staff_count
    from base
    left join income using (school_code, year)
    left join expenditure using (school_code, year)
    left join evaluations using (school_code, year)
    left join aid using (school_code, year)
    left join leaders using (school_code, year)
    left join documents using (school_code, year)
    left join staff using (school_code, year)
),

measures as (
    select school_code, year, 'fiscal_appropriation_per_student' as indicator_code,
        fiscal_yuan as numerator, equivalent_students as denominator, 1.0 as scale
    from per_school
    union all
    select school_code, year, 'daily_teaching_share', daily_teaching, expenditure_total, 100.0 from per_school
    union all
    select school_code, year, 'evaluation_good_share', good, evaluated, 100.0 from per_school
    union all
    select school_code, year, 'aid_coverage', aided, vocational_students, 100.0 from per_school
    union all
    select school_code, year, 'leader_lectures_per_leader', lectures, leader_count, 1.0 from per_school
    union all
    select school_code, year, 'management_staff_per_100_students', staff_count, vocational_students, 100.0
    from per_school
),

counts as (
    select
        school_code,
        year,
        'quality_documents' as indicator_code,
        quality_documents as numerator,
        cast(null as double) as denominator,
        cast(null as double) as scale
    from per_school
),

final as (
    select * from measures
    union all
    select * from counts
)

select * from final
