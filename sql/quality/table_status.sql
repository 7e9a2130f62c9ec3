-- One verdict per college-year judged (temp table `college_years`) and catalogued table, by
-- precedence missing > stale > invalid > partial > warn > ok, or optional_absent:
--   optional_absent  an optional table (platform_tables.required = no) not delivered and nothing wrong
--                    with it: neither missing nor an issue;
--   partial          its only errors are on identifiable rows (row_keys) and those rows are at most
--                    the table's tolerance of its rows ($excluded_rows_share, per table
--                    $tolerance_tables/$tolerance_shares from reference/quality_rules.csv): the rows
--                    are left out (quality.excluded_rows) and the rest is used;
--   invalid          any other error (a table-level check, or more bad rows than the tolerance).
-- excluded_rows / row_count / tolerance_share say how many rows a partial table loses.
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

row_counts as (
    select school_code, year, table_code, sum(row_count) as row_count from table_rows group by all
),

tolerances as (
    select unnest($tolerance_tables::varchar[]) as table_code, unnest($tolerance_shares::double[]) as share
),

issues as (
    select * from quality.issues where table_code is not null
),

bad_rows as (
    -- distinct (file, row) pairs; sqlfluff reads `distinct (` as a function call
    select school_code, year, table_code, count(distinct (bad.key.source_file, bad.key.row_no)) as bad_rows  -- noqa: LT01,LT06
    from issues
    cross join unnest(issues.row_keys) as bad (key)
    where issues.severity = 'error'
    group by all
),

table_level_errors as (
    select distinct school_code, year, table_code
    from issues
    where severity = 'error' and coalesce(len(row_keys), 0) = 0
),

excludable as (
    select
        bad_rows.school_code,
        bad_rows.year,
        bad_rows.table_code,
        bad_rows.bad_rows,
        row_counts.row_count,
        coalesce(tolerances.share, $excluded_rows_share) as tolerance_share
    from bad_rows
    inner join row_counts using (school_code, year, table_code)
    left join tolerances using (table_code)
    anti join table_level_errors using (school_code, year, table_code)
    where bad_rows.bad_rows <= coalesce(tolerances.share, $excluded_rows_share) * row_counts.row_count
),

ranked as (
    select
        issues.school_code, issues.year, issues.table_code,
        case
            when issues.check_name = 'missing_table' then 4
            when issues.check_name in ('stale_period', 'early_export') then 3
            -- a missing column costs only the indicators that read it (mart.indicator_values), not the table
            when issues.check_name = 'missing_column' then 1
            when issues.severity = 'info' then 0
            when issues.severity = 'error' and excludable.table_code is null then 2
            else 1
        end as rank,
        issues.summary_zh
    from issues
    left join excludable using (school_code, year, table_code)
),

per_table as (
    select
        school_code, year, table_code,
        max(rank) as worst,
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

summarised as (
    select
        grid.*,
        per_table.worst,
        excludable.bad_rows,
        excludable.row_count,
        excludable.tolerance_share,
        case when per_table.summaries is not null then
            array_to_string(per_table.summaries[1:$max_reasons], '；')
            || case when len(per_table.summaries) > $max_reasons
                then '；等 ' || len(per_table.summaries) || ' 类问题' else '' end
        end as summaries_zh
    from grid
    left join per_table using (school_code, year, table_code)
    left join excludable using (school_code, year, table_code)
),

final as (
    select
        school_code,
        year,
        table_code,
        case
            when not is_delivered and not required and worst is null then 'optional_absent'
            when not is_delivered or worst = 4 then 'missing'
            when worst = 3 then 'stale'
            when worst = 2 then 'invalid'
            when bad_rows is not null then 'partial'
            when worst = 1 then 'warn'
            else 'ok'
        end as status,
        case
            when not is_delivered and not required and worst is null then '选填表，未提交（不影响预警）'
            when not is_delivered and worst is null then '未提交'
            when worst is null then ''
            when worst < 2 and bad_rows is not null then
                '排除有误的 ' || bad_rows || ' 行（共 ' || row_count || ' 行，占 '
                || regexp_replace(printf('%.1f', 100.0 * bad_rows / row_count), '\.0$', '') || '%，容差 '
                || regexp_replace(printf('%.1f', 100 * tolerance_share), '\.0$', '') || '%），其余行照常使用：'
                || summaries_zh
            else summaries_zh
        end as reasons_zh,
        case when worst < 2 then coalesce(bad_rows, 0) else 0 end as excluded_rows,
        row_count,
        tolerance_share
    from summarised
)

select * from final order by school_code, year, table_code
