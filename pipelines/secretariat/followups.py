"""After the conclusion (细则 三(四)(五)、四): 整改方案 filed, 整改总结 submitted, the application for re-review,
and 专家回访 results, recorded with `zhengai review followup`.

The plan's steps: "需整改的学校应制订整改方案，并报诊改专委会备案。在规定的期限整改结束后，学校向诊改专委会和
教育厅提交整改工作总结报告" (三(四)); "诊改专委会适时组织专家对学校诊改效果进行回访，并公布回访结果" (三(五));
"“待改进”和“异常”的学校改进期为 1 年，改进期满后须重新提出复核申请" (四). So the 方案, 总结 and 申请 belong
to a review concluded 待改进 or 异常; the 申请 is dated on or after the end of the improvement period, and
only then does the sampling plan a re-review (pipelines/secretariat/sampling.py); a 回访 may follow any
review and carries its result.

Each step is a row of `$ZHENGAI_HOME/followups/<review year>/<school_code>.csv` (kind, date, result,
recorded_at): plain files, the source of truth each run loads into `mart.review_followups`. Recording a
方案, 总结 or 申请 again replaces the earlier date; every 回访 is kept.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
from pathlib import Path

from pipelines.files import atomic_write_text
from pipelines.secretariat.inputs import load_colleges, today
from pipelines.secretariat.review import RecordedReview, load_recorded_reviews, review_history
from pipelines.secretariat.rules import EFFECTIVE, Rules, load_rules
from pipelines.settings import get_settings, now_local

KINDS = {"plan": "整改方案备案", "summary": "整改总结提交", "application": "复核申请", "revisit": "专家回访"}
SINGLE = ("plan", "summary", "application")  # one date each; a revisit may happen more than once
COLUMNS = ("kind", "date", "result", "recorded_at")


def followups_dir() -> Path:
    return get_settings().home / "followups"


def followup_path(year: int, school_code: str) -> Path:
    return followups_dir() / str(year) / f"{school_code}.csv"


def read_steps(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [{key: row.get(key) or "" for key in COLUMNS} for row in csv.DictReader(handle)]


def recorded_followups(root: Path | None = None) -> list[dict]:
    """Every recorded step, with its college and review year, in date order per college and year."""
    root = root or followups_dir()
    rows = []
    for path in sorted(root.glob("*/*.csv")):
        if path.parent.name.isdigit():
            steps = sorted(read_steps(path), key=lambda step: (step["date"], step["kind"]))
            rows += [{"school_code": path.stem, "year": int(path.parent.name), **step} for step in steps]
    return rows


def followups_by_review(root: Path | None = None) -> dict[tuple[str, int], dict[str, list[dict]]]:
    """(school_code, review year) → kind → its steps ({date, result}), earliest first."""
    grouped: dict[tuple[str, int], dict[str, list[dict]]] = {}
    for row in recorded_followups(root):
        steps = grouped.setdefault((row["school_code"], row["year"]), {})
        steps.setdefault(row["kind"], []).append({"date": row["date"], "result": row["result"]})
    return grouped


def history_with_followups(rules: Rules) -> list[dict]:
    """The recorded reviews (`review_history`), each with its steps and the date its college applied for
    re-review (`applied_on`, None before an application)."""
    steps = followups_by_review()
    history = []
    for record in review_history(rules):
        own = steps.get((record["school_code"], record["year"]), {})
        applications = own.get("application") or []
        history.append({**record, "applied_on": applications[-1]["date"] if applications else None, "followups": own})
    return history


# --- validation ----------------------------------------------------------------------------------


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"日期「{text}」须为 YYYY-MM-DD / date must be YYYY-MM-DD") from error


def find_review(school: str, year: int) -> RecordedReview:
    review = next((r for r in load_recorded_reviews(load_rules()) if (r.school_code, r.year) == (school, year)), None)
    if review is None:
        raise ValueError(
            f"没有 {school} {year} 年的复核记录：整改与回访登记在复核结论之后（先用 `zhengai review import` 记录）"
        )
    return review


def check_step(kind: str, day: dt.date, result: str, review: RecordedReview, steps: dict, on: dt.date) -> None:
    """One readable error for the first rule the step breaks (the module's docstring gives the rules)."""
    name = KINDS[kind]
    if day < review.review_date:
        raise ValueError(f"{name}日期 {day} 早于 {review.year} 年复核日期 {review.review_date}")
    if day > on:
        raise ValueError(f"{name}日期 {day} 晚于今天（{on}）")
    if kind in SINGLE and review.conclusion == EFFECTIVE:
        raise ValueError(f"{review.school_code} {review.year} 年复核结论为“有效”：无需整改方案、整改总结或复核申请")
    if kind == "summary":
        filed = steps.get("plan")
        if not filed:
            raise ValueError("尚未登记整改方案：请先用 --kind plan 登记备案日期（细则三(四)：先制订整改方案并备案）")
        if day < dt.date.fromisoformat(filed[-1]["date"]):
            raise ValueError(f"整改总结日期 {day} 早于整改方案备案日期 {filed[-1]['date']}")
    if kind == "application" and review.improvement_deadline and day < review.improvement_deadline:
        raise ValueError(
            f"复核申请日期 {day} 早于整改期满日 {review.improvement_deadline}：细则四“改进期满后须重新提出复核申请”"
        )
    if kind == "revisit" and not result.strip():
        raise ValueError("专家回访须用 --result 写明回访结果（细则三(五)：公布回访结果）")


# --- the command ---------------------------------------------------------------------------------


def record_step(path: Path, kind: str, day: dt.date, result: str) -> str | None:
    """Write the step into the college's file; the date it replaced (方案、总结、申请 keep one date), if any."""
    steps = read_steps(path) if path.is_file() else []
    replaced = next((step["date"] for step in steps if step["kind"] == kind), None) if kind in SINGLE else None
    if kind in SINGLE:
        steps = [step for step in steps if step["kind"] != kind]
    recorded_at = now_local().isoformat(timespec="seconds")
    steps.append({"kind": kind, "date": day.isoformat(), "result": result.strip(), "recorded_at": recorded_at})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(steps, key=lambda step: (step["date"], step["kind"])))
    atomic_write_text(path, buffer.getvalue())
    return replaced


def cmd_followup(args: argparse.Namespace) -> int:
    day = parse_day(args.date)
    colleges = load_colleges()
    if args.school not in colleges:
        raise ValueError(f"院校名册中没有 {args.school} / unknown college")
    review = find_review(args.school, args.year)
    path = followup_path(args.year, args.school)
    steps = followups_by_review().get((args.school, args.year), {})
    check_step(args.kind, day, args.result or "", review, steps, today())
    replaced = record_step(path, args.kind, day, args.result or "")
    print(
        f"已登记 {args.school} {colleges[args.school]} {args.year} 年复核（{review.conclusion}）后的"
        f"{KINDS[args.kind]}：{day}" + (f"，结果：{args.result.strip()}" if args.result else "")
    )
    if replaced:
        print(f"（替换了此前登记的日期 {replaced}）")
    if args.kind == "application":
        print("该校已在整改期满后申请复核：此后的抽样计划将其列为整改期满复核。")
    print("下次 `zhengai run` 后进入 mart.review_followups；`zhengai cycle` 显示各校整改与回访进度。")
    return 0


def register_followup(commands) -> None:
    """`zhengai review followup`, under the `review` command."""
    followup = commands.add_parser(
        "followup",
        help="登记复核结论之后的整改方案备案、整改总结、复核申请、专家回访",
        description=(
            "登记某校某年复核之后的步骤（细则三(四)(五)、四）：plan 整改方案备案、summary 整改总结提交、"
            "application 整改期满后的复核申请（早于整改期满日的申请不予登记；抽样只为已申请的学校安排复核）、"
            "revisit 专家回访（须写明结果）。记录存于数据目录 followups/<复核年份>/<学校代码>.csv。"
        ),
    )
    followup.add_argument("--school", required=True, help="学校代码")
    followup.add_argument("--year", type=int, required=True, help="该次复核的年份")
    followup.add_argument(
        "--kind",
        required=True,
        choices=list(KINDS),
        help="plan 整改方案备案｜summary 整改总结提交｜application 复核申请｜revisit 专家回访",
    )
    followup.add_argument("--date", required=True, help="日期 YYYY-MM-DD（备案、提交、申请或回访的日期）")
    followup.add_argument("--result", help="专家回访的结果（revisit 必填）；其他步骤可作备注")
    followup.set_defaults(func=cmd_followup)
