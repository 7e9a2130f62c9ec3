"""Suggested 现场诊断重点 (细则 三(二)1: 预审诊断 … 确定现场诊断重点): the college's elements ranked by the
points of reference/dossier_focus_rules.csv, which the secretariat edits.

Each rule adds its points once per element when it applies (an element with five flagged indicators
counts `element_red` once); elements scoring 0 are not suggested; ties go by element code. A
suggestion's confidence is that of its highest-scoring rule (ties: the surer rule), so a suggestion
resting only on candour prompts reads `low`. The weights are the project's reading: the plan sets none.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.secretariat.inputs import element_sort_key
from pipelines.settings import REFERENCE_DIR

RULES_FILE = REFERENCE_DIR / "dossier_focus_rules.csv"
CONFIDENCE_ORDER = {"low": 0, "medium": 1, "high": 2}
CONFIDENCE_ZH = {"low": "低", "medium": "中", "high": "高"}
LEVEL_RULES = {
    "red": "element_red",
    "yellow": "element_yellow",
    "insufficient": "element_insufficient",
    "no_coverage": "element_uncovered",
    "no_indicator": "element_uncovered",
}
CANDOUR_RULES = {"flag_unmentioned": "candour_flag_unmentioned", "claim_contradicted": "candour_claim_contradicted"}


@dataclass(frozen=True)
class Rule:
    name: str
    value: float
    confidence: str
    description_zh: str


def load_rules(path: Path = RULES_FILE) -> dict[str, Rule]:
    """The rules by name; a value that is not a number or an unknown confidence is an error naming the row."""
    rules = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row_no, row in enumerate(csv.DictReader(handle), start=2):
            try:
                value = float(row["value"])
            except (TypeError, ValueError):
                raise ValueError(f"{path.name} 第 {row_no} 行：value 须为数字 / value must be a number") from None
            if row["confidence"] not in CONFIDENCE_ORDER:
                raise ValueError(f"{path.name} 第 {row_no} 行：confidence 须为 low、medium 或 high")
            rules[row["rule"]] = Rule(row["rule"], value, row["confidence"], row["description_zh"])
    return rules


@dataclass(frozen=True)
class ElementEvidence:
    """What the dossier knows of one element, as the rules read it."""

    element_code: str
    element_name: str
    level: str
    candour_kinds: frozenset[str]
    has_selfreport_text: bool
    past_mismatch: bool


@dataclass
class Suggestion:
    element_code: str
    element_name: str
    score: float = 0.0
    applied: list[Rule] = field(default_factory=list)

    @property
    def confidence(self) -> str:
        top = max(self.applied, key=lambda rule: (rule.value, CONFIDENCE_ORDER[rule.confidence]))
        return top.confidence


def applicable_rules(evidence: ElementEvidence, rules: dict[str, Rule], selfreport_submitted: bool) -> list[Rule]:
    names = [LEVEL_RULES.get(evidence.level)]
    names += [CANDOUR_RULES[kind] for kind in sorted(evidence.candour_kinds) if kind in CANDOUR_RULES]
    if selfreport_submitted and not evidence.has_selfreport_text:
        names.append("selfreport_missing")
    if evidence.past_mismatch:
        names.append("past_mismatch")
    return [rules[name] for name in names if name in rules and rules[name].value > 0]


def rank_focus(
    elements: list[ElementEvidence], selfreport_submitted: bool, rules: dict[str, Rule] | None = None
) -> tuple[list[Suggestion], int]:
    """Every element that scores, best first, and how many of them to suggest (the `top_n` limit).

    `selfreport_submitted`: whether the college filed a self-diagnosis at all; without one the missing text
    is said once in the dossier rather than counted against every element."""
    rules = rules if rules is not None else load_rules()
    suggestions = []
    for evidence in elements:
        applied = applicable_rules(evidence, rules, selfreport_submitted)
        if applied:
            suggestion = Suggestion(
                evidence.element_code, evidence.element_name, sum(r.value for r in applied), applied
            )
            suggestions.append(suggestion)
    suggestions.sort(key=lambda s: (-s.score, element_sort_key(s.element_code)))
    limit = int(rules["top_n"].value) if "top_n" in rules else len(suggestions)
    return suggestions, limit
