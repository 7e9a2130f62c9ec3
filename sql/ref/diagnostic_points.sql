-- 附件2's diagnostic points, one row each, platform codes kept as written in the source.
create or replace table ref.diagnostic_points as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select
        element_code,
        cast(point_no as integer) as point_no,
        point_name,
        hint,
        coalesce(platform_codes, '') as platform_codes
    from source
)

select * from final order by element_code, point_no
