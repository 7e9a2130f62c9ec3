select element_code, element_name, item_code from ref.diagnostic_elements order by element_code
