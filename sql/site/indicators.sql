select indicator_code, name_zh, unit, direction, decimals, family, ordinal from ref.indicators order by ordinal
