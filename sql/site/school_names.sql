select school_code, name_zh from ref.schools
