-- 合格 and 限制招生 values per indicator and school type (reference/thresholds.csv), each with its
-- source and confidence: most values are unconfirmed and must be easy to change, so they live in
-- that file, never in code. `source`/`confidence` describe the 合格 value, `restricted_*` the 限制招生 one.
create or replace table ref.thresholds as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select
        trim(indicator_code) as indicator_code,
        trim(school_type) as school_type,
        try_cast(nullif(qualified_value, '') as double) as qualified_value,
        try_cast(nullif(restricted_value, '') as double) as restricted_value,
        source,
        coalesce(nullif(confidence, ''), 'unconfirmed') as confidence,
        restricted_source,
        nullif(restricted_confidence, '') as restricted_confidence,
        coalesce(note, '') as note
    from source
)

select * from final order by indicator_code, school_type
