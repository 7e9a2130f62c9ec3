-- Running-condition indicators (tables 3.1–3.4, 4.1 over 1.3.2), long format, with the denominators of
-- 教发〔2004〕2号 (全日制在校生 for 用房, 宿舍, 占地, 计算机, 多媒体座位; 折合在校生 for 设备, 图书):
-- numerator, denominator and scale per indicator; mart.indicator_values turns them into values.
-- Amounts in 万元 are converted to 元 (× 10000) so per-student values read as the standards do.
create or replace table mart.indicator_values_conditions as
with base as (
    select * from mart.school_base
),

campus_area as (
    select * from raw.campus_area
),

teaching_equipment as (
    select * from raw.teaching_equipment
),

library_holdings as (
    select * from raw.library_holdings
),

it_facilities as (
    select * from raw.it_facilities
),

onsite_training_bases as (
    select * from raw.onsite_training_bases
    anti join (select * from quality.excluded_rows where table_name = 'onsite_training_bases')
        using (school_code, year, source_file, row_no)
),

areas as (
    select
        school_code,
        year,
        sum(teaching_research_area + admin_office_area) as teaching_admin_area,
        sum(dormitory_area) as dormitory_area,
        sum(land_area) as land_area
    from campus_area
    group by all
),

equipment as (
    select
        school_code,
        year,
        sum(equipment_value) * 10000 as equipment_yuan,
        sum(equipment_value_new) as new_value,
        sum(equipment_value - equipment_value_new) as previous_value
    from teaching_equipment
    group by all
),

books as (
    select school_code, year, sum(books_total) as books_total, sum(books_new) as books_new
    from library_holdings
    group by all
),

computers as (
    select
        school_code,
        year,
        sum(teaching_computers) as teaching_computers,
        -- a college without a language lab leaves that column empty; with neither figure there is no value
        sum(coalesce(multimedia_seats, 0) + coalesce(language_lab_seats, 0))
            filter (where multimedia_seats is not null or language_lab_seats is not null) as multimedia_seats
    from it_facilities
    group by all
),

workstations as (
    select school_code, year, sum(workstations) as workstations from onsite_training_bases group by all
),

per_school as (
    select
        base.school_code,
        base.year,
        base.equivalent_students,
        base.fulltime_students,
        base.vocational_students,
        areas.teaching_admin_area,
        areas.dormitory_area,
        areas.land_area,
        equipment.equipment_yuan,
        equipment.new_value,
        equipment.previous_value,
        books.books_total,
        books.books_new,
        computers.teaching_computers,
        computers.multimedia_seats,
        workstations.workstations
    from base
    left join areas using (school_code, year)
    left join equipment using (school_code, year)
    left join books using (school_code, year)
    left join computers using (school_code, year)
    left join workstations using (school_code, year)
),

measures as (
    select school_code, year, 'teaching_admin_area_per_student' as indicator_code,
        teaching_admin_area as numerator, fulltime_students as denominator, 1.0 as scale
    from per_school
    union all
    select school_code, year, 'dormitory_area_per_student', dormitory_area, fulltime_students, 1.0 from per_school
    union all
    select school_code, year, 'equipment_value_per_student', equipment_yuan, equivalent_students, 1.0 from per_school
    union all
    select school_code, year, 'new_equipment_share', new_value, previous_value, 100.0 from per_school
    union all
    select school_code, year, 'books_per_student', books_total, equivalent_students, 1.0 from per_school
    union all
    select school_code, year, 'new_books_per_student', books_new, equivalent_students, 1.0 from per_school
    union all
    select school_code, year, 'computers_per_100_students', teaching_computers, fulltime_students, 100.0
    from per_school
    union all
    select school_code, year, 'land_area_per_student', land_area, fulltime_students, 1.0 from per_school
    union all
    select school_code, year, 'multimedia_seats_per_100_students', multimedia_seats, fulltime_students, 100.0
    from per_school
    union all
    select school_code, year, 'workstations_per_student', workstations, vocational_students, 1.0 from per_school
)

select * from measures
