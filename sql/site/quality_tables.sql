select table_code, name_zh, required from ref.platform_tables order by table_code
