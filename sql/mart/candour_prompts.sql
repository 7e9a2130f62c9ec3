-- Candour prompts for the experts (never verdicts): per college, report year and element, the data's red or
-- yellow indicators that the college's self-diagnosis (附件3) does not mention (flag_unmentioned), or about
-- which it claims an achievement the data contradict (claim_contradicted). The keyword matching is done by
-- pipelines/secretariat/candour.py with reference/candour_keywords.csv; the asset registers its result as
-- computed_candour_prompts.
create or replace table mart.candour_prompts as
with computed as (
    select * from computed_candour_prompts
),

final as (
    select
        school_code,
        year,
        element_code,
        kind,
        indicator_code,
        message_zh,
        confidence
    from computed
)

select * from final order by school_code, year, element_code, indicator_code, kind
