select school_code, year, indicator_code, value from mart.indicator_values where value is not null
