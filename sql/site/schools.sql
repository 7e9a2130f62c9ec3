select school_code, name_zh, school_type from ref.schools
