-- Per college-year judged and diagnostic element: `insufficient` when a table its points cite
-- (ref.point_platform_codes) is missing (required tables only: an optional table may be absent),
-- stale or invalid that year; `no_data_coverage` when its points cite no table at all; otherwise
-- `sufficient`. reasons_zh names each table and why.
-- The college-years judged are those of quality.table_status (every one of them × every catalogued
-- table), so this step needs none of the temporary inputs the issues and table_status steps rebuild.
create or replace table quality.element_data_status as
with college_years as (
    select distinct school_code, year from quality.table_status
),

elements as (
    select element_code, element_name from ref.diagnostic_elements
),

cited as (
    select distinct element_code, platform_code as table_code from ref.point_platform_codes
),

tables as (
    select table_code, name_zh, required from ref.platform_tables
),

table_status as (
    select school_code, year, table_code, status, reasons_zh from quality.table_status
),

status_zh as (
    select * from (values ('missing', '缺失'), ('stale', '过期'), ('invalid', '无效')) as s (status, status_zh)
),

blocking as (
    select
        table_status.school_code,
        table_status.year,
        cited.element_code,
        string_agg(
            '表' || tables.table_code || ' ' || tables.name_zh || status_zh.status_zh
                || case when coalesce(table_status.reasons_zh, '') <> '' then '（' || table_status.reasons_zh || '）' else '' end,
            '；' order by tables.table_code
        ) as reasons_zh
    from cited
    inner join tables using (table_code)
    inner join table_status using (table_code)
    inner join status_zh using (status)
    where table_status.status in ('stale', 'invalid') or (table_status.status = 'missing' and tables.required)
    group by all
),

coverage as (
    select element_code, count(*) as table_count from cited group by all
),

final as (
    select
        college_years.school_code,
        college_years.year,
        elements.element_code,
        case
            when coverage.element_code is null then 'no_data_coverage'
            when blocking.reasons_zh is not null then 'insufficient'
            else 'sufficient'
        end as status,
        case
            when coverage.element_code is null then
                '本要素的诊断点未对应状态数据平台的任何数据表，无数据覆盖，需依据其他材料人工诊断'
            when blocking.reasons_zh is not null then '数据不足：' || blocking.reasons_zh
            else '引用的 ' || coverage.table_count || ' 张数据表均可用'
        end as reasons_zh
    from college_years
    cross join elements
    left join coverage using (element_code)
    left join blocking using (school_code, year, element_code)
)

select * from final order by school_code, year, element_code
