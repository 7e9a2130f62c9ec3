-- Completeness: every required table for every college-year judged (temp table `college_years`),
-- with the quarantine reason when the college's file was rejected; quarantined files whose table
-- is otherwise present, or which could not be matched to a table, are reported too.
with college_years as (
    select school_code, year, due from college_years
),

required_tables as (
    select table_code, name_zh from ref.platform_tables where required
),

all_tables as (
    select table_code, name_zh, required from ref.platform_tables
),

delivered as (
    select distinct school_code, year, table_code from delivered_tables
),

quarantined as (
    select school_code, year, table_code, source_file, coalesce(reason, '') as reason,
        coalesce(reason_en, reason, '') as reason_en
    from raw.ingest_log
    where status = 'quarantined' and school_code is not null and year is not null
),

quarantine_reasons as (
    select school_code, year, table_code,
        string_agg('文件《' || source_file || '》被隔离：' || reason, '；' order by source_file) as reason_zh,
        string_agg('file ' || source_file || ' was quarantined: ' || reason_en, '; ' order by source_file) as reason_en,
        string_agg(source_file, '；' order by source_file) as source_file
    from quarantined
    where table_code is not null
    group by all
),

missing as (
    select
        college_years.school_code,
        college_years.year,
        college_years.due,
        required_tables.table_code,
        required_tables.name_zh,
        quarantine_reasons.reason_zh,
        quarantine_reasons.reason_en,
        quarantine_reasons.source_file
    from college_years
    cross join required_tables
    left join delivered using (school_code, year, table_code)
    left join quarantine_reasons using (school_code, year, table_code)
    where delivered.table_code is null
),

missing_issues as (
    select
        school_code,
        year,
        table_code,
        null::varchar as column_name,
        'missing_table' as check_name,
        case when due then 'error' else 'warn' end as severity,
        1::bigint as failed_count,
        coalesce(source_file, '') as samples,
        case
            when reason_zh is not null then
                '表' || table_code || ' ' || name_zh || ' 缺失：' || reason_zh || '。请修正文件后重新提交'
            else
                '未提交必填表' || table_code || ' ' || name_zh || '（' || (year - 1) || '-' || year || '学年），请导出后提交到 '
                || school_code || '/' || year || '/ 目录'
        end || case when due then '' else '（本年度采集尚未截止）' end as message_zh,
        case
            when reason_en is not null
                then 'table ' || table_code || ' is missing: ' || reason_en || '; fix the file and submit again'
            else 'required table ' || table_code || ' was not submitted for ' || year || '; export it and submit it to '
                || school_code || '/' || year || '/'
        end || case when due then '' else ' (collection still open)' end as message_en,
        case when reason_zh is not null then '文件被隔离' else '未提交' end as summary_zh,
        source_file
    from missing
),

other_quarantined as (
    select
        quarantined.school_code,
        quarantined.year,
        quarantined.table_code,
        null::varchar as column_name,
        'quarantined_file' as check_name,
        case when delivered.table_code is not null then 'warn' else 'error' end as severity,
        1::bigint as failed_count,
        quarantined.source_file as samples,
        '文件《' || quarantined.source_file || '》被隔离：' || quarantined.reason
            || case when delivered.table_code is not null then '（本表已采用同年度的其他文件）' else '' end
            || '。请修正后重新提交' as message_zh,
        'file ' || quarantined.source_file || ' was quarantined: ' || quarantined.reason_en
            || case when delivered.table_code is not null then ' (another file of the table is used)' else '' end
            || '; fix it and submit again' as message_en,
        '文件被隔离' as summary_zh,
        quarantined.source_file
    from quarantined
    inner join college_years using (school_code, year)
    left join all_tables using (table_code)
    left join delivered using (school_code, year, table_code)
    where quarantined.table_code is null
        or all_tables.table_code is null
        or delivered.table_code is not null
        or not all_tables.required
),

final as (
    select * from missing_issues
    union all
    select * from other_quarantined
)

select * from final
