"""Import shim: the recovery measure moved to `pipelines.demo.recovery` (issue 15). Kept only for
tests/test_end_to_end.py (another area); remove once it imports from `pipelines.demo.recovery`."""

from pipelines.demo.recovery import (TARGET_MATCH_SHARE, confusion, match_share, outcomes,
                                     reds_without_a_threshold_cause, unexplained_misses)

__all__ = ["TARGET_MATCH_SHARE", "confusion", "match_share", "outcomes", "reds_without_a_threshold_cause",
           "unexplained_misses"]
