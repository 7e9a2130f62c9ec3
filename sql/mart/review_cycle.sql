-- The review cycle view: per cycle and active college, its reviews and conclusion in the cycle,
-- its improvement deadline, whether a re-review is due, the plans listing it, and the cycle's
-- coverage (target, covered, on track), and the steps after the latest review (整改方案, 整改总结,
-- 复核申请 with its date, 专家回访): a re-review is due only after an application made once the
-- improvement period was over (细则 四). Computed by pipelines.secretariat.cycle.cycle_status and
-- registered by the asset as computed_review_cycle.
create or replace table mart.review_cycle as
with computed as (
    select * from computed_review_cycle
),

final as (
    select
        cycle_start,
        cycle_end,
        school_code,
        name_zh,
        status_zh,
        reviewed_years,
        latest_year,
        latest_conclusion,
        improvement_deadline,
        re_review_due,
        applied_on,
        followups_zh,
        planned_years,
        cycle_target,
        cycle_covered,
        cycle_expected_by_now,
        cycle_on_track,
        as_of
    from computed
)

select * from final order by cycle_start, school_code
