"""Import shim: the review code moved to `pipelines.secretariat` (rules, review, commands).

Kept only for the modules other areas import it from today (`assets/review.py`, the command list
in `pipelines/cli.py`); to be removed once they import from `pipelines.secretariat`.
"""

from pipelines.secretariat.commands import register_review as register
from pipelines.secretariat.review import load_recorded_reviews
from pipelines.secretariat.rules import CONCLUSION_EN, load_rules

__all__ = ["CONCLUSION_EN", "load_recorded_reviews", "load_rules", "register"]
