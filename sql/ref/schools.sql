-- The college registry the secretariat edits ($ZHENGAI_HOME/registry/schools.csv), as validated and
-- typed by pipelines/registry.py, which registers its rows as `registry_rows` (see build_schools_table).
create or replace table ref.schools as
with source as (
    select * from registry_rows
),

final as (
    select
        school_code,
        name_zh,
        school_type,
        ownership,
        status,
        succeeded,
        active_from,
        active_to
    from source
)

select * from final order by school_code
