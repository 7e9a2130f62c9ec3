-- One line of health per college and collection year judged (those quality.table_status judges),
-- for the Dagster UI and data officers: its tables by verdict, its problems by severity, and one
-- overall health, worst first: not_delivered (no table delivered) > error (a required table missing,
-- or a table invalid) > stale > partial (rows left out) > ok. health_zh and reasons_zh say it in Chinese.
create or replace table quality.college_year_status as
with schools as (
    select school_code, name_zh from ref.schools
),

table_status as (
    select school_code, year, table_code, status, reasons_zh from quality.table_status
),

issues as (
    select school_code, year, severity from quality.issues where school_code is not null and year is not null
),

tables_by_status as (
    select
        school_code,
        year,
        count(*) filter (where status in ('ok', 'warn')) as tables_ok,
        count(*) filter (where status = 'missing') as tables_missing,
        count(*) filter (where status = 'stale') as tables_stale,
        count(*) filter (where status = 'invalid') as tables_invalid,
        count(*) filter (where status = 'partial') as tables_partial,
        count(*) filter (where status not in ('missing', 'optional_absent')) as tables_delivered,
        string_agg(
            table_code || '：' || reasons_zh, '；' order by table_code
        ) filter (where status in ('missing', 'stale', 'invalid', 'partial')) as reasons_zh
    from table_status
    group by all
),

issues_by_severity as (
    select
        school_code,
        year,
        count(*) filter (where severity = 'error') as errors,
        count(*) filter (where severity = 'warn') as warnings
    from issues
    group by all
),

judged as (
    select
        tables_by_status.*,
        coalesce(issues_by_severity.errors, 0) as errors,
        coalesce(issues_by_severity.warnings, 0) as warnings,
        case
            when tables_by_status.tables_delivered = 0 then 'not_delivered'
            when tables_by_status.tables_missing > 0 or tables_by_status.tables_invalid > 0 then 'error'
            when tables_by_status.tables_stale > 0 then 'stale'
            when tables_by_status.tables_partial > 0 then 'partial'
            else 'ok'
        end as health
    from tables_by_status
    left join issues_by_severity using (school_code, year)
),

health_zh as (
    select * from (
        values
        ('not_delivered', '未报送', 5),
        ('error', '有错误', 4),
        ('stale', '数据过期', 3),
        ('partial', '部分可用', 2),
        ('ok', '正常', 1)
    ) as h (health, health_zh, health_rank)
),

final as (
    select
        judged.school_code,
        schools.name_zh,
        judged.year,
        judged.health,
        health_zh.health_zh,
        health_zh.health_rank,
        judged.tables_delivered,
        judged.tables_ok,
        judged.tables_missing,
        judged.tables_stale,
        judged.tables_invalid,
        judged.tables_partial,
        judged.errors,
        judged.warnings,
        case when judged.health = 'not_delivered' then '未提交任何表' else judged.reasons_zh end as reasons_zh
    from judged
    inner join health_zh using (health)
    left join schools using (school_code)
)

select * from final
