-- Each indicator's verdict for each college and year, with its reasons as Chinese sentences.
-- Rules (parameters bound from reference/warning_rules.csv):
--   beyond the 限制招生 value                                  → red
--   beyond the 合格 value                                      → yellow
--   beyond the 合格 value (not the 限制招生 value) this year and the year before
--                                                              → red, escalated: said after the cause
--     ("生师比为19.24，高于合格值18（连续两年…）"); only this threshold-based yellow escalates,
--     never the peer or trend yellows below
--   an official exemption (exempt, 教发〔2004〕2号) meets the 合格 and 限制招生 values
--   among ≥ $peer_min_count same-type colleges with a value, within the worst $peer_bottom_share
--     (cume_dist from the worst end, ties counted together)   → yellow
--   worse than the year before by more than $trend_tolerance × |previous value|, two years running
--     (three consecutive years of values)                     → yellow
--   no value (empty denominator, absent figures, or excluded by the data-quality verdict)
--                                                              → insufficient, never green
-- A source table that lost a few bad rows (quality.table_status partial) is used without them; the
-- indicator says so (data_notes, also the last of its reasons).
-- "Beyond" means below for indicators where higher is better, above where lower is better.
create or replace table mart.indicator_warnings as
with indicator_values as (
    select * from mart.indicator_values
),

base as (
    select school_code, year, school_type from mart.school_base
),

indicators as (
    select * from ref.indicators
),

thresholds as (
    select * from ref.thresholds
),

platform_tables as (
    select table_code, name_zh from ref.platform_tables
),

table_status as (
    select school_code, year, table_code, status, excluded_rows, row_count, tolerance_share from quality.table_status
),

source_texts as (
    select
        indicators.indicator_code,
        string_agg('表' || cited.table_code || ' ' || coalesce(platform_tables.name_zh, ''), '、' order by cited.ordinal)
            as sources_zh
    from indicators
    cross join unnest(indicators.source_tables) with ordinality as cited (table_code, ordinal)
    left join platform_tables on platform_tables.table_code = cited.table_code
    group by all
),

valued as (
    select
        indicator_values.*,
        base.school_type,
        indicators.name_zh,
        indicators.unit,
        indicators.direction,
        indicators.decimals,
        indicators.denominator_zh,
        indicators.formula_zh,
        indicators.ordinal,
        source_texts.sources_zh,
        thresholds.qualified_value,
        thresholds.restricted_value,
        thresholds.confidence as qualified_confidence,
        thresholds.restricted_confidence,
        -- larger badness = worse, whichever direction is better
        case when indicators.direction = 'lower' then indicator_values.value else -indicator_values.value end
            as badness
    from indicator_values
    inner join base using (school_code, year)
    inner join indicators using (indicator_code)
    inner join source_texts using (indicator_code)
    left join thresholds
        on thresholds.indicator_code = indicator_values.indicator_code
        and thresholds.school_type = base.school_type
),

-- the thresholds' verdicts read the row alone, so they come before the windows: the level they give is
-- then looked up a year back in the same pass over each college's history (one window pass, not two)
thresholded as (
    select
        *,
        value is not null and restricted_value is not null
            and badness > case when direction = 'lower' then restricted_value else -restricted_value end
            and not coalesce(exempt, false) as below_restricted,
        value is not null and qualified_value is not null
            and badness > case when direction = 'lower' then qualified_value else -qualified_value end
            and not coalesce(exempt, false) as below_qualified,
        case
            when value is null then 'insufficient'
            when below_restricted then 'red'
            when below_qualified then 'yellow'
            else 'green'
        end as threshold_level
    from valued
),

windowed as (
    select
        *,
        count(*) over peers as peer_count,
        rank() over (peers order by badness desc) as peer_rank_from_worst,
        cume_dist() over (peers order by badness desc) as peer_share_from_worst,
        lag(value, 1) over history as value_1y_ago,
        lag(value, 2) over history as value_2y_ago,
        lag(year, 1) over history as year_1y_ago,
        lag(year, 2) over history as year_2y_ago,
        lag(threshold_level, 1) over history as threshold_level_1y_ago
    from thresholded
    window
        peers as (partition by year, indicator_code, school_type, value is null),
        history as (partition by school_code, indicator_code order by year)
),

-- the peers' and the trend's verdicts, and whether last year's level was a threshold-based yellow too
persisting as (
    select
        *,
        value is not null and school_type is not null and peer_count >= $peer_min_count
            and peer_share_from_worst <= $peer_bottom_share as in_peer_bottom,
        value is not null and value_1y_ago is not null and value_2y_ago is not null
            and year_1y_ago = year - 1 and year_2y_ago = year - 2
            and badness - (case when direction = 'lower' then value_1y_ago else -value_1y_ago end)
                > $trend_tolerance * abs(value_1y_ago)
            and (case when direction = 'lower' then value_1y_ago else -value_1y_ago end)
                - (case when direction = 'lower' then value_2y_ago else -value_2y_ago end)
                > $trend_tolerance * abs(value_2y_ago)
            as worsening,
        threshold_level = 'yellow' and threshold_level_1y_ago = 'yellow' and year_1y_ago = year - 1 as escalated
    from windowed
),

texts as (
    select
        *,
        printf('%.' || decimals || 'f', value) || unit as value_zh,
        regexp_replace(printf('%.4f', qualified_value), '\.?0+$', '') || unit as qualified_zh,
        regexp_replace(printf('%.4f', restricted_value), '\.?0+$', '') || unit as restricted_zh,
        printf('%.' || decimals || 'f', value_1y_ago) || unit as value_1y_ago_zh,
        printf('%.' || decimals || 'f', value_2y_ago) || unit as value_2y_ago_zh,
        case when direction = 'lower' then '高于' else '低于' end as beyond_zh,
        '（数据来源：' || sources_zh || '）' as from_zh,
        '；数据来源：' || sources_zh || '）' as after_note_zh,
        case when restricted_confidence = 'confirmed' then '' else '（该限制招生值未经核实' end as restricted_note_zh,
        case when qualified_confidence = 'confirmed' then '' else '（该合格值未经核实' end as qualified_note_zh,
        case when escalated then
            '（连续两年' || case when direction = 'lower' then '高于' else '低于' end || '合格值：'
            || (year - 1) || '年为' || printf('%.' || decimals || 'f', value_1y_ago) || unit
            || '，按规则升级为红色预警）'
        else '' end as persisting_zh
    from persisting
),

-- read from `valued`, the same rows as `texts` (which only adds columns to them), so that only the
-- columns needed are unnested, not the wide rows after the windows
excluded_texts as (
    select
        valued.school_code,
        valued.year,
        valued.indicator_code,
        string_agg(
            '表' || table_status.table_code || '为“'
            || case table_status.status when 'invalid' then '无效' when 'stale' then '过期' else '缺失' end || '”',
            '、' order by table_status.table_code
        ) as excluded_zh
    from valued
    cross join unnest(valued.excluded_tables) as excluded (table_code)
    inner join table_status
        on table_status.school_code = valued.school_code
        and table_status.year = valued.year
        and table_status.table_code = excluded.table_code
    group by all
),

-- a source table that lost a few bad rows (status partial): the indicator is computed from the rest
partial_texts as (
    select
        indicators.indicator_code,
        table_status.school_code,
        table_status.year,
        list(
            '表' || table_status.table_code || '中有误的' || table_status.excluded_rows || '行已排除（共'
            || table_status.row_count || '行，占'
            || regexp_replace(printf('%.1f', 100.0 * table_status.excluded_rows / table_status.row_count), '\.0$', '')
            || '%，在容差' || regexp_replace(printf('%.1f', 100 * table_status.tolerance_share), '\.0$', '')
            || '%以内），依据该表的指标按其余行计算。'
            order by table_status.table_code
        ) as data_notes
    from indicators
    cross join unnest(indicators.source_tables) as cited (table_code)
    inner join table_status on table_status.table_code = cited.table_code
    where table_status.status = 'partial'
    group by all
),

sentences as (
    select
        texts.*,
        coalesce(partial_texts.data_notes, []) as data_notes,
        list_filter([
            case when texts.status = 'excluded' then
                texts.name_zh || '不参与预警：' || coalesce(excluded_texts.excluded_zh,
                    '文件中没有' || nullif(array_to_string(texts.missing_columns, '、'), '') || '列', '来源表数据质量不合格')
                || '，按数据不足处理' || texts.from_zh || '。'
            end,
            case when texts.status = 'no_denominator' then
                texts.name_zh || '无法计算：分母（' || texts.denominator_zh || '）为空或为零，按数据不足处理'
                || texts.from_zh || '。'
            end,
            case when texts.status = 'no_data' then
                texts.name_zh || '无法计算：缺少所需数据，按数据不足处理' || texts.from_zh || '。'
            end,
            case when texts.below_restricted then
                texts.name_zh || '为' || texts.value_zh || '，' || texts.beyond_zh || '限制招生值'
                || texts.restricted_zh
                || case when texts.restricted_note_zh = '' then texts.from_zh
                    else texts.restricted_note_zh || texts.after_note_zh end
                || case when texts.below_qualified then '，也' || texts.beyond_zh || '合格值' || texts.qualified_zh
                    else '' end
                || '。'
            end,
            case when texts.below_qualified and not texts.below_restricted then
                texts.name_zh || '为' || texts.value_zh || '，' || texts.beyond_zh || '合格值' || texts.qualified_zh
                || texts.persisting_zh
                || case when texts.qualified_note_zh = '' then texts.from_zh
                    else texts.qualified_note_zh || texts.after_note_zh end
                || '。'
            end,
            case when texts.exempt and texts.value is not null and texts.qualified_value is not null
                and texts.badness > case when texts.direction = 'lower' then texts.qualified_value
                    else -texts.qualified_value end then
                texts.name_zh || '为' || texts.value_zh || '，' || texts.beyond_zh || '合格值' || texts.qualified_zh
                || '，但' || coalesce(texts.exempt_reason_zh, '符合豁免条件') || '，按合格处理' || texts.from_zh || '。'
            end,
            case when texts.in_peer_bottom then
                texts.name_zh || '为' || texts.value_zh || '，在' || texts.peer_count || '所同类（' || texts.school_type
                || '）院校中排倒数第' || texts.peer_rank_from_worst || '，处于最差的'
                || regexp_replace(printf('%.2f', $peer_bottom_share * 100), '\.?0+$', '') || '%之内'
                || texts.from_zh || '。'
            end,
            case when texts.worsening then
                texts.name_zh || '连续两年变差：' || texts.year_2y_ago || '年' || texts.value_2y_ago_zh || ' → '
                || texts.year_1y_ago || '年' || texts.value_1y_ago_zh || ' → ' || texts.year || '年' || texts.value_zh
                || '，每年变差幅度均超过上一年数值的'
                || regexp_replace(printf('%.2f', $trend_tolerance * 100), '\.?0+$', '') || '%'
                || texts.from_zh || '。'
            end
        ], sentence -> sentence is not null) || coalesce(partial_texts.data_notes, []) as reasons
    from texts
    left join excluded_texts using (school_code, year, indicator_code)
    left join partial_texts using (school_code, year, indicator_code)
),

final as (
    select
        school_code,
        year,
        indicator_code,
        name_zh,
        value,
        value_zh,
        numerator,
        denominator,
        formula_zh,
        unit,
        decimals,
        direction,
        status,
        school_type,
        qualified_value,
        restricted_value,
        qualified_confidence,
        restricted_confidence,
        case when value is not null then peer_count end as peer_count,
        case when value is not null then peer_rank_from_worst end as peer_rank_from_worst,
        value_1y_ago,
        value_2y_ago,
        below_restricted,
        below_qualified,
        in_peer_bottom,
        worsening,
        exempt,
        exempt_reason_zh,
        threshold_level,
        escalated,
        case
            when value is null then 'insufficient'
            when below_restricted or escalated then 'red'
            when below_qualified or in_peer_bottom or worsening then 'yellow'
            else 'green'
        end as level,
        -- what makes the level, worst first: restricted | persisting | qualified | peer | trend
        list_filter([
            case when below_restricted then 'restricted' end,
            case when escalated then 'persisting' end,
            case when below_qualified and not below_restricted then 'qualified' end,
            case when in_peer_bottom then 'peer' end,
            case when worsening then 'trend' end
        ], cause -> cause is not null) as causes,
        reasons,
        data_notes,
        sources_zh,
        ordinal
    from sentences
)

select * from final order by school_code, year, ordinal
