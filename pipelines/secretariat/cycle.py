"""The review-cycle view (`zhengai cycle`, mart.review_cycle): who was reviewed in the cycle, with what
conclusion, which steps followed (整改方案, 整改总结, 复核申请, 专家回访), who is due for re-review, and whether
the coverage rule (方案 §4(三)) is on track.

A re-review is due once the improvement period is over and, when the rules ask for it
(`re_review_needs_application`), the college has applied after the period (细则 四：“改进期满后须重新提出
复核申请”); a college whose period is over without an application is shown as waiting for it.
"""

from __future__ import annotations

import datetime as dt

from pipelines.secretariat.followups import KINDS, history_with_followups
from pipelines.secretariat.inputs import published_warehouse, registry_rows, require_tables
from pipelines.secretariat.plans import College
from pipelines.secretariat.rules import EFFECTIVE, Rules, load_rules
from pipelines.secretariat.sampling import colleges_from, cycle_target, lineage, recorded_plans, year_quotas


def cycle_of(year: int, rules: Rules) -> int:
    return rules.first_cycle_start + (year - rules.first_cycle_start) // rules.cycle_years * rules.cycle_years


def cycle_status(
    cycle_start: int,
    as_of: dt.date,
    rules: Rules,
    colleges: dict[str, College],
    reviews: list[dict],
    plans: dict[int, list[str]],
) -> dict:
    """Who has been reviewed in the cycle, with what conclusion, who is due, and whether coverage is on track."""
    years = list(range(cycle_start, cycle_start + rules.cycle_years))
    reference_year = min(max(as_of.year, years[0]), years[-1])
    active = sorted(code for code, college in colleges.items() if college.active_in(reference_year))
    needs_application = rules.re_review_needs_application
    rows = [college_cycle_row(code, colleges, reviews, plans, years, as_of, needs_application) for code in active]
    target = cycle_target(len(active), rules)
    quotas = year_quotas(target, rules)
    elapsed = min(max(as_of.year - cycle_start + 1, 0), rules.cycle_years)
    expected = sum(quotas[:elapsed])
    if elapsed == rules.cycle_years:
        expected = max(expected, target)
    reviewed = sum(1 for row in rows if row["reviewed_years"])
    covered = sum(1 for row in rows if row["reviewed_years"] or row["planned_years"])
    return {
        "cycle_start": cycle_start,
        "cycle_end": years[-1],
        "as_of": as_of.isoformat(),
        "active_colleges": len(active),
        "cycle_target": target,
        "year_quotas": list(quotas),
        "expected_by_now": expected,
        "reviewed": reviewed,
        "covered": covered,
        "re_review_due": sum(1 for row in rows if row["re_review_due"]),
        "on_track": covered >= expected,
        "colleges": rows,
    }


def college_cycle_row(
    code: str,
    colleges: dict[str, College],
    reviews: list[dict],
    plans: dict[int, list[str]],
    years: list[int],
    as_of: dt.date,
    needs_application: bool = True,
) -> dict:
    """The college's row: reviews in the cycle, latest conclusion and deadline, the steps after it, plans, status."""
    family = lineage(code, colleges)
    history = sorted((r for r in reviews if r["school_code"] in family), key=lambda r: (r["year"], r["review_date"]))
    history = [r for r in history if r["year"] <= years[-1]]
    in_cycle = [r for r in history if r["year"] >= years[0]]
    latest = history[-1] if history else None
    planned = sorted(y for y, codes in plans.items() if y in years and set(codes) & set(family))
    deadline = latest["improvement_deadline"] if latest else None
    period_over = bool(latest and latest["conclusion"] != EFFECTIVE and deadline and deadline <= as_of.isoformat())
    applied_on = latest.get("applied_on") if latest else None
    applied = bool(applied_on and deadline and deadline <= applied_on <= as_of.isoformat())
    due = period_over and (applied or not needs_application)
    later_plans = [y for y in planned if latest and y > latest["year"]]
    if due:
        status = "须复核（整改期已满" + (f"，{applied_on} 已申请" if applied else "")
        status += f"，已列入 {later_plans[-1]} 年计划）" if later_plans else "）"
    elif period_over:
        status = "整改期已满，尚未申请复核"
    elif in_cycle and in_cycle[-1]["conclusion"] == EFFECTIVE:
        status = "已复核：有效"
    elif in_cycle:
        status = f"已复核：{in_cycle[-1]['conclusion']}（整改中）"
    elif planned:
        status = "已列入计划"
    else:
        status = "本周期未复核"
    return {
        "school_code": code,
        "name_zh": colleges[code].name_zh,
        "reviewed_years": [r["year"] for r in in_cycle],
        "latest_year": latest["year"] if latest else None,
        "latest_conclusion": latest["conclusion"] if latest else None,
        "improvement_deadline": deadline,
        "re_review_due": due,
        "planned_years": planned,
        "status_zh": status,
        "applied_on": applied_on,
        "followups_zh": followup_lines(latest.get("followups") or {}) if latest else [],
    }


def followup_lines(steps: dict[str, list[dict]]) -> list[str]:
    """The steps after the latest review, in the plan's order, e.g. 「整改方案备案 2025-04-01」."""
    return [
        f"{name} {step['date']}" + (f"：{step['result']}" if step.get("result") else "")
        for kind, name in KINDS.items()
        for step in steps.get(kind, [])
    ]


def cycle_inputs(cycle_start: int | None, as_of: dt.date) -> dict:
    """The cycle view of the cycle starting in `cycle_start` (default: the cycle of `as_of`)."""
    rules = load_rules()
    start = cycle_start if cycle_start is not None else cycle_of(as_of.year, rules)
    with published_warehouse() as conn:
        require_tables(conn, "ref.schools")
        colleges = colleges_from(registry_rows(conn))
    records = [record for record in recorded_plans() if record["plan"]["cycle_start"] == start]
    plans = {record["plan"]["year"]: [row["school_code"] for row in record["plan"]["selected"]] for record in records}
    status = cycle_status(start, as_of, rules, colleges, history_with_followups(rules), plans)
    status["plan_versions"] = [version for record in records for version in plan_versions(record)]
    return status


def plan_versions(record: dict) -> list[dict]:
    """Every version of a year's plan, earliest first: the redrawn ones (with why) and the one in force."""
    plan = record["plan"]
    earlier = [{"year": plan["year"], **version, "current": False} for version in record.get("versions") or []]
    current = {
        "year": plan["year"],
        "version": len(earlier) + 1,
        "seed": plan["seed"],
        "as_of": plan["as_of"],
        "risk_year": plan["risk_year"],
        "selected": [row["school_code"] for row in plan["selected"]],
        "current": True,
    }
    return [*earlier, current]
