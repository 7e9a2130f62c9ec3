select * from quality.table_status
