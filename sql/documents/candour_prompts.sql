-- The candour prompts (mart.candour_prompts, built by the candour step) of one college and year: where the
-- data flag a problem its self-diagnosis does not mention, or its report claims what the data contradict.
with prompts as (
    select * from mart.candour_prompts
),

final as (
    select element_code, kind, indicator_code, message_zh, confidence
    from prompts
    where school_code = $school and year = $year
)

select * from final
order by element_code, kind, indicator_code
