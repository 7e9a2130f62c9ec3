select indicator_code, school_type, qualified_value, restricted_value, confidence, restricted_confidence
from ref.thresholds
