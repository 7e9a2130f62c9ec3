-- The college registry the secretariat edits ($ZHENGAI_HOME/registry/schools.csv).
create or replace table ref.schools as
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select
        trim(school_code) as school_code,
        trim(name_zh) as name_zh,
        trim(school_type) as school_type,
        trim(ownership) as ownership,
        coalesce(nullif(trim(status), ''), 'active') as status,
        list_filter(string_split(coalesce(succeeded, ''), '|'), x -> x <> '') as succeeded,
        try_cast(nullif(active_from, '') as integer) as active_from,
        try_cast(nullif(active_to, '') as integer) as active_to
    from source
)

select * from final order by school_code
