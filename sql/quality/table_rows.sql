-- Rows per (college, year, table), a temporary table for this connection's checks; filled one raw
-- table at a time by pipelines/quality/inputs.py (sql/quality/table_rows_add.sql).
create or replace temp table table_rows (
    school_code varchar,
    year integer,
    table_code varchar,
    row_count bigint
)
