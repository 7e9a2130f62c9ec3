"""Import shim: the sampling code moved to `pipelines.secretariat` (sampling, plans, commands).

Kept only for the modules other areas import it from today (`assets/review.py`, the command list
in `pipelines/cli.py`); to be removed once they import from `pipelines.secretariat`.
"""

from pipelines.secretariat.commands import register_sampling as register
from pipelines.secretariat.inputs import registry_rows
from pipelines.secretariat.review import review_history
from pipelines.secretariat.sampling import colleges_from, cycle_of, cycle_status, lineage, recorded_plans

__all__ = [
    "colleges_from", "cycle_of", "cycle_status", "lineage", "recorded_plans", "register", "registry_rows",
    "review_history",
]
