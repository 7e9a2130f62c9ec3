select * from quality.element_data_status order by school_code, year, element_code
