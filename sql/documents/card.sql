-- The official card of 教发〔2004〕2号 (mart.college_card) of one college, its last three collection years up to $year.
with cards as (
    select * from mart.college_card
),

final as (
    select year, card, reasons_zh, rests_on_unconfirmed, deciding_indicators, missing_indicators
    from cards
    where school_code = $school and year <= $year
)

select * from final
order by year desc
limit 3
