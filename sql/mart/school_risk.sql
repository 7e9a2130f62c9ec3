-- The secretariat's risk ranking of colleges per year, for choosing whom to sample.
-- risk_score = 100 × Σ element score ÷ ($weight_red × number of elements with data coverage),
-- where an element scores $weight_red when red (escalated included), $weight_yellow when yellow,
-- $weight_insufficient when its data are insufficient, 0 when green or without data coverage:
-- 0 = every covered element green, 100 = every covered element red. rank 1 = highest risk in
-- the year (ties share a rank). insufficient_count counts covered elements only: elements whose
-- points cite no table (5.3, 5.4) are insufficient for every college and say nothing about risk.
create or replace table mart.school_risk as
with element_warnings as (
    select * from mart.element_warnings
),

per_school as (
    select
        school_code,
        year,
        sum(score) as total_score,
        count(*) filter (where has_coverage) as covered_elements,
        count(*) filter (where level = 'red') as red_count,
        count(*) filter (where level = 'yellow') as yellow_count,
        count(*) filter (where level = 'insufficient' and has_coverage) as insufficient_count
    from element_warnings
    group by all
),

final as (
    select
        school_code,
        year,
        round(100.0 * total_score / nullif($weight_red * covered_elements, 0), 2) as risk_score,
        red_count,
        yellow_count,
        insufficient_count,
        rank() over (partition by year order by total_score / nullif(covered_elements, 0) desc) as rank
    from per_school
)

select * from final order by year, rank, school_code
