select school_code, year, table_code, severity, failed_count, message_zh from quality.issues
