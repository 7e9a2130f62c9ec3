select table_code, name_zh from ref.platform_tables
