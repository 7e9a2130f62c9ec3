-- Consistency across tables and between a total and its items:
--   students_total: 表1.3.2 全日制高职在校生合计 against the sum of 表7.1 各专业在校生数, relative
--     difference above $students_tolerance (share of the 1.3.2 figure);
--   expenditure_total: 表5.2 各项支出之和 against 支出合计, difference above the larger of
--     $expenditure_tolerance_wan 万元 and $expenditure_tolerance_share of the total (only when
--     at least one item is filled in).
-- 表6.1's teacher headcount has no summary figure in the catalog to compare it with.
with college_years as (
    select school_code, year from college_years
),

students as (
    select school_code, year, sum(fulltime_total) as fulltime_total,
        string_agg(distinct source_file, '；') as source_file,
        string_agg(row_no::varchar, '、' order by row_no) as row_nos
    from raw.students_enrolled
    where fulltime_total is not null
    group by all
),

majors as (
    select school_code, year, sum(enrolled_students) as enrolled_students, count(*) as majors
    from raw.majors
    where enrolled_students is not null
    group by all
),

student_gaps as (
    select students.*, majors.enrolled_students, majors.majors,
        abs(students.fulltime_total - majors.enrolled_students) / greatest(students.fulltime_total, 1) as gap
    from students
    inner join majors using (school_code, year)
    inner join college_years using (school_code, year)
    where abs(students.fulltime_total - majors.enrolled_students) > $students_tolerance * greatest(students.fulltime_total, 1)
),

students_total as (
    select
        school_code, year,
        '1.3.2' as table_code,
        'fulltime_total' as column_name,
        'students_total' as check_name,
        'error' as severity,
        1::bigint as failed_count,
        fulltime_total || ' / ' || enrolled_students as samples,
        '表1.3.2 当年在校生 第 ' || row_nos || ' 行 全日制高职在校生合计 ' || fulltime_total || ' 人，与表7.1 专业设置 '
            || majors || ' 个专业的在校生数之和 ' || enrolled_students || ' 人相差 ' || round(gap * 100, 1) || '%，超过 '
            || round($students_tolerance * 100, 1) || '%，请核对两张表后重新导出' as message_zh,
        'table 1.3.2 row ' || row_nos || ': full-time students ' || fulltime_total || ' differ from the sum over table 7.1 ('
            || enrolled_students || ') by ' || round(gap * 100, 1) || '%, more than ' || round($students_tolerance * 100, 1)
            || '%; check both tables and export again' as message_en,
        '在校生合计与表7.1 不一致（' || fulltime_total || ' / ' || enrolled_students || '）' as summary_zh,
        source_file
    from student_gaps
),

expenditure as (
    select
        school_code, year, source_file, row_no, expenditure_total,
        coalesce(infrastructure, 0) + coalesce(equipment_purchase, 0) + coalesce(daily_teaching, 0)
            + coalesce(teaching_reform, 0) + coalesce(faculty_development, 0) + coalesce(student_support, 0)
            + coalesce(other_expenditure, 0) as items_total
    from raw.funding_expenditure
    where expenditure_total is not null
        and coalesce(infrastructure, equipment_purchase, daily_teaching, teaching_reform, faculty_development,
            student_support, other_expenditure) is not null
),

expenditure_gaps as (
    select expenditure.*
    from expenditure
    inner join college_years using (school_code, year)
    where abs(items_total - expenditure_total)
        > greatest($expenditure_tolerance_wan, $expenditure_tolerance_share * abs(expenditure_total))
),

expenditure_total as (
    select
        school_code, year,
        '5.2' as table_code,
        'expenditure_total' as column_name,
        'expenditure_total' as check_name,
        'error' as severity,
        1::bigint as failed_count,
        rtrim(rtrim(printf('%.2f', items_total), '0'), '.') || ' / '
            || rtrim(rtrim(printf('%.2f', expenditure_total), '0'), '.') as samples,
        '表5.2 经费支出 第 ' || row_no || ' 行 各项支出之和 ' || rtrim(rtrim(printf('%.2f', items_total), '0'), '.')
            || ' 万元与支出合计 ' || rtrim(rtrim(printf('%.2f', expenditure_total), '0'), '.')
            || ' 万元不一致（相差 ' || rtrim(rtrim(printf('%.2f', abs(items_total - expenditure_total)), '0'), '.')
            || ' 万元），请核对各项支出与合计后重新导出' as message_zh,
        'table 5.2 row ' || row_no || ': the items sum to ' || rtrim(rtrim(printf('%.2f', items_total), '0'), '.')
            || ' (10k yuan) but the total is ' || rtrim(rtrim(printf('%.2f', expenditure_total), '0'), '.')
            || '; check the items and the total and export again' as message_en,
        '支出各项之和与合计不符' as summary_zh,
        source_file
    from expenditure_gaps
),

final as (
    select * from students_total
    union all
    select * from expenditure_total
)

select * from final
