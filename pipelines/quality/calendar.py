"""Which collection year is judged, as of which date, with which deadline.

Collection year Y covers the 学年 ending 31 August Y and is due by the deadline
(`ZHENGAI_COLLECTION_DEADLINE`, default 10-31) of year Y. Judged as of a date D, the current
collection year is D.year when D is on or after that year's deadline, else D.year - 1: before
the deadline colleges may still be submitting year D.year, so it is not yet overdue (the year is
"open": a college is judged on it once it has delivered something, and its missing tables are
warnings). Example: as of 2024-10-31 or 2024-12-01 the current year is 2024; as of 2024-10-30 it
is 2023.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pipelines.quality.rules import load_quality_rules
from pipelines.settings import collection_deadline


@dataclass(frozen=True)
class QualityParams:
    """What one quality run judges against: its date, the current collection year and its deadline, the rules."""

    as_of: dt.date
    current_year: int
    deadline: dt.date
    rules: dict[str, float]

    def sql(self) -> dict[str, Any]:
        return {
            "current_year": self.current_year,
            "deadline_month": self.deadline.month,
            "deadline_day": self.deadline.day,
            "students_tolerance": self.rules["students_tolerance_share"],
            "expenditure_tolerance_wan": self.rules["expenditure_tolerance_wan"],
            "expenditure_tolerance_share": self.rules["expenditure_tolerance_share"],
        }


def current_collection_year(as_of: dt.date) -> int:
    """The latest collection year whose deadline has passed on `as_of` (see the module docstring)."""
    return as_of.year if as_of >= collection_deadline(as_of.year) else as_of.year - 1


def quality_params(as_of: dt.date) -> QualityParams:
    year = current_collection_year(as_of)
    return QualityParams(as_of=as_of, current_year=year, deadline=collection_deadline(year), rules=load_quality_rules())
