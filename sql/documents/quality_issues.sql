-- The data-quality findings of one college and year (quality.issues), errors first, with the table's name.
with issues as (
    select * from quality.issues
    where school_code = $school and year = $year
),

tables as (
    select table_code, name_zh from ref.platform_tables
),

final as (
    select
        issues.severity,
        issues.table_code,
        tables.name_zh as table_name,
        issues.check_name,
        issues.failed_count,
        issues.message_zh
    from issues
    left join tables using (table_code)
)

select * from final
order by case severity when 'error' then 0 when 'warn' then 1 else 2 end, table_code, check_name
