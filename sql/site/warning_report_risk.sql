-- The early-warning report's risk line per college and year.
select * from mart.school_risk
