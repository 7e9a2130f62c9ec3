"""The December submissions as reasons for sampling (细则 三(二)), beside the indicator risk.

"每年12月份，……高职院校提交《内部质量保证体系自我诊改报告》《人才培养质量年度报告》《人才培养工作状态数据
分析报告》等材料。在学校自主诊改基础上，确定下一年进行抽样复核的学校." For the plan of year Y the
materials of Y-1 count: a self-diagnosis report missing at the plan's decision date or received after
the deadline (`submission_deadline` of reference/sampling_rules.csv), refused for breaking 附件3's notes,
recorded with warnings (incomplete), the other two reports missing or late, and the candour prompts of the
report (mart.candour_prompts). Each reason adds its `weight_<reason>` to the college's risk score;
the plan says which reasons, in Chinese, with the points.

`submission_facts` reads the records (selfreports/<Y>/: the reports, the register, the refusals log;
the warehouse's candour prompts) into plain facts stored in plan.json; `submission_points` turns the facts
into points and reasons, purely, so a recorded plan recomputes from its file.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from pipelines.secretariat.rules import Rules
from pipelines.secretariat.selfreport import KINDS, recorded_reports, registered_submissions, selfreport_refusals

SELFREPORT_ZH = "自我诊改报告"


def candour_counts(conn, year: int) -> dict[str, int] | None:
    """Prompts per college for the reports of `year`; None when the warehouse has no mart.candour_prompts yet."""
    present = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = 'mart' and table_name = 'candour_prompts'"
    ).fetchone()[0]
    if not present:
        return None
    return dict(
        conn.execute(
            "select school_code, count(*) from mart.candour_prompts where year = $y group by all", {"y": year}
        ).fetchall()
    )


def submission_facts(year: int, codes: list[str], candour: dict[str, int] | None) -> dict:
    """What each college submitted for `year` and when, as recorded; `recorded` is false when nothing at all
    is on record for the year (the secretariat keeps no register yet: the plan then ignores submissions)."""
    reports = {report["school_code"]: report for report in recorded_reports() if report["year"] == year}
    registered = registered_submissions(year)
    refusals = selfreport_refusals(year)
    colleges = {}
    for code in codes:
        report = reports.get(code)
        colleges[code] = {
            "selfreport": report["imported_at"][:10] if report else None,
            "selfreport_warnings": len(report.get("warnings") or []) if report else 0,
            "selfreport_refused": refusals.get(code, 0),
            **{kind: registered.get((kind, code)) for kind in KINDS},
            "candour_prompts": (candour or {}).get(code, 0),
        }
    return {
        "year": year,
        "recorded": bool(reports or registered or refusals),
        "candour_recorded": candour is not None,
        "colleges": colleges,
    }


def timeliness(submitted: str | None, name: str, deadline: dt.date, as_of: dt.date, missing: str, late: str):
    """(reason code, Chinese reason) for a document missing at `as_of` or received after `deadline`, else None."""
    if submitted is None or dt.date.fromisoformat(submitted) > as_of:
        return missing, f"截至 {as_of} 未提交{name}（截止 {deadline}）"
    if dt.date.fromisoformat(submitted) > deadline:
        return late, f"{name}逾期提交（{submitted}，截止 {deadline}）"
    return None


def submission_points(facts: dict | None, year: int, as_of: dt.date, rules: Rules) -> tuple[float, list[str]]:
    """The points a college's submissions of `year` add to its risk score, and why, in Chinese."""
    if not facts:
        return 0.0, []
    deadline = rules.deadline_in(year)
    found = []
    if as_of > deadline:
        found.append(
            timeliness(facts["selfreport"], SELFREPORT_ZH, deadline, as_of, "selfreport_missing", "selfreport_late")
        )
        for kind, name in KINDS.items():
            found.append(timeliness(facts.get(kind), name, deadline, as_of, "other_missing", "other_late"))
    if facts["selfreport_refused"]:
        found.append(
            ("selfreport_refused", f"{SELFREPORT_ZH}曾 {facts['selfreport_refused']} 次因不符合附件3 要求被退回")
        )
    if facts["selfreport_warnings"]:
        found.append(
            (
                "selfreport_incomplete",
                f"{SELFREPORT_ZH}有 {facts['selfreport_warnings']} 条提示（篇幅或写法不完全合附件3）",
            )
        )
    points, reasons = Fraction(0), []
    for reason, text in filter(None, found):
        weight = rules.submission_weights[reason]
        points += weight
        reasons.append(f"{text}：+{float(weight):g} 分")
    prompts = facts.get("candour_prompts") or 0
    if prompts:
        weight = min(rules.submission_weights["candour_prompt"] * prompts, rules.candour_points_max)
        points += weight
        reasons.append(f"自我诊断与状态数据不一致的提示 {prompts} 条（供专家核实，不是结论）：+{float(weight):g} 分")
    return float(points), reasons


def submission_notes(submissions: dict, as_of: dt.date, rules: Rules) -> list[str]:
    """What the plan could not take into account about the submissions, said in the plan's notes."""
    if not submissions:
        return []
    year = submissions["year"]
    if not submissions["recorded"]:
        return [f"未找到 {year} 年材料（自我诊改报告、质量年报、分析报告）的提交记录：本计划未考虑提交情况"]
    notes = []
    if as_of <= rules.deadline_in(year):
        notes.append(f"决定日期 {as_of} 未过 {year} 年材料提交截止日 {rules.deadline_in(year)}：未提交与逾期不计分")
    if not submissions.get("candour_recorded"):
        notes.append("数据仓库中还没有 mart.candour_prompts：本计划未考虑自我诊断与数据不一致的提示")
    return notes
