-- The exemptions of 教发〔2004〕2号 表三 (reference/indicator_exemptions.csv): an indicator counts as
-- meeting its 合格 value when two measures of the college both exceed ("超过", strictly) their bounds,
-- whatever its own value. The measures are named from a fixed vocabulary that
-- sql/mart/indicator_values.sql computes: equipment_value_total_wan, equipment_value_new_wan (万元),
-- equivalent_students (折合在校生), books_new (当年新增图书, 册).
create or replace table ref.indicator_exemptions as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select
        trim(indicator_code) as indicator_code,
        trim(first_measure) as first_measure,
        cast(first_above as double) as first_above,
        trim(second_measure) as second_measure,
        cast(second_above as double) as second_above,
        reason_zh,
        source,
        coalesce(nullif(trim(confidence), ''), 'unconfirmed') as confidence
    from source
)

select * from final order by indicator_code
