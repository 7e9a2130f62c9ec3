-- Every college-year the quality layer judges (a temporary table for this connection's checks).
-- A year up to $current_year (the current collection year, whose deadline has passed) is due for
-- every college active that year (ref.schools active_from/active_to; a closed or merged college
-- without active_to only for the years it delivered). A later year is still open: a college is
-- judged for it only once it has delivered something. The first year is the earliest year any
-- college delivered (or $current_year when nothing has been delivered yet).
-- Needs the temporary table `delivered_tables` (school_code, year, table_code).
create or replace temp table college_years as
with schools as (
    select school_code, status, active_from, active_to from ref.schools
),

log as (
    select distinct school_code, year from raw.ingest_log where school_code is not null and year is not null
),

delivered as (
    select distinct school_code, year from delivered_tables
    union
    select school_code, year from log
),

bounds as (
    select
        least(coalesce(min(year), $current_year), $current_year) as first_year,
        greatest(coalesce(max(year), $current_year), $current_year) as last_year
    from delivered
),

years as (
    select unnest(range(first_year, last_year + 1)) as year from bounds
),

candidates as (
    select schools.school_code, years.year, years.year <= $current_year as due
    from schools
    cross join years
    where (schools.active_from is null or schools.active_from <= years.year)
        and (schools.active_to is null or years.year <= schools.active_to)
),

final as (
    select candidates.school_code, candidates.year, candidates.due
    from candidates
    inner join schools using (school_code)
    left join delivered using (school_code, year)
    where (candidates.due and (schools.status = 'active' or schools.active_to is not null))
        or delivered.school_code is not null
)

select * from final order by school_code, year
