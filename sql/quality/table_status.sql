-- One verdict per college-year judged (temp table `college_years`) and catalogued table, by
-- precedence missing > stale > invalid (any error) > warn > ok. An optional table not delivered is
-- `missing` too (downstream treats a missing optional table as absent, not as bad data).
-- reasons_zh lists the issues' short summaries, worst first (at most $max_reasons, then a count).
create or replace table quality.table_status as
with college_years as (
    select school_code, year from college_years
),

tables as (
    select table_code, name_zh, required from ref.platform_tables
),

delivered as (
    select distinct school_code, year, table_code from delivered_tables
),

issues as (
    select * from quality.issues where table_code is not null
),

ranked as (
    select
        school_code, year, table_code,
        case
            when check_name = 'missing_table' then 4
            when check_name in ('stale_period', 'early_export') then 3
            -- a missing column costs only the indicators that read it (mart.indicator_values), not the table
            when check_name = 'missing_column' then 1
            when severity = 'info' then 0
            when severity = 'error' then 2
            else 1
        end as rank,
        summary_zh,
        message_zh
    from issues
),

per_table as (
    select
        school_code, year, table_code,
        max(rank) as worst,
        count(*) as issue_count,
        list(distinct summary_zh order by summary_zh) as summaries
    from ranked
    group by all
),

grid as (
    select college_years.school_code, college_years.year, tables.table_code, tables.required,
        delivered.table_code is not null as is_delivered
    from college_years
    cross join tables
    left join delivered
        on delivered.school_code = college_years.school_code
        and delivered.year = college_years.year
        and delivered.table_code = tables.table_code
),

final as (
    select
        grid.school_code,
        grid.year,
        grid.table_code,
        case
            when not grid.is_delivered or per_table.worst = 4 then 'missing'
            when per_table.worst = 3 then 'stale'
            when per_table.worst = 2 then 'invalid'
            when per_table.worst = 1 then 'warn'
            else 'ok'
        end as status,
        case
            when not grid.is_delivered and per_table.summaries is null then
                case when grid.required then '未提交' else '未提交（选填表）' end
            when per_table.summaries is null then ''
            else array_to_string(per_table.summaries[1:$max_reasons], '；')
                || case when len(per_table.summaries) > $max_reasons
                    then '；等 ' || len(per_table.summaries) || ' 类问题' else '' end
        end as reasons_zh
    from grid
    left join per_table using (school_code, year, table_code)
)

select * from final order by school_code, year, table_code
