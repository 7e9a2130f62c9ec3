-- Every indicator for every college and year, from the four family tables, with the data-quality
-- verdict applied: an indicator reading a table whose status is invalid or stale (or missing, for a
-- required table) that year is excluded — value NULL, status 'excluded' — so its elements read as
-- 数据不足 rather than green. status: 'ok' | 'no_denominator' (empty or zero denominator) |
-- 'no_data' (the numerator's figures are absent) | 'excluded'.
create or replace table mart.indicator_values as
with teachers as (
    select * from mart.indicator_values_teachers
),

conditions as (
    select * from mart.indicator_values_conditions
),

teaching as (
    select * from mart.indicator_values_teaching
),

management as (
    select * from mart.indicator_values_management
),

indicators as (
    select indicator_code, source_tables, denominator_zh from ref.indicators
),

platform_tables as (
    select table_code, required from ref.platform_tables
),

table_status as (
    select school_code, year, table_code, status from quality.table_status
),

measured as (
    select * from teachers
    union all
    select * from conditions
    union all
    select * from teaching
    union all
    select * from management
),

-- value = numerator ÷ denominator × scale, NULL when the denominator is empty or zero; a count
-- (scale NULL) is its numerator.
computed as (
    select
        school_code,
        year,
        indicator_code,
        case when scale is null then numerator else numerator / nullif(denominator, 0) * scale end as value,
        cast(numerator as double) as numerator,
        cast(denominator as double) as denominator
    from measured
),

untrusted as (
    select computed.school_code, computed.year, computed.indicator_code,
        list(table_status.table_code order by table_status.table_code) as excluded_tables
    from computed
    inner join indicators using (indicator_code)
    cross join unnest(indicators.source_tables) as cited(table_code)
    inner join table_status
        on table_status.school_code = computed.school_code
        and table_status.year = computed.year
        and table_status.table_code = cited.table_code
    inner join platform_tables on platform_tables.table_code = cited.table_code
    where table_status.status in ('invalid', 'stale')
        or (table_status.status = 'missing' and platform_tables.required)
    group by all
),

-- A catalog column the college's file lacks (quality.issues `missing_column`) excludes only the
-- indicators that read it (ref.indicator_columns); its table stays usable for the others.
missing_inputs as (
    select
        issues.school_code,
        issues.year,
        indicator_columns.indicator_code,
        list(distinct '表' || issues.table_code || '“' || coalesce(platform_columns.headers[1], issues.column_name) || '”')
            as missing_columns
    from quality.issues as issues
    inner join ref.indicator_columns as indicator_columns using (table_code, column_name)
    left join ref.platform_columns as platform_columns using (table_code, column_name)
    where issues.check_name = 'missing_column'
    group by all
),

final as (
    select
        computed.school_code,
        computed.year,
        computed.indicator_code,
        case when untrusted.excluded_tables is null and missing_inputs.missing_columns is null then computed.value end
            as value,
        computed.numerator,
        computed.denominator,
        case
            when untrusted.excluded_tables is not null or missing_inputs.missing_columns is not null then 'excluded'
            when computed.value is not null then 'ok'
            when indicators.denominator_zh <> '' and coalesce(computed.denominator, 0) = 0 then 'no_denominator'
            else 'no_data'
        end as status,
        coalesce(untrusted.excluded_tables, []::varchar[]) as excluded_tables,
        coalesce(list_sort(missing_inputs.missing_columns), []::varchar[]) as missing_columns
    from computed
    inner join indicators using (indicator_code)
    left join untrusted using (school_code, year, indicator_code)
    left join missing_inputs using (school_code, year, indicator_code)
)

select * from final order by school_code, year, indicator_code
