-- Every indicator for every college and year, from the four family tables, with the data-quality
-- verdict applied: an indicator reading a table whose status is invalid or stale (or missing, for a
-- required table) that year is excluded — value NULL, status 'excluded' — so its elements read as
-- 数据不足 rather than green. status: 'ok' | 'no_denominator' (empty or zero denominator) |
-- 'no_data' (the numerator's figures are absent) | 'excluded'.
-- exempt: 教发〔2004〕2号 表三's exemptions (ref.indicator_exemptions) hold, so the indicator counts as
-- meeting its 合格 value whatever its value (e.g. 设备总值 > 1 亿元 and 当年新增 > 1000 万元 →
-- 新增设备比例 合格); exempt_reason_zh says which, with the college's figures.
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

base as (
    select school_code, year, equivalent_students from mart.school_base
),

exemptions as (
    select * from ref.indicator_exemptions
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

-- the measures the exemption conditions name, one row per college, year and measure
exemption_measures as (
    select school_code, year, 'equivalent_students' as measure, equivalent_students as amount from base
    union all
    select school_code, year, 'equipment_value_new_wan', numerator from computed
    where indicator_code = 'new_equipment_share'
    union all
    select school_code, year, 'equipment_value_total_wan', numerator + denominator from computed
    where indicator_code = 'new_equipment_share'
    union all
    select school_code, year, 'books_new', numerator from computed
    where indicator_code = 'new_books_per_student'
),

exempted as (
    select
        computed.school_code,
        computed.year,
        computed.indicator_code,
        string_agg(
            exemptions.reason_zh
            || '（' || printf('%.0f', first_measured.amount) || ' > ' || printf('%.0f', exemptions.first_above)
            || '，' || printf('%.0f', second_measured.amount) || ' > ' || printf('%.0f', exemptions.second_above) || '）',
            '；'
        ) as exempt_reason_zh
    from computed
    inner join exemptions using (indicator_code)
    inner join exemption_measures as first_measured
        on first_measured.school_code = computed.school_code and first_measured.year = computed.year
        and first_measured.measure = exemptions.first_measure
    inner join exemption_measures as second_measured
        on second_measured.school_code = computed.school_code and second_measured.year = computed.year
        and second_measured.measure = exemptions.second_measure
    where first_measured.amount > exemptions.first_above and second_measured.amount > exemptions.second_above
    group by all
),

untrusted as (
    select computed.school_code, computed.year, computed.indicator_code,
        list(table_status.table_code order by table_status.table_code) as excluded_tables
    from computed
    inner join indicators using (indicator_code)
    cross join unnest(indicators.source_tables) as cited (table_code)
    inner join table_status
        on table_status.school_code = computed.school_code
        and table_status.year = computed.year
        and table_status.table_code = cited.table_code
    inner join platform_tables on platform_tables.table_code = cited.table_code
    where table_status.status in ('invalid', 'stale')
        or (table_status.status = 'missing' and platform_tables.required)
    group by all
),

-- A catalog column the college's file lacks (quality.issues `missing_column`, or `not_exported_column`
-- when its platform version does not export it) excludes only the
-- indicators that read it (ref.indicator_columns); its table stays usable for the others.
missing_inputs as (
    select
        issues.school_code,
        issues.year,
        indicator_columns.indicator_code,
        list(distinct '表' || issues.table_code || '“' || coalesce(platform_columns.headers[1], issues.column_name) || '”'
            || case when issues.check_name = 'not_exported_column' then '（本平台版本不导出该字段）' else '' end)
            as missing_columns
    from quality.issues as issues
    inner join ref.indicator_columns as indicator_columns using (table_code, column_name)
    left join ref.platform_columns as platform_columns using (table_code, column_name)
    where issues.check_name in ('missing_column', 'not_exported_column')
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
        untrusted.excluded_tables is null and exempted.exempt_reason_zh is not null as exempt,
        case when untrusted.excluded_tables is null then exempted.exempt_reason_zh end as exempt_reason_zh,
        coalesce(list_sort(missing_inputs.missing_columns), []::varchar[]) as missing_columns
    from computed
    inner join indicators using (indicator_code)
    left join untrusted using (school_code, year, indicator_code)
    left join exempted using (school_code, year, indicator_code)
    left join missing_inputs using (school_code, year, indicator_code)
)

select * from final order by school_code, year, indicator_code
