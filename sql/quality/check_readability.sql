-- What the ingest could not read: cells that could not be typed (loaded as empty, so a required
-- column shows up again in the suites), unknown columns, kept per row in raw.<table>.extra until
-- a data officer maps them (a free-text 备注/说明 column is common and harmless, so it is not reported),
-- and formula cells that have no calculated value (a workbook written by a program, never opened in
-- Excel: read as empty).
with college_years as (
    select school_code, year from college_years
),

tables as (
    select table_code, name_zh from ref.platform_tables
),

files as (
    select log.* replace (list_filter(coalesce(log.extra_columns, []), x -> x not in ('备注', '说明')) as extra_columns),
        tables.name_zh
    from raw.ingest_log as log
    inner join college_years using (school_code, year)
    left join tables using (table_code)
    where log.status in ('loaded', 'unchanged')
),

coercion as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'unreadable_cells' as check_name,
        'warn' as severity,
        coercion_failures::bigint as failed_count,
        '' as samples,
        '表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file || '》中有 ' || coercion_failures
            || ' 个单元格无法按规定格式识别（如数字写成文字、日期格式不规范），已按空值处理，请按平台格式改正后重新导出' as message_zh,
        'table ' || table_code || ': ' || coercion_failures || ' cells of ' || source_file
            || ' could not be read as their type and were loaded as empty; correct the format and export again' as message_en,
        coercion_failures || ' 个单元格格式无法识别' as summary_zh,
        source_file
    from files
    where coalesce(coercion_failures, 0) > 0
),

extra as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'unknown_columns' as check_name,
        'warn' as severity,
        len(extra_columns)::bigint as failed_count,
        array_to_string(extra_columns, '、') as samples,
        '表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file || '》中的列（'
            || array_to_string(extra_columns, '、') || '）未对应到数据表目录中的列，原值已随各行保存；'
            || '由数据管理员核对（zhengai catalog unmapped），登记后下次运行即读入，学校无需重新导出' as message_zh,
        'table ' || table_code || ': columns ' || array_to_string(extra_columns, ', ') || ' of ' || source_file
            || ' map to no catalog column; their cells are kept with each row. A data officer reviews them '
            || '(zhengai catalog unmapped); once mapped, the next run reads them, with no new export' as message_en,
        '有未识别的列' as summary_zh,
        source_file
    from files
    where len(extra_columns) > 0
),

formulas as (
    select
        school_code, year, table_code,
        null::varchar as column_name,
        'uncomputed_formulas' as check_name,
        'warn' as severity,
        null::bigint as failed_count,
        '' as samples,
        '表' || table_code || ' ' || coalesce(name_zh, '') || ' 文件《' || source_file || '》：' || reason as message_zh,
        'table ' || table_code || ': ' || source_file || ': ' || reason_en as message_en,
        '公式未计算' as summary_zh,
        source_file
    from files
    where starts_with(reason, '公式未计算')
),

final as (
    select * from coercion
    union all
    select * from extra
    union all
    select * from formulas
)

select * from final
