select * from quality.issues
