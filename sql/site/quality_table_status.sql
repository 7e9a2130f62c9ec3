select * from quality.table_status order by school_code, year, table_code
