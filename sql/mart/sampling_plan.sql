-- Every recorded sampling plan ($ZHENGAI_HOME/exports/sampling/<year>/plan.json), one row per
-- selected college with why it was selected (risk, its December submissions with the points they added,
-- a due re-review, the random draw) and the plan's inputs (seed, as-of, risk snapshot).
-- Registered by the asset as recorded_sampling_plans.
create or replace table mart.sampling_plan as
with recorded as (
    select * from recorded_sampling_plans
),

final as (
    select
        cycle_start,
        cycle_end,
        year,
        rank,
        school_code,
        name_zh,
        reason,
        reason_zh,
        rationale_zh,
        top_reasons,
        risk_score,
        risk_rank,
        last_reviewed_year,
        submission_points,
        submission_reasons,
        seed,
        as_of,
        risk_year,
        risk_snapshot_sha256,
        plan_file
    from recorded
)

select * from final order by year, rank
