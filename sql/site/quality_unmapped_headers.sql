select * from quality.unmapped_headers
