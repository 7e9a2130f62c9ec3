-- Staleness, judged for the current collection year $current_year and the deadline
-- ($deadline_month-$deadline_day of each collection year):
--   college_outdated: a college due for $current_year whose latest data are from an earlier year;
--   stale_period: a file whose title names another 学年 than its folder's year (stale);
--   period_unknown: a file whose title names no readable 学年 (warn);
--   early_export: exported before the 学年 ended (before 1 September of the year): stale, its data
--     cannot cover the whole year;
--   late_export: exported after the deadline of its year (warn, 逾期提交).
with college_years as (
    select school_code, year, due from college_years
),

tables as (
    select table_code, name_zh from ref.platform_tables
),

delivered as (
    select school_code, max(year) as latest_year from delivered_tables group by all
),

files as (
    select log.*, tables.name_zh
    from raw.ingest_log as log
    inner join college_years using (school_code, year)
    left join tables using (table_code)
    where log.status in ('loaded', 'unchanged')
),

outdated as (
    select
        college_years.school_code,
        college_years.year,
        null::varchar as table_code,
        null::varchar as column_name,
        'college_outdated' as check_name,
        'error' as severity,
        1::bigint as failed_count,
        coalesce(delivered.latest_year::varchar, '') as samples,
        case
            when delivered.latest_year is null then '本校尚未提交任何状态数据'
            else '本校最新数据为 ' || delivered.latest_year || ' 年'
        end || '，' || college_years.year || ' 年（' || (college_years.year - 1) || '-' || college_years.year
            || '学年）数据的提交截止日期 ' || strftime(make_date(college_years.year, $deadline_month, $deadline_day), '%Y-%m-%d')
            || ' 已过，请尽快导出并提交' as message_zh,
        case
            when delivered.latest_year is null then 'the college has not submitted any status data'
            else 'the college''s latest data are from ' || delivered.latest_year
        end || '; the deadline for ' || college_years.year || ' ('
            || strftime(make_date(college_years.year, $deadline_month, $deadline_day), '%Y-%m-%d')
            || ') has passed: export and submit them' as message_en,
        '数据过期（最新为 ' || coalesce(delivered.latest_year::varchar, '无') || ' 年）' as summary_zh,
        null::varchar as source_file
    from college_years
    left join delivered using (school_code)
    where college_years.year = $current_year
        and college_years.due
        and coalesce(delivered.latest_year, 0) < $current_year
),

stale_period as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'stale_period' as check_name,
        'error' as severity,
        1::bigint as failed_count,
        coalesce(title, '') as samples,
        '表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file || '》标题中的学年为 '
            || (period_year - 1) || '-' || period_year || '学年，与提交目录的年度 ' || year || '（' || (year - 1) || '-' || year
            || '学年）不符，数据已过期，请导出本学年数据后重新提交' as message_zh,
        'table ' || table_code || ': the title of ' || source_file || ' covers ' || (period_year - 1) || '-' || period_year
            || ', not the folder''s year ' || year || ' (' || (year - 1) || '-' || year
            || '); export the current year''s data and submit again' as message_en,
        '学年不符（标题为 ' || (period_year - 1) || '-' || period_year || '学年）' as summary_zh,
        source_file
    from files
    where period_year is not null and period_year <> year
),

period_unknown as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'period_unknown' as check_name,
        'warn' as severity,
        1::bigint as failed_count,
        coalesce(title, '') as samples,
        '表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file
            || '》标题中未能识别学年（应为“（' || (year - 1) || '-' || year || '学年）”），请核对导出的是本学年数据' as message_zh,
        'table ' || table_code || ': no academic year could be read from the title of ' || source_file
            || '; check it holds ' || (year - 1) || '-' || year || ' data' as message_en,
        '标题未注明学年' as summary_zh,
        source_file
    from files
    where period_year is null and title is not null
),

early_export as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'early_export' as check_name,
        'error' as severity,
        1::bigint as failed_count,
        strftime(exported_at, '%Y-%m-%d %H:%M') as samples,
        '表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file || '》导出于 '
            || strftime(exported_at, '%Y-%m-%d') || '，早于 ' || (year - 1) || '-' || year || '学年结束（' || year
            || '-08-31），数据不能覆盖整个学年，请在学年结束后重新导出提交' as message_zh,
        'table ' || table_code || ': ' || source_file || ' was exported on ' || strftime(exported_at, '%Y-%m-%d')
            || ', before the academic year ended (' || year || '-08-31); export it again' as message_en,
        '导出早于学年结束' as summary_zh,
        source_file
    from files
    where exported_at is not null and exported_at < make_date(year, 9, 1)
),

late_export as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'late_export' as check_name,
        'warn' as severity,
        1::bigint as failed_count,
        strftime(exported_at, '%Y-%m-%d %H:%M') as samples,
        '逾期提交：表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file || '》导出于 '
            || strftime(exported_at, '%Y-%m-%d') || '，晚于 ' || year || ' 年的提交截止日期 '
            || strftime(make_date(year, $deadline_month, $deadline_day), '%Y-%m-%d') || '，请按期提交' as message_zh,
        'late: table ' || table_code || ' (' || source_file || ') was exported on ' || strftime(exported_at, '%Y-%m-%d')
            || ', after the ' || year || ' deadline ' || strftime(make_date(year, $deadline_month, $deadline_day), '%Y-%m-%d')
            as message_en,
        '逾期提交' as summary_zh,
        source_file
    from files
    where exported_at is not null
        and exported_at >= make_date(year, $deadline_month, $deadline_day) + interval 1 day
),

final as (
    select * from outdated
    union all
    select * from stale_period
    union all
    select * from period_unknown
    union all
    select * from early_export
    union all
    select * from late_export
)

select * from final
