create or replace table ref.diagnostic_elements as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select distinct element_code, element_name, item_code
    from source
)

select * from final order by element_code
