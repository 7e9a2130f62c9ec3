-- The steps after a review's conclusion (细则 三(四)(五)、四), one row per step: 整改方案备案 (plan), 整改总结提交
-- (summary), 复核申请 (application, on or after the end of the improvement period) and 专家回访 (revisit, with its
-- result), from the recorded files $ZHENGAI_HOME/followups/<review year>/<school_code>.csv (registered by the
-- asset as recorded_review_followups; written by `zhengai review followup`).
create or replace table mart.review_followups as
with recorded as (
    select * from recorded_review_followups
),

final as (
    select
        school_code,
        year,
        kind,
        kind_zh,
        date,
        result,
        recorded_at
    from recorded
)

select * from final order by school_code, year, date, kind
