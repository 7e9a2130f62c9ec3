-- Columns: a catalog column the college's file does not have (raw.ingest_log.missing_columns; it
-- loads as NULL for that college and year) and values converted from the unit a header stated.
-- missing_column is an error only when an indicator reads the column (ref.indicator_columns): those
-- indicators alone read 数据不足 (mart.indicator_values); else a warning. The messages say what the
-- file has and ask nothing of the college: its platform may not export that column. A column the
-- file's platform version does not export at all (raw.ingest_log.not_exported_columns, from the
-- catalog's shapes) is no omission of the college: `not_exported_column`, info; the indicators
-- reading it still read 数据不足, with that reason.
with college_years as (
    select school_code, year from college_years
),

tables as (
    select table_code, name_zh from ref.platform_tables
),

columns as (
    select table_code, column_name, headers[1] as header_zh, unit from ref.platform_columns
),

readers as (
    select
        indicator_columns.table_code,
        indicator_columns.column_name,
        string_agg(indicators.name_zh, '、' order by indicators.ordinal) as indicators_zh,
        string_agg(indicators.indicator_code, ', ' order by indicators.ordinal) as indicators_en
    from ref.indicator_columns as indicator_columns
    inner join ref.indicators as indicators using (indicator_code)
    group by all
),

judged_files as (
    select log.*, tables.name_zh
    from raw.ingest_log as log
    inner join college_years using (school_code, year)
    left join tables using (table_code)
    where log.status in ('loaded', 'unchanged') and log.table_code is not null
),

file_counts as (
    select school_code, year, table_code, count(*) as file_count from judged_files group by all
),

-- the latest file of each (college, year, table); most have one, which needs no window over the wide
-- log rows (0.1 s of every national run)
current_files as (
    select judged_files.*
    from judged_files
    semi join (select * from file_counts where file_count = 1) as single using (school_code, year, table_code)
    union all
    select judged_files.*
    from judged_files
    semi join (select * from file_counts where file_count > 1) as several using (school_code, year, table_code)
    qualify row_number() over (partition by school_code, year, table_code order by ingested_at desc) = 1
),

missing as (
    select current_files.*, unnest(coalesce(current_files.missing_columns, [])) as column_name
    from current_files
),

missing_issues as (
    select
        missing.school_code,
        missing.year,
        missing.table_code,
        missing.column_name,
        'missing_column' as check_name,
        case when readers.indicators_zh is not null then 'error' else 'warn' end as severity,
        missing."rows"::bigint as failed_count,
        coalesce(columns.header_zh, missing.column_name) as samples,
        '表' || missing.table_code || ' ' || coalesce(missing.name_zh, '') || ' 文件《' || missing.source_file
            || '》中没有“' || coalesce(columns.header_zh, missing.column_name) || '”列，该列按空值载入'
            || case when readers.indicators_zh is not null
                then '；依赖它的指标（' || readers.indicators_zh || '）本年度记为数据不足'
                else '；没有指标依赖此列' end
            || case when len(coalesce(missing.extra_columns, [])) > 0
                then '。文件中未识别的表头：' || array_to_string(missing.extra_columns, '、')
                    || '（如其中有对应此列的表头，数据管理员可用 zhengai catalog map 登记，下次运行即重新读取）'
                else '' end as message_zh,
        'table ' || missing.table_code || ': file ' || missing.source_file || ' has no column '
            || missing.column_name || '; it is loaded as NULL'
            || case when readers.indicators_en is not null
                then '; the indicators reading it (' || readers.indicators_en || ') are insufficient this year'
                else '; no indicator reads it' end
            || case when len(coalesce(missing.extra_columns, [])) > 0
                then '. Unrecognised headers in the file: ' || array_to_string(missing.extra_columns, ', ')
                    || ' (a data officer can map one with zhengai catalog map)'
                else '' end as message_en,
        '缺少列“' || coalesce(columns.header_zh, missing.column_name) || '”' as summary_zh,
        missing.source_file
    from missing
    left join columns using (table_code, column_name)
    left join readers using (table_code, column_name)
),

not_exported as (
    select current_files.*, unnest(coalesce(current_files.not_exported_columns, [])) as column_name
    from current_files
),

not_exported_issues as (
    select
        not_exported.school_code,
        not_exported.year,
        not_exported.table_code,
        not_exported.column_name,
        'not_exported_column' as check_name,
        'info' as severity,
        not_exported."rows"::bigint as failed_count,
        coalesce(columns.header_zh, not_exported.column_name) as samples,
        '表' || not_exported.table_code || ' ' || coalesce(not_exported.name_zh, '') || '：“'
            || coalesce(columns.header_zh, not_exported.column_name) || '”本平台版本不导出该字段（文件《'
            || not_exported.source_file || '》所属版本的各子表中都没有此列），该列按空值载入，不是学校的遗漏'
            || case when readers.indicators_zh is not null
                then '；依赖它的指标（' || readers.indicators_zh || '）本年度记为数据不足'
                else '；没有指标依赖此列' end as message_zh,
        'table ' || not_exported.table_code || ': the platform version of ' || not_exported.source_file
            || ' does not export column ' || not_exported.column_name || '; it is loaded as NULL'
            || case when readers.indicators_en is not null
                then '; the indicators reading it (' || readers.indicators_en || ') are insufficient this year'
                else '; no indicator reads it' end as message_en,
        '本平台版本不导出该字段' as summary_zh,
        not_exported.source_file
    from not_exported
    left join columns using (table_code, column_name)
    left join readers using (table_code, column_name)
),

converted as (
    select
        current_files.*,
        unnest(coalesce(current_files.conversions, [])) as conversion
    from current_files
),

conversion_issues as (
    select
        converted.school_code,
        converted.year,
        converted.table_code,
        split_part(converted.conversion, ': ', 1) as column_name,
        'unit_conversion' as check_name,
        'info' as severity,
        converted."rows"::bigint as failed_count,
        converted.conversion as samples,
        '表' || converted.table_code || ' ' || coalesce(converted.name_zh, '') || ' 文件《' || converted.source_file
            || '》中“' || coalesce(columns.header_zh, split_part(converted.conversion, ': ', 1)) || '”的表头单位为'
            || split_part(split_part(converted.conversion, ': ', 2), ' ×', 1) || '，已换算为' || coalesce(columns.unit, '')
            || '（×' || split_part(converted.conversion, ' ×', 2) || '）' as message_zh,
        'table ' || converted.table_code || ': ' || converted.source_file || ' column '
            || converted.conversion || ' converted to ' || coalesce(columns.unit, '') as message_en,
        '单位已换算' as summary_zh,
        converted.source_file
    from converted
    left join columns on columns.table_code = converted.table_code
        and columns.column_name = split_part(converted.conversion, ': ', 1)
),

final as (
    select * from missing_issues
    union all
    select * from not_exported_issues
    union all
    select * from conversion_issues
)

select * from final
