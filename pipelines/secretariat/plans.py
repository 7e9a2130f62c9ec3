"""The typed inputs and output of a sampling plan, and how they read and write as JSON.

`plan.json` holds `{"inputs": PlanInputs.as_json(), "plan": Plan.as_json()}`; the JSON of both is
kept exactly as earlier plans wrote it (same keys, same order), so a recorded plan can be read back
with `PlanInputs.from_json` and recomputed to the same colleges.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from pipelines.secretariat.rules import LEGACY_RULES, Rules, parse_rules


def snapshot_sha256(rows: list[dict]) -> str:
    canonical = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class College:
    """A registry row: identity across renames and mergers lives in `succeeded`."""

    school_code: str
    name_zh: str
    status: str
    succeeded: tuple[str, ...]
    active_from: int | None
    active_to: int | None

    def active_in(self, year: int) -> bool:
        return (
            self.status == "active"
            and (self.active_from is None or self.active_from <= year)
            and (self.active_to is None or self.active_to >= year)
        )

    @classmethod
    def from_json(cls, row: dict) -> College:
        return cls(
            row["school_code"],
            row.get("name_zh") or "",
            row.get("status") or "active",
            tuple(row.get("succeeded") or ()),
            row.get("active_from"),
            row.get("active_to"),
        )

    def as_json(self) -> dict:
        return {**asdict(self), "succeeded": list(self.succeeded)}


@dataclass(frozen=True)
class RiskRow:
    """A college's row of the risk snapshot (`mart.school_risk` of the risk year)."""

    school_code: str
    risk_score: float | None
    red_count: int
    yellow_count: int
    insufficient_count: int
    rank: int
    flagged_indicators: int = 0
    red_indicators: int = 0
    yellow_indicators: int = 0
    insufficient_indicators: int = 0

    @classmethod
    def from_json(cls, row: dict) -> RiskRow:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in row.items() if key in names})

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PastReview:
    """A recorded review, as the plan saw it."""

    school_code: str
    year: int
    review_date: str
    conclusion: str
    improvement_deadline: str | None
    applied_on: str | None = None  # the college's application for re-review (zhengai review followup)

    @classmethod
    def from_json(cls, row: dict) -> PastReview:
        return cls(
            row["school_code"],
            row["year"],
            row["review_date"],
            row["conclusion"],
            row["improvement_deadline"],
            row.get("applied_on"),
        )


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan depends on; the same inputs always give the same plan."""

    cycle_start: int
    year: int
    seed: int
    as_of: str
    risk_year: int
    rules: Rules
    colleges: tuple[College, ...]
    risk_year_snapshot: int
    risk_sha256: str
    risk_rows: tuple[RiskRow, ...]
    reasons: dict[str, list[str]]
    reviews: tuple[PastReview, ...]
    earlier_plans: dict[str, list[str]]
    submissions: dict = field(default_factory=dict)  # pipelines/secretariat/submissions.py: submission_facts

    @classmethod
    def from_json(cls, data: dict) -> PlanInputs:
        snapshot = data["risk_snapshot"]
        return cls(
            cycle_start=data["cycle_start"],
            year=data["year"],
            seed=data["seed"],
            as_of=data["as_of"],
            risk_year=data["risk_year"],
            rules=parse_rules({**LEGACY_RULES, **data["rules"]}, "plan inputs"),
            colleges=tuple(College.from_json(row) for row in data["colleges"]),
            risk_year_snapshot=snapshot["year"],
            risk_sha256=snapshot["sha256"],
            risk_rows=tuple(RiskRow.from_json(row) for row in snapshot["rows"]),
            reasons=data["reasons"],
            reviews=tuple(PastReview.from_json(row) for row in data["reviews"]),
            earlier_plans=data["earlier_plans"],
            submissions=data.get("submissions") or {},
        )

    def as_json(self) -> dict:
        return {
            "cycle_start": self.cycle_start,
            "year": self.year,
            "seed": self.seed,
            "as_of": self.as_of,
            "risk_year": self.risk_year,
            "rules": self.rules.as_dict(),
            "colleges": [college.as_json() for college in self.colleges],
            "risk_snapshot": {
                "year": self.risk_year_snapshot,
                "sha256": self.risk_sha256,
                "rows": [row.as_json() for row in self.risk_rows],
            },
            "reasons": self.reasons,
            "reviews": [asdict(review) for review in self.reviews],
            "earlier_plans": self.earlier_plans,
            "submissions": self.submissions,
        }


@dataclass
class Candidate:
    """A college the plan may select, with what the rationale needs; `rationale_zh` is set once it is chosen."""

    school_code: str
    name_zh: str
    last_reviewed_year: int | None
    history_from: str | None  # the predecessor whose review is the latest, if not the college itself
    risk: RiskRow | None
    risk_code: str | None
    rationale_zh: str = ""
    reason: str = ""
    deadline: str = ""
    top_reasons: list[str] = field(default_factory=list)
    submission_points: float = 0.0
    submission_reasons: list[str] = field(default_factory=list)

    @property
    def priority(self) -> float | None:
        """The risk score plus the submission points; None without either."""
        if self.risk and self.risk.risk_score is not None:
            return self.risk.risk_score + self.submission_points
        return self.submission_points or None


@dataclass(frozen=True)
class PlanRow:
    """A selected college: rank, reason (re_review, risk or random) and why."""

    rank: int
    school_code: str
    name_zh: str
    reason: str
    reason_zh: str
    rationale_zh: str
    top_reasons: list[str]
    risk_score: float | None
    risk_rank: int | None
    last_reviewed_year: int | None
    submission_points: float = 0.0
    submission_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exclusion:
    """An active college the plan leaves out, and why."""

    school_code: str
    name_zh: str
    why_zh: str


@dataclass(frozen=True)
class Plan:
    """The plan of one year: the counts behind it, who is selected and why, who is left out, what could not be done."""

    cycle_start: int
    cycle_end: int
    year: int
    seed: int
    as_of: str
    risk_year: int
    risk_snapshot_sha256: str
    active_colleges: int
    cycle_target: int
    year_quotas: list[int]
    covered_before: int
    places: int
    risk_places: int
    random_places: int
    random_pool: int
    selected: list[PlanRow]
    excluded: list[Exclusion]
    notes: list[str]

    def as_json(self) -> dict:
        return asdict(self)
