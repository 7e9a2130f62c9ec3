"""The review and sampling rules (`reference/sampling_rules.csv`) and the conclusion rule of 细则 §4.

The rule, as the plan states it (实施细则 四、复核结论):

    复核结论反映院校自主诊断结果、改进措施与专家复核结果的符合程度。……复核结论分为“有效”“异常”
    “待改进”三种，标准如下：
    （一）有效。15 项诊断要素中，自主诊断结果与复核结果相符 ≥ 12 项；改进措施针对性强、切实可行、成效明显。
    （二）异常。15 项诊断要素中，自主诊断结果与复核结果相符 < 10 项；改进措施针对性不强、力度不够。
    （三）待改进。上述标准以外的其他情况。
    如学校的执行方案对诊断要素有调整，可根据实际诊断要素数量，按上述比例原则，确定相应标准。
    “待改进”和“异常”的学校改进期为 1 年，改进期满后须重新提出复核申请……

So the thresholds are shares of the college's element count n (12/15·n and 10/15·n, compared as
fractions, never rounded floats), and "measures strong" means all three qualities
(针对性强、切实可行、成效明显); measures lacking any of them are weak.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pipelines.settings import REFERENCE_DIR

RULES_FILE = REFERENCE_DIR / "sampling_rules.csv"

EFFECTIVE, ABNORMAL, NEEDS_IMPROVEMENT = "有效", "异常", "待改进"
CONCLUSION_EN = {EFFECTIVE: "effective", ABNORMAL: "abnormal", NEEDS_IMPROVEMENT: "needs_improvement"}
STRONG, WEAK = "强", "弱"

# The three qualities of the measures the plan names (细则 四（一）), in the plan's order.
MEASURE_QUALITIES = (
    ("targeted", "针对性强"),
    ("feasible", "切实可行"),
    ("effective", "成效明显"),
)


@dataclass(frozen=True)
class MeasuresJudgement:
    """The experts' judgement of a college's improvement measures: the three qualities, or (old files) 强/弱 only."""

    targeted: bool | None = None
    feasible: bool | None = None
    effective: bool | None = None
    stated: str | None = None  # 强 | 弱 as typed in an old-shape file, without the qualities
    note: str = ""

    @property
    def has_qualities(self) -> bool:
        return None not in (self.targeted, self.feasible, self.effective)

    @property
    def strong(self) -> bool:
        """All three qualities (针对性强、切实可行、成效明显); an old file's 强 where no quality was recorded."""
        if self.has_qualities:
            return bool(self.targeted and self.feasible and self.effective)
        return self.stated == STRONG

    @property
    def label(self) -> str:
        return STRONG if self.strong else WEAK

    def lacking(self) -> list[str]:
        """The qualities judged absent, by their Chinese names."""
        return [name for key, name in MEASURE_QUALITIES if getattr(self, key) is False]


# The plan's reasons for sampling beside the indicator risk (细则 三(二): "高职院校提交《内部质量保证体系自我诊改
# 报告》《人才培养质量年度报告》《人才培养工作状态数据分析报告》等材料。在学校自主诊改基础上，确定下一年进行抽样
# 复核的学校"), each weighed by `weight_<reason>` in sampling_rules.csv (points added to the risk score).
SUBMISSION_REASONS = (
    "selfreport_missing",
    "selfreport_late",
    "selfreport_refused",
    "selfreport_incomplete",
    "other_missing",
    "other_late",
    "candour_prompt",
)
# What a plan recorded before these rules existed was computed with: no submission points, a re-review
# without waiting for an application. `PlanInputs.from_json` fills them in, so such a plan recomputes as it was.
LEGACY_RULES = {
    "submission_deadline": "12-31",
    **{f"weight_{reason}": "0" for reason in SUBMISSION_REASONS},
    "candour_points_max": "0",
    "re_review_needs_application": "0",
}


@dataclass(frozen=True)
class Rules:
    """The review and sampling rules of `reference/sampling_rules.csv`, as exact numbers."""

    cycle_years: int
    first_cycle_start: int
    coverage_share: Fraction
    year_quotas: tuple[int, ...] | None
    random_share: Fraction
    effective_matched_share: Fraction
    abnormal_matched_share: Fraction
    improvement_period_years: int
    top_reasons: int
    submission_deadline: tuple[int, int]  # (month, day) in the report's year
    submission_weights: dict[str, Fraction]
    candour_points_max: Fraction
    re_review_needs_application: bool

    def deadline_in(self, year: int) -> dt.date:
        """The day the December materials of `year` are due (细则 三(二): 每年12月份)."""
        return dt.date(year, *self.submission_deadline)

    def as_dict(self) -> dict[str, str]:
        return {
            "cycle_years": str(self.cycle_years),
            "first_cycle_start": str(self.first_cycle_start),
            "coverage_share": str(self.coverage_share),
            "year_quotas": "|".join(str(q) for q in self.year_quotas) if self.year_quotas else "",
            "random_share": str(self.random_share),
            "effective_matched_share": str(self.effective_matched_share),
            "abnormal_matched_share": str(self.abnormal_matched_share),
            "improvement_period_years": str(self.improvement_period_years),
            "top_reasons": str(self.top_reasons),
            "submission_deadline": f"{self.submission_deadline[0]:02d}-{self.submission_deadline[1]:02d}",
            **{f"weight_{reason}": str(weight) for reason, weight in self.submission_weights.items()},
            "candour_points_max": str(self.candour_points_max),
            "re_review_needs_application": "1" if self.re_review_needs_application else "0",
        }


def parse_rules(values: dict[str, str], source: str = RULES_FILE.name) -> Rules:
    """Rules from `parameter → value` texts; a missing or malformed value is an error naming it."""

    def get(name: str) -> str:
        if name not in values:
            raise ValueError(f"{source} 缺少参数 {name} / lacks parameter {name}")
        return (values[name] or "").strip()

    def fraction(name: str) -> Fraction:
        try:
            value = Fraction(get(name))
        except (ValueError, ZeroDivisionError) as error:
            raise ValueError(f"{source}: {name} 须为分数或小数，如 1/4 / must be a fraction ({error})") from error
        if not 0 <= value <= 1:
            raise ValueError(f"{source}: {name} 须在 0 到 1 之间 / must lie in [0, 1], got {value}")
        return value

    def integer(name: str, minimum: int) -> int:
        try:
            value = int(get(name))
        except ValueError as error:
            raise ValueError(f"{source}: {name} 须为整数 / must be an integer") from error
        if value < minimum:
            raise ValueError(f"{source}: {name} 须不小于 {minimum} / must be at least {minimum}")
        return value

    def points(name: str) -> Fraction:
        try:
            value = Fraction(get(name))
        except (ValueError, ZeroDivisionError) as error:
            raise ValueError(f"{source}: {name} 须为非负数 / must be a non-negative number") from error
        if value < 0:
            raise ValueError(f"{source}: {name} 须为非负数 / must be a non-negative number")
        return value

    def month_day(name: str) -> tuple[int, int]:
        try:
            day = dt.date.fromisoformat(f"2001-{get(name)}")
        except ValueError as error:
            raise ValueError(f"{source}: {name} 须为 月-日，如 12-31 / must be MM-DD") from error
        return day.month, day.day

    def flag(name: str) -> bool:
        if get(name) not in ("0", "1"):
            raise ValueError(f"{source}: {name} 须为 0 或 1 / must be 0 or 1")
        return get(name) == "1"

    cycle_years = integer("cycle_years", 1)
    quotas_text = get("year_quotas")
    quotas = None
    if quotas_text:
        try:
            quotas = tuple(int(part) for part in quotas_text.split("|"))
        except ValueError as error:
            raise ValueError(f"{source}: year_quotas 须为以 | 分隔的整数，如 3|3|4 / e.g. 3|3|4") from error
        if len(quotas) != cycle_years or min(quotas) < 0:
            raise ValueError(
                f"{source}: year_quotas 须给出 {cycle_years} 个非负整数 / needs {cycle_years} non-negative integers"
            )
    rules = Rules(
        cycle_years=cycle_years,
        first_cycle_start=integer("first_cycle_start", 1900),
        coverage_share=fraction("coverage_share"),
        year_quotas=quotas,
        random_share=fraction("random_share"),
        effective_matched_share=fraction("effective_matched_share"),
        abnormal_matched_share=fraction("abnormal_matched_share"),
        improvement_period_years=integer("improvement_period_years", 0),
        top_reasons=integer("top_reasons", 0),
        submission_deadline=month_day("submission_deadline"),
        submission_weights={reason: points(f"weight_{reason}") for reason in SUBMISSION_REASONS},
        candour_points_max=points("candour_points_max"),
        re_review_needs_application=flag("re_review_needs_application"),
    )
    if rules.abnormal_matched_share > rules.effective_matched_share:
        raise ValueError(f"{source}: abnormal_matched_share 不能大于 effective_matched_share")
    return rules


def load_rules(path: Path = RULES_FILE) -> Rules:
    with open(path, encoding="utf-8", newline="") as handle:
        values = {row["parameter"].strip(): row["value"] for row in csv.DictReader(handle)}
    return parse_rules(values, path.name)


# --- the conclusion rule (pure) ------------------------------------------------------------------


def conclude(elements: int, matched: int, strong: bool, rules: Rules) -> str:
    """有效, 异常 or 待改进 for `matched` of the college's `elements` and the measures judgement, exactly.

    有效 (“相符 ≥ 12 项；改进措施针对性强、切实可行、成效明显”): matched ≥ effective share · n and
    measures strong; 异常 (“相符 < 10 项；改进措施针对性不强、力度不够”): matched < abnormal share · n
    and measures weak; 待改进 (“上述标准以外的其他情况”) otherwise. With 15 elements the shares
    give 12 and 10; for a college whose plan adjusted its elements they scale in proportion
    (“按上述比例原则”), compared as fractions. `elements` is the college's element set, never the
    number of rows a file happens to hold.
    """
    if elements <= 0:
        raise ValueError("要素数须大于 0 / a review needs at least one element")
    if not 0 <= matched <= elements:
        raise ValueError(f"相符数 {matched} 不在 0..{elements} 之间 / matched out of range")
    share = Fraction(matched, elements)
    if strong and share >= rules.effective_matched_share:
        return EFFECTIVE
    if not strong and share < rules.abnormal_matched_share:
        return ABNORMAL
    return NEEDS_IMPROVEMENT


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def improvement_deadline(conclusion: str, review_date: dt.date, rules: Rules) -> dt.date | None:
    """End of the improvement period for 待改进 and 异常 (“改进期为 1 年”); None for 有效."""
    if conclusion == EFFECTIVE:
        return None
    return add_years(review_date, rules.improvement_period_years)
