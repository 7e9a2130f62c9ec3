select element_code, element_name from ref.diagnostic_elements order by element_code
