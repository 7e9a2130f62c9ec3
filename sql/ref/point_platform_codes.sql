-- Normalised platform codes per diagnostic point: spaces removed (`6. 1` -> `6.1`), and a code
-- that names a section or group (`7`, `1.3`) expanded to every catalogued table under it.
-- Points that cite no code produce no row: they have no data coverage.
create or replace table ref.point_platform_codes as
with points as (
    select element_code, point_no, platform_codes from ref.diagnostic_points
),

tables as (
    select table_code from ref.platform_tables
),

cited as (
    select
        element_code,
        point_no,
        unnest(list_filter(
            string_split(regexp_replace(platform_codes, '\s+', '', 'g'), '/'), x -> x <> ''
        )) as cited_code
    from points
),

expanded as (
    select distinct
        cited.element_code,
        cited.point_no,
        tables.table_code as platform_code,
        cited.cited_code
    from cited
    inner join tables
        on tables.table_code = cited.cited_code
        or starts_with(tables.table_code, cited.cited_code || '.')
),

final as (
    select element_code, point_no, platform_code, cited_code from expanded
)

select * from final order by element_code, point_no, platform_code
