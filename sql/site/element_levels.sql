-- Each college's level per year and element, for the dashboards' heat maps and reasons.
select school_code, year, element_code, level, reasons
from mart.element_warnings
order by school_code, year, element_code
