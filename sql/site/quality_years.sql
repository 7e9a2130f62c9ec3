select distinct year from quality.table_status
