-- Each element's indicators for one college and year: value, three-year trend, verdict, and the college's
-- position among same-type colleges as anonymous aggregates only (count, rank from the best with ties
-- sharing a rank, quartiles), given only when at least $peer_min_count same-type colleges have a value.
-- No other college is named.
with warnings as (
    select * from mart.indicator_warnings
),

links as (
    select indicator_code, element_code, point_no, point_name from ref.indicator_elements
),

peers as (
    select
        year,
        school_type,
        indicator_code,
        count(value) as peer_count,
        quantile_cont(value, 0.25) as peer_q1,
        median(value) as peer_median,
        quantile_cont(value, 0.75) as peer_q3
    from warnings
    where value is not null
    group by all
),

own as (
    select * from warnings
    where school_code = $school and year = $year
),

better as (
    select own.indicator_code, count(*) as better_count
    from own
    inner join warnings as others
        on others.year = own.year
        and others.school_type = own.school_type
        and others.indicator_code = own.indicator_code
        and others.value is not null
        and own.value is not null
        and case when own.direction = 'lower' then others.value < own.value else others.value > own.value end
    group by all
),

final as (
    select
        links.element_code,
        links.point_no,
        links.point_name,
        own.indicator_code,
        own.name_zh,
        own.unit,
        own.decimals,
        own.direction,
        own.value,
        own.value_1y_ago,
        own.value_2y_ago,
        own.qualified_value,
        own.qualified_confidence,
        own.level,
        own.causes,
        own.reasons,
        own.data_notes,
        own.sources_zh,
        own.school_type,
        own.ordinal,
        case when peers.peer_count >= $peer_min_count then peers.peer_count end as peer_count,
        case when peers.peer_count >= $peer_min_count then coalesce(better.better_count, 0) + 1 end
            as peer_rank_from_best,
        case when peers.peer_count >= $peer_min_count then peers.peer_q1 end as peer_q1,
        case when peers.peer_count >= $peer_min_count then peers.peer_median end as peer_median,
        case when peers.peer_count >= $peer_min_count then peers.peer_q3 end as peer_q3,
        coalesce(peers.peer_count, 0) as peers_with_value
    from own
    inner join links using (indicator_code)
    left join peers
        on peers.year = own.year
        and peers.school_type = own.school_type
        and peers.indicator_code = own.indicator_code
        and own.value is not null
    left join better using (indicator_code)
)

select * from final
order by element_code, ordinal
