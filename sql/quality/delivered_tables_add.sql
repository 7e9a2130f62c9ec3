-- Adds to `delivered_tables` the (college, year) pairs found in one raw table: $table_name is the
-- quoted raw table (raw."<table_name>" from the catalog), $code its code. Set semantics,
-- as a union: a triple already there is not added again.
insert into delivered_tables
select distinct
    school_code,
    year,
    $code as table_code
from query_table($table_name)
except
select
    school_code,
    year,
    table_code
from delivered_tables
