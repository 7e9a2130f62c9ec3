-- The official college-level card of 教发〔2004〕2号《普通高等学校基本办学条件指标（试行）》, per college
-- and year, apart from the project's element colours (办学条件黄牌/红牌 ≠ 要素预警：红色).
-- The rule, from the notes under 表二 (基本办学条件指标：限制招生; reproduced at
-- https://360docs.net/doc/268866136.html and http://tianhezy.com/gzc/zdfg/sjfg/14384.htm):
--   1 生师比高于表中数值或其它某一项指标低于表中数值，即该项指标未达到规定要求。
--   2 凡有一项指标未达到规定要求的学校，即被确定为限制招生（黄牌）学校。
--   3 凡两项或两项以上指标未达到规定要求的学校，即被确定为暂停招生（红牌）学校。
--   4 凡连续三年被确定为“黄”牌的学校，第三年即被确定为暂停招生（红牌）学校。
-- and under 表一: 凡生师比指标不高于表中数值，且其它指标不低于表中数值的学校为合格学校.
-- The indicators are the five 基本办学条件指标, i.e. those with a 限制招生 value in ref.thresholds for
-- the college's type (the monitoring indicators have none). card:
--   暂停招生  two or more below their 限制招生 value, or 限制招生 (or worse) in
--             $card_yellow_years_to_red consecutive collection years ending this one (a year with a
--             red card counts: it was "at least yellow"; a missing or undecided year breaks the run)
--   限制招生  exactly one below its 限制招生 value
--   数据不足  none below, but some indicator has no value (the card cannot be decided)
--   未达合格  none below 限制招生, some below 合格: the standard names no card for this case
--   合格      every one at its 合格 value or better
-- rests_on_unconfirmed: a threshold the card's verdict depends on is unconfirmed in ref.thresholds
-- (for 限制招生/暂停招生 the 限制招生 values crossed, in every year of the run; for 未达合格 the 合格 and
-- 限制招生 values of the indicators below 合格; for 合格 the 合格 values).
create or replace table mart.college_card as
with base as (
    select school_code, year, school_type from mart.school_base
),

indicator_values as (
    select school_code, year, indicator_code, value from mart.indicator_values
),

indicators as (
    select indicator_code, name_zh, unit, direction, decimals, ordinal from ref.indicators
),

thresholds as (
    select * from ref.thresholds where restricted_value is not null
),

judged as (
    select
        base.school_code,
        base.year,
        base.school_type,
        thresholds.indicator_code,
        indicators.name_zh,
        indicators.ordinal,
        indicator_values.value,
        thresholds.qualified_value,
        thresholds.restricted_value,
        thresholds.confidence <> 'confirmed' as qualified_unconfirmed,
        coalesce(thresholds.restricted_confidence, 'unconfirmed') <> 'confirmed' as restricted_unconfirmed,
        case when indicators.direction = 'lower' then '高于' else '低于' end as beyond_zh,
        printf('%.' || indicators.decimals || 'f', indicator_values.value) || indicators.unit as value_zh,
        regexp_replace(printf('%.4f', thresholds.restricted_value), '\.?0+$', '') || indicators.unit as restricted_zh,
        regexp_replace(printf('%.4f', thresholds.qualified_value), '\.?0+$', '') || indicators.unit as qualified_zh,
        indicator_values.value is not null and case
            when indicators.direction = 'lower' then indicator_values.value > thresholds.restricted_value
            else indicator_values.value < thresholds.restricted_value
        end as below_restricted,
        indicator_values.value is not null and case
            when indicators.direction = 'lower' then indicator_values.value > thresholds.qualified_value
            else indicator_values.value < thresholds.qualified_value
        end as below_qualified
    from base
    inner join thresholds on thresholds.school_type = base.school_type
    inner join indicators on indicators.indicator_code = thresholds.indicator_code
    left join indicator_values
        on indicator_values.school_code = base.school_code
        and indicator_values.year = base.year
        and indicator_values.indicator_code = thresholds.indicator_code
),

per_year as (
    select
        school_code,
        year,
        school_type,
        count(*) filter (where below_restricted) as below_restricted_count,
        count(*) filter (where below_qualified) as below_qualified_count,
        count(*) filter (where value is null) as missing_count,
        list(indicator_code order by ordinal) filter (where below_restricted) as below_restricted_codes,
        list(indicator_code order by ordinal) filter (where below_qualified) as below_qualified_codes,
        list(indicator_code order by ordinal) filter (where value is null) as missing_codes,
        list(indicator_code order by ordinal) as all_codes,
        list(
            name_zh || '为' || value_zh || '，' || beyond_zh || '限制招生值' || restricted_zh
            || case when restricted_unconfirmed then '（该限制招生值未经核实）' else '' end
            order by ordinal
        ) filter (where below_restricted) as below_restricted_zh,
        list(
            name_zh || '为' || value_zh || '，' || beyond_zh || '合格值' || qualified_zh
            || case when qualified_unconfirmed then '（该合格值未经核实）' else '' end
            order by ordinal
        ) filter (where below_qualified and not below_restricted) as below_qualified_zh,
        list(name_zh order by ordinal) filter (where value is null) as missing_zh,
        coalesce(bool_or(restricted_unconfirmed) filter (where below_restricted), false) as restricted_crossed_unconfirmed,
        coalesce(bool_or(qualified_unconfirmed or restricted_unconfirmed) filter (where below_qualified), false)
            as between_unconfirmed,
        bool_or(qualified_unconfirmed) as qualified_unconfirmed
    from judged
    group by all
),

carded as (
    select
        *,
        case
            when below_restricted_count >= 2 then '暂停招生'
            when below_restricted_count = 1 then '限制招生'
            when missing_count > 0 then '数据不足'
            when below_qualified_count > 0 then '未达合格'
            else '合格'
        end as count_card
    from per_year
),

-- consecutive years carded 限制招生 or worse: year − rank is constant along a run of such years
islands as (
    select
        *,
        count_card in ('限制招生', '暂停招生') as carded_yellow,
        year - row_number() over (partition by school_code, count_card in ('限制招生', '暂停招生') order by year)
            as island
    from carded
),

runs as (
    select
        *,
        case when carded_yellow then count(*) over run end as yellow_run_years,
        case when carded_yellow then bool_or(restricted_crossed_unconfirmed) over run end as run_unconfirmed
    from islands
    window run as (
        partition by school_code, carded_yellow, island order by year rows between unbounded preceding and current row
    )
),

final as (
    select
        school_code,
        year,
        school_type,
        case
            when count_card = '限制招生' and yellow_run_years >= $card_yellow_years_to_red then '暂停招生'
            else count_card
        end as card,
        count_card = '限制招生' and yellow_run_years >= $card_yellow_years_to_red as red_by_consecutive_years,
        below_restricted_count,
        coalesce(yellow_run_years, 0) as yellow_run_years,
        case
            when count_card in ('限制招生', '暂停招生') then below_restricted_codes
            when count_card = '数据不足' then missing_codes
            when count_card = '未达合格' then below_qualified_codes
            else all_codes
        end as deciding_indicators,
        coalesce(missing_codes, []::varchar[]) as missing_indicators,
        case
            when count_card in ('限制招生', '暂停招生') then run_unconfirmed
            when count_card = '未达合格' then between_unconfirmed
            when count_card = '合格' then qualified_unconfirmed
            else false
        end as rests_on_unconfirmed,
        list_filter([
            case when count_card in ('限制招生', '暂停招生') then
                array_to_string(below_restricted_zh, '；')
                || '：' || below_restricted_count || '项基本办学条件指标未达到限制招生要求'
                || case when below_restricted_count >= 2 then '，确定为暂停招生（红牌）' else '' end
                || '（教发〔2004〕2号 表二备注' || case when below_restricted_count >= 2 then '3' else '2' end || '）。'
            end,
            case when count_card = '限制招生' and yellow_run_years >= $card_yellow_years_to_red then
                '连续' || yellow_run_years || '年被确定为限制招生（黄牌）或更严，第' || yellow_run_years
                || '年确定为暂停招生（红牌）（教发〔2004〕2号 表二备注4）。'
            end,
            case when count_card = '数据不足' then
                '无法确定办学条件黄牌/红牌：' || array_to_string(missing_zh, '、') || '无数值（数据不足），其余基本办学条件指标均未低于限制招生值。'
            end,
            case when count_card = '未达合格' then
                array_to_string(below_qualified_zh, '；')
                || '：未达到合格值，但没有指标低于限制招生值，教发〔2004〕2号对此不定黄牌/红牌。'
            end,
            case when count_card = '合格' then '五项基本办学条件指标均达到合格值（教发〔2004〕2号 表一）。' end,
            case when count_card in ('限制招生', '暂停招生') and missing_count > 0 then
                array_to_string(missing_zh, '、') || '无数值，未计入。'
            end
        ], sentence -> sentence is not null) as reasons_zh
    from runs
)

select * from final order by school_code, year
