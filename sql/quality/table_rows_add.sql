-- Adds to `table_rows` the row count of each (college, year) in one raw table: $table_name is the
-- quoted raw table (raw."<table_name>" from the catalog), $code its code.
insert into table_rows
select
    school_code,
    year,
    $code as table_code,
    count(*) as row_count
from query_table($table_name)
group by school_code, year
