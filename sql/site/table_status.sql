select school_code, year, table_code, status, reasons_zh from quality.table_status
