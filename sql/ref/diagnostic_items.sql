create or replace table ref.diagnostic_items as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select distinct item_code, item_name
    from source
)

select * from final order by item_code
