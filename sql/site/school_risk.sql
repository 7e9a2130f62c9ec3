select
    school_code, year, risk_score, red_count, yellow_count, insufficient_count, rank,
    flagged_indicators, red_indicators, yellow_indicators, insufficient_indicators, flagged_zh
from mart.school_risk
