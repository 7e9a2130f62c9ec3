-- The (college, year, table) triples delivered, a temporary table for this connection's checks:
-- here the tables the ingest log loaded (or found unchanged); pipelines/quality/inputs.py then adds
-- the triples with rows in each raw table (sql/quality/delivered_tables_add.sql).
create or replace temp table delivered_tables as
select distinct
    school_code,
    year,
    table_code
from raw.ingest_log
where status in ('loaded', 'unchanged') and table_code is not null
