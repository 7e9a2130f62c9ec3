-- Adds to `delivered_tables` the (college, year, table) triples with rows in a raw table, read from
-- `table_rows` (filled first, sql/quality/table_rows_add.sql) instead of scanning each raw table
-- again. Set semantics, as a union: a triple already there is not added again.
insert into delivered_tables
select distinct
    school_code,
    year,
    table_code
from table_rows
except
select
    school_code,
    year,
    table_code
from delivered_tables
