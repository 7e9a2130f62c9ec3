select item_code, item_name from ref.diagnostic_items order by item_code
