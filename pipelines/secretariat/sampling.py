"""Sampling plans for the department's external review, and the cycle view (方案 §4(三), 细则 §3(二)).

`zhengai sample --cycle-start Y0 --year Y --seed S` proposes whom to review in year Y of the
cycle starting in Y0 and records the plan under `$ZHENGAI_HOME/exports/sampling/<Y>/`
(`plan.json` with every input, `plan.xlsx`, `plan.html`); `zhengai cycle` shows the cycle:
who was reviewed, with what conclusion, who is due for re-review, and whether the coverage
rule is on track.

The plan is a pure function of its inputs (`propose_plan`): the registry, the risk snapshot
of `mart.school_risk` with the top warning reasons, the recorded review history and the
earlier plans of the cycle, the seed and the rules. All of them are stored in `plan.json`,
so anyone can recompute the plan from the file and get the same colleges.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import random
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pipelines.excel import new_workbook, write_value, write_values
from pipelines.review import (
    EFFECTIVE,
    Rules,
    element_codes,
    load_recorded_reviews,
    load_rules,
    parse_rules,
    published_warehouse,
    require_tables,
    today,
    write_atomic,
)
from pipelines.settings import get_settings

REASON_ZH = {"re_review": "整改期满复核", "risk": "风险", "random": "随机抽取"}
REASON_ORDER = ("re_review", "risk", "random")


def sampling_dir() -> Path:
    return get_settings().exports / "sampling"


def plan_path(year: int) -> Path:
    return sampling_dir() / str(year) / "plan.json"


# --- identity across renames and mergers ---------------------------------------------------------


@dataclass(frozen=True)
class College:
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


def colleges_from(rows: list[dict]) -> dict[str, College]:
    return {
        row["school_code"]: College(
            row["school_code"], row.get("name_zh") or "", row.get("status") or "active",
            tuple(row.get("succeeded") or ()), row.get("active_from"), row.get("active_to"),
        )
        for row in rows
    }


def lineage(code: str, colleges: dict[str, College]) -> tuple[str, ...]:
    """The college itself and every college it succeeded, transitively (renames, mergers)."""
    seen, stack = [code], [code]
    while stack:
        college = colleges.get(stack.pop())
        for predecessor in college.succeeded if college else ():
            if predecessor not in seen:
                seen.append(predecessor)
                stack.append(predecessor)
    return tuple(seen)


# --- quotas (pure) -------------------------------------------------------------------------------


def cycle_target(active: int, rules: Rules) -> int:
    """Colleges to review over a cycle: at least the coverage share of the active colleges."""
    return math.ceil(rules.coverage_share * active)


def year_quotas(target: int, rules: Rules) -> tuple[int, ...]:
    """Places per cycle year: the setting if given, else the target split as evenly as possible,
    the remainder in the later years (10 → 3|3|4, as in the first round)."""
    if rules.year_quotas:
        return rules.year_quotas
    base, extra = divmod(target, rules.cycle_years)
    return tuple(base + (1 if index >= rules.cycle_years - extra else 0) for index in range(rules.cycle_years))


def random_places(places: int, rules: Rules) -> int:
    """The random share of a year's places, rounded half up, always a minority of the places."""
    if places <= 0:
        return 0
    share = math.floor(rules.random_share * places + Fraction(1, 2))
    return min(share, (places - 1) // 2)


# --- the plan (pure) -----------------------------------------------------------------------------


def seeded_draw(pool: list[str], k: int, seed: int) -> list[str]:
    """`k` codes from the sorted `pool`, drawn with `random.Random(seed)`.

    Each code gets the next `random()` value in pool order and the k smallest win. Only
    `random()` is used, whose sequence for a seed Python guarantees across versions (unlike
    `sample`), so anyone can redo the draw from the recorded seed and candidate list.
    """
    rng = random.Random(seed)
    keyed = sorted((rng.random(), code) for code in sorted(pool))
    return [code for _, code in keyed[:k]]


def snapshot_sha256(rows: list[dict]) -> str:
    canonical = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def propose_plan(inputs: dict) -> dict:
    """The plan for `inputs` (see `gather_inputs`); the same inputs always give the same plan.

    Identity follows the registry's succession links, so a renamed or merged college carries its
    predecessors' reviews. In order: every college whose improvement period has ended is re-reviewed;
    colleges reviewed or planned earlier in the cycle are left out (with the reason); the year's
    places are its quota, raised to catch up if the cycle is behind its cumulative quota (and to the
    whole target in its last year); most places go by risk (highest score first, at equal score the
    college reviewed longest ago, never-reviewed first), the random share by a seeded draw among
    the remaining candidates. Whatever cannot be done as the rules say is said in `notes`.
    """
    rules = parse_rules(inputs["rules"], "plan inputs")
    year, cycle_start, seed = inputs["year"], inputs["cycle_start"], inputs["seed"]
    cycle_years = list(range(cycle_start, cycle_start + rules.cycle_years))
    if year not in cycle_years:
        raise ValueError(
            f"{year} 年不在 {cycle_start} 年开始的周期（{cycle_years[0]}—{cycle_years[-1]}）内 / year outside cycle"
        )
    colleges = colleges_from(inputs["colleges"])
    active = sorted(code for code, college in colleges.items() if college.active_in(year))
    risk_rows = {row["school_code"]: row for row in inputs["risk_snapshot"]["rows"]}
    reviews = sorted(
        (r for r in inputs["reviews"] if r["year"] < year),
        key=lambda r: (r["year"], r["review_date"], r["school_code"]),
    )
    earlier = {int(y): codes for y, codes in inputs["earlier_plans"].items() if cycle_start <= int(y) < year}
    notes: list[str] = []

    selected: list[dict] = []
    excluded: list[dict] = []
    candidates: list[dict] = []
    covered_before = 0
    for code in active:
        college, family = colleges[code], lineage(code, colleges)
        history = [r for r in reviews if r["school_code"] in family]
        latest = history[-1] if history else None
        in_cycle = [r for r in history if r["year"] >= cycle_start]
        planned = sorted(y for y, codes in earlier.items() if set(codes) & set(family))
        if in_cycle or planned:
            covered_before += 1
        risk_code = next((c for c in family if c in risk_rows), None)
        entry = {
            "school_code": code,
            "name_zh": college.name_zh,
            "last_reviewed_year": latest["year"] if latest else None,
            "history_from": latest["school_code"] if latest and latest["school_code"] != code else None,
            "risk": risk_rows.get(risk_code) if risk_code else None,
            "risk_code": risk_code,
        }
        deadline_text = latest["improvement_deadline"] if latest else None
        deadline = dt.date.fromisoformat(deadline_text) if deadline_text else None
        if latest and latest["conclusion"] != EFFECTIVE and deadline and deadline.year <= year:
            overdue = "，已逾期" if deadline.year < year else ""
            origin = f"（前身 {latest['school_code']} 的记录）" if entry["history_from"] else ""
            entry["rationale_zh"] = (
                f"{latest['year']} 年复核结论为“{latest['conclusion']}”{origin}，整改期至 {deadline} 届满{overdue}，须复核"
            )
            selected.append({**entry, "reason": "re_review", "deadline": deadline.isoformat()})
        elif in_cycle:
            last = in_cycle[-1]
            why = (
                f"本周期 {last['year']} 年已复核，结论有效，本周期不再复核"
                if last["conclusion"] == EFFECTIVE
                else f"本周期 {last['year']} 年已复核（{last['conclusion']}），整改期至 {last['improvement_deadline']}，期满后复核"
            )
            excluded.append({"school_code": code, "name_zh": college.name_zh, "why_zh": why})
        elif planned:
            excluded.append({
                "school_code": code, "name_zh": college.name_zh,
                "why_zh": f"已列入本周期 {'、'.join(map(str, planned))} 年抽样计划",
            })
        else:
            candidates.append(entry)

    target = cycle_target(len(active), rules)
    quotas = year_quotas(target, rules)
    index = year - cycle_start
    cumulative = sum(quotas[: index + 1])
    if index == rules.cycle_years - 1:
        cumulative = max(cumulative, target)
    places = max(quotas[index], cumulative - covered_before)
    if places > len(candidates):
        notes.append(f"应抽 {places} 所，但符合条件的候选院校只有 {len(candidates)} 所：全部列入")
        places = len(candidates)
    n_random = random_places(places, rules)
    if rules.random_share > 0 and places > 0 and n_random == 0:
        notes.append(
            f"当年名额仅 {places} 所，按随机比例 {rules.random_share} 不足以设随机名额（风险名额须占多数）：全部按风险选取"
        )
    n_risk = places - n_random

    def risk_key(entry: dict) -> tuple:
        last = entry["last_reviewed_year"]
        return (-entry["risk"]["risk_score"], last is not None, last or 0, entry["school_code"])

    with_risk = sorted((e for e in candidates if e["risk"] and e["risk"]["risk_score"] is not None), key=risk_key)
    if len(with_risk) < n_risk:
        notes.append(f"有风险数据的候选院校只有 {len(with_risk)} 所：其余 {n_risk - len(with_risk)} 个风险名额改为随机抽取")
        n_random += n_risk - len(with_risk)
        n_risk = len(with_risk)
    by_risk = with_risk[:n_risk]
    scores = [e["risk"]["risk_score"] for e in with_risk]
    for entry in by_risk:
        risk = entry["risk"]
        last = entry["last_reviewed_year"]
        history = (
            f"上次复核 {last} 年" + (f"（前身 {entry['history_from']} 的记录）" if entry["history_from"] else "")
            if last is not None
            else "此前未接受复核"
        )
        tie = "；同分院校中复核最久远者优先" if scores.count(risk["risk_score"]) > 1 else ""
        entry["rationale_zh"] = (
            f"{inputs['risk_year']} 年风险分 {risk['risk_score']:g}，全省第 {risk['rank']} 名"
            f"（预警指标 {risk.get('flagged_indicators', 0)} 项：红 {risk.get('red_indicators', 0)}、"
            f"黄 {risk.get('yellow_indicators', 0)}；数据不足指标 {risk.get('insufficient_indicators', 0)} 项）；"
            f"{history}{tie}"
        )
        entry["top_reasons"] = inputs["reasons"].get(entry["risk_code"], [])[: rules.top_reasons]
        selected.append({**entry, "reason": "risk"})

    chosen = {e["school_code"] for e in by_risk}
    pool = sorted(e["school_code"] for e in candidates if e["school_code"] not in chosen)
    draws = min(n_random, len(pool))
    if n_random > len(pool):
        notes.append(f"可供随机抽取的院校只有 {len(pool)} 所，少于随机名额 {n_random} 个")
    elif draws and draws == len(pool):
        notes.append(f"随机名额 {draws} 个等于候选院校数：候选院校全部入选，本年的随机抽取没有选择余地")
    drawn = seeded_draw(pool, draws, seed)
    by_code = {e["school_code"]: e for e in candidates}
    for code in drawn:
        entry = by_code[code]
        entry["rationale_zh"] = f"随机抽取：以种子 {seed} 从未按风险入选的 {len(pool)} 所候选院校中抽取 {draws} 所"
        selected.append({**entry, "reason": "random"})

    rows = []
    order = {reason: position for position, reason in enumerate(REASON_ORDER)}
    re_reviews = sorted(
        (e for e in selected if e["reason"] == "re_review"), key=lambda e: (e["deadline"], e["school_code"])
    )
    others = [e for e in selected if e["reason"] != "re_review"]
    for rank, entry in enumerate(sorted(re_reviews + others, key=lambda e: order[e["reason"]]), start=1):
        risk = entry["risk"] or {}
        rows.append({
            "rank": rank,
            "school_code": entry["school_code"],
            "name_zh": entry["name_zh"],
            "reason": entry["reason"],
            "reason_zh": REASON_ZH[entry["reason"]],
            "rationale_zh": entry["rationale_zh"],
            "top_reasons": entry.get("top_reasons", []),
            "risk_score": risk.get("risk_score"),
            "risk_rank": risk.get("rank"),
            "last_reviewed_year": entry["last_reviewed_year"],
        })
    if not active:
        notes.append(f"{year} 年没有在办院校")
    return {
        "cycle_start": cycle_start,
        "cycle_end": cycle_years[-1],
        "year": year,
        "seed": seed,
        "as_of": inputs["as_of"],
        "risk_year": inputs["risk_year"],
        "risk_snapshot_sha256": inputs["risk_snapshot"]["sha256"],
        "active_colleges": len(active),
        "cycle_target": target,
        "year_quotas": list(quotas),
        "covered_before": covered_before,
        "places": places,
        "risk_places": n_risk,
        "random_places": n_random,
        "random_pool": len(pool),
        "selected": rows,
        "excluded": excluded,
        "notes": notes,
    }


# --- the cycle view (pure) -----------------------------------------------------------------------


def cycle_of(year: int, rules: Rules) -> int:
    return rules.first_cycle_start + (year - rules.first_cycle_start) // rules.cycle_years * rules.cycle_years


def cycle_status(cycle_start: int, as_of: dt.date, rules: Rules, colleges: dict[str, College],
                 reviews: list[dict], plans: dict[int, list[str]]) -> dict:
    """Who has been reviewed in the cycle, with what conclusion, who is due, and whether coverage is on track."""
    years = list(range(cycle_start, cycle_start + rules.cycle_years))
    reference_year = min(max(as_of.year, years[0]), years[-1])
    active = sorted(code for code, college in colleges.items() if college.active_in(reference_year))
    rows = []
    for code in active:
        family = lineage(code, colleges)
        history = sorted(
            (r for r in reviews if r["school_code"] in family), key=lambda r: (r["year"], r["review_date"])
        )
        history = [r for r in history if r["year"] <= years[-1]]
        in_cycle = [r for r in history if r["year"] >= cycle_start]
        latest = history[-1] if history else None
        planned = sorted(y for y, codes in plans.items() if y in years and set(codes) & set(family))
        deadline = latest["improvement_deadline"] if latest else None
        due = bool(latest and latest["conclusion"] != EFFECTIVE and deadline and deadline <= as_of.isoformat())
        later_plans = [y for y in planned if latest and y > latest["year"]]
        if due:
            status = "须复核（整改期已满" + (f"，已列入 {later_plans[-1]} 年计划）" if later_plans else "）")
        elif in_cycle and in_cycle[-1]["conclusion"] == EFFECTIVE:
            status = "已复核：有效"
        elif in_cycle:
            status = f"已复核：{in_cycle[-1]['conclusion']}（整改中）"
        elif planned:
            status = "已列入计划"
        else:
            status = "本周期未复核"
        rows.append({
            "school_code": code,
            "name_zh": colleges[code].name_zh,
            "reviewed_years": [r["year"] for r in in_cycle],
            "latest_year": latest["year"] if latest else None,
            "latest_conclusion": latest["conclusion"] if latest else None,
            "improvement_deadline": deadline,
            "re_review_due": due,
            "planned_years": planned,
            "status_zh": status,
        })
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


# --- reading the inputs --------------------------------------------------------------------------


def review_history(rules: Rules) -> list[dict]:
    return [
        {
            "school_code": r.school_code,
            "year": r.year,
            "review_date": r.review_date.isoformat(),
            "conclusion": r.conclusion,
            "improvement_deadline": r.improvement_deadline.isoformat() if r.improvement_deadline else None,
        }
        for r in load_recorded_reviews(rules)
    ]


def recorded_plans(root: Path | None = None) -> list[dict]:
    """Every recorded plan file (`exports/sampling/<year>/plan.json`), by year."""
    root = root or sampling_dir()
    plans = []
    for path in sorted(root.glob("*/plan.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["path"] = str(path)
        plans.append(record)
    return plans


def registry_rows(conn) -> list[dict]:
    rows = conn.execute(
        "select school_code, name_zh, status, succeeded, active_from, active_to from ref.schools order by school_code"
    ).fetchall()
    return [
        {"school_code": r[0], "name_zh": r[1], "status": r[2], "succeeded": list(r[3] or []),
         "active_from": r[4], "active_to": r[5]}
        for r in rows
    ]


def gather_inputs(cycle_start: int, year: int, seed: int, as_of: dt.date, risk_year: int | None = None) -> dict:
    """Everything the plan depends on, read from the published warehouse and the recorded files."""
    rules = load_rules()
    names = element_codes()
    with published_warehouse() as conn:
        require_tables(conn, "ref.schools", "mart.school_risk", "mart.element_warnings")
        colleges = registry_rows(conn)
        if risk_year is None:
            risk_year = conn.execute(
                "select max(year) from mart.school_risk where year <= $y", {"y": min(year - 1, as_of.year)}
            ).fetchone()[0]
            if risk_year is None:
                raise FileNotFoundError(
                    f"mart.school_risk 中没有 {year - 1} 年及以前的风险数据：请先导入数据并运行 `zhengai run`"
                )
        risk = conn.execute(
            "select school_code, risk_score, red_count, yellow_count, insufficient_count, rank, "
            "flagged_indicators, red_indicators, yellow_indicators, insufficient_indicators "
            "from mart.school_risk where year = $y order by school_code",
            {"y": risk_year},
        ).fetchall()
        if not risk:
            raise FileNotFoundError(f"mart.school_risk 中没有 {risk_year} 年的数据 / no risk rows for {risk_year}")
        warnings = conn.execute(
            "select school_code, element_code, level_zh, reasons from mart.element_warnings "
            "where year = $y and level in ('red', 'yellow') "
            "order by school_code, case level when 'red' then 0 else 1 end, element_code",
            {"y": risk_year},
        ).fetchall()
    risk_rows = [
        {"school_code": r[0], "risk_score": None if r[1] is None else float(r[1]), "red_count": r[2],
         "yellow_count": r[3], "insufficient_count": r[4], "rank": r[5], "flagged_indicators": r[6],
         "red_indicators": r[7], "yellow_indicators": r[8], "insufficient_indicators": r[9]}
        for r in risk
    ]
    # Per college, the first reason of each red then yellow element: the cause of its driving indicator
    # (an escalation is said inside it); elements sharing that cause share one line, so no sentence repeats.
    grouped: dict[str, dict[tuple[str, str], list[str]]] = {}
    for school, element, level_zh, texts in warnings:
        first = texts[0] if texts else "（无说明）"
        grouped.setdefault(school, {}).setdefault((level_zh, first), []).append(f"{element} {names.get(element, '')}")
    reasons = {
        school: [f"要素 {'、'.join(elements)}（{level_zh}）：{text}" for (level_zh, text), elements in lines.items()]
        for school, lines in grouped.items()
    }
    earlier = {
        str(record["plan"]["year"]): [row["school_code"] for row in record["plan"]["selected"]]
        for record in recorded_plans()
        if record["plan"]["cycle_start"] == cycle_start and record["plan"]["year"] < year
    }
    return {
        "cycle_start": cycle_start,
        "year": year,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "risk_year": risk_year,
        "rules": rules.as_dict(),
        "colleges": colleges,
        "risk_snapshot": {"year": risk_year, "sha256": snapshot_sha256(risk_rows), "rows": risk_rows},
        "reasons": reasons,
        "reviews": [r for r in review_history(rules) if r["year"] < year],
        "earlier_plans": earlier,
    }


# --- recording -----------------------------------------------------------------------------------

EXCEL_COLUMNS = (
    ("rank", "序号"), ("school_code", "学校代码"), ("name_zh", "学校名称"), ("reason_zh", "入选方式"),
    ("rationale_zh", "入选理由"), ("top_reasons", "主要预警原因"), ("risk_score", "风险分"),
    ("risk_rank", "风险排名"), ("last_reviewed_year", "上次复核年份"),
)


def plan_xlsx_bytes(plan: dict, inputs: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    workbook = new_workbook(buffer, in_memory=True)
    bold = workbook.add_format({"bold": True})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet("抽样计划")
    write_value(sheet, 0, 0, f"{plan['year']} 年复核抽样计划（周期 {plan['cycle_start']}—{plan['cycle_end']}）", bold)
    write_value(sheet, 1, 0, f"依据：{plan['risk_year']} 年风险快照 {plan['risk_snapshot_sha256'][:12]}；"
                             f"随机种子 {plan['seed']}；截至 {plan['as_of']}")
    write_values(sheet, 3, 0, [title for _, title in EXCEL_COLUMNS], header)
    for offset, row in enumerate(plan["selected"], start=4):
        values = [("\n".join(row[k]) if k == "top_reasons" else row[k]) for k, _ in EXCEL_COLUMNS]
        write_values(sheet, offset, 0, values, wrap)
    for col, width in enumerate((6, 10, 28, 12, 60, 60, 8, 8, 12)):
        sheet.set_column(col, col, width)
    notes = workbook.add_worksheet("说明")
    lines = [
        f"在办院校 {plan['active_colleges']} 所，本周期至少复核 {plan['cycle_target']} 所，"
        f"各年名额 {'|'.join(map(str, plan['year_quotas']))}",
        f"本周期此前已复核或已列入计划 {plan['covered_before']} 所；本年新抽 {plan['places']} 所"
        f"（风险 {plan['risk_places']}、随机 {plan['random_places']}）",
        *plan["notes"],
        "",
        "未列入的院校",
        *[f"{e['school_code']} {e['name_zh']}：{e['why_zh']}" for e in plan["excluded"]],
    ]
    for line_no, line in enumerate(lines):
        write_value(notes, line_no, 0, line)
    risk = workbook.add_worksheet("风险快照")
    columns = ("school_code", "risk_score", "red_count", "yellow_count", "insufficient_count", "rank")
    write_values(risk, 0, 0, ["学校代码", "风险分", "红色要素", "黄色要素", "数据不足要素", "排名"], header)
    for offset, row in enumerate(inputs["risk_snapshot"]["rows"], start=1):
        write_values(risk, offset, 0, [row[c] for c in columns])
    workbook.close()
    return buffer.getvalue()


def record_plan(inputs: dict, plan: dict) -> dict[str, Path]:
    from dashboards.sampling_report import build_plan_html

    folder = sampling_dir() / str(plan["year"])
    record = {"inputs": inputs, "plan": plan}
    paths = {"json": folder / "plan.json", "xlsx": folder / "plan.xlsx", "html": folder / "plan.html"}
    html = build_plan_html(plan).encode("utf-8")
    xlsx = plan_xlsx_bytes(plan, inputs)
    write_atomic(paths["xlsx"], xlsx)
    write_atomic(paths["html"], html)
    write_atomic(paths["json"], json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
    return paths


# --- commands ------------------------------------------------------------------------------------


def plan_text(plan: dict) -> str:
    lines = [
        f"{plan['year']} 年复核抽样计划（周期 {plan['cycle_start']}—{plan['cycle_end']}，种子 {plan['seed']}，"
        f"风险数据 {plan['risk_year']} 年）",
        f"在办 {plan['active_colleges']} 所，周期至少复核 {plan['cycle_target']} 所（各年 {'|'.join(map(str, plan['year_quotas']))}），"
        f"此前已覆盖 {plan['covered_before']} 所；本年新抽 {plan['places']} 所：风险 {plan['risk_places']}、随机 {plan['random_places']}",
        "",
    ]
    for row in plan["selected"]:
        lines.append(
            f"{row['rank']:>3}. {row['school_code']} {row['name_zh']}  [{row['reason_zh']}] {row['rationale_zh']}"
        )
        lines.extend(f"       · {reason}" for reason in row["top_reasons"])
    if not plan["selected"]:
        lines.append("（本年没有需要复核的院校）")
    for note in plan["notes"]:
        lines.append(f"注意：{note}")
    return "\n".join(lines)


def parse_as_of(text: str | None) -> dt.date:
    return dt.date.fromisoformat(text) if text else today()


def cmd_sample(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    inputs = gather_inputs(args.cycle_start, args.year, args.seed, as_of, args.risk_year)
    plan = propose_plan(inputs)
    earlier = plan_path(args.year)
    previous = json.loads(earlier.read_text(encoding="utf-8"))["plan"] if earlier.is_file() else None
    paths = record_plan(inputs, plan)
    if args.json:
        print(json.dumps(plan["selected"], ensure_ascii=False, indent=2))
    else:
        print(plan_text(plan))
        print(f"\n计划已记录：{paths['json']}\nExcel：{paths['xlsx']}\n网页：{paths['html']}")
    if previous is not None and previous["selected"] != plan["selected"]:
        print(f"注意：替换了此前记录的 {args.year} 年计划（入选院校不同）", file=sys.stderr)
    return 0


def cycle_inputs(cycle_start: int | None, as_of: dt.date) -> tuple[dict, Rules]:
    rules = load_rules()
    start = cycle_start if cycle_start is not None else cycle_of(as_of.year, rules)
    with published_warehouse() as conn:
        require_tables(conn, "ref.schools")
        colleges = colleges_from(registry_rows(conn))
    plans = {
        record["plan"]["year"]: [row["school_code"] for row in record["plan"]["selected"]]
        for record in recorded_plans()
        if record["plan"]["cycle_start"] == start
    }
    return cycle_status(start, as_of, rules, colleges, review_history(rules), plans), rules


def cycle_text(status: dict) -> str:
    track = "按计划推进" if status["on_track"] else "落后于覆盖要求"
    lines = [
        f"复核周期 {status['cycle_start']}—{status['cycle_end']}（截至 {status['as_of']}）",
        f"在办院校 {status['active_colleges']} 所，周期至少复核 {status['cycle_target']} 所；"
        f"已复核 {status['reviewed']} 所，连同已列入计划的共 {status['covered']} 所，到本年应达 {status['expected_by_now']} 所：{track}",
        f"须复核（整改期已满）{status['re_review_due']} 所",
        "",
    ]
    for row in status["colleges"]:
        if row["reviewed_years"] or row["planned_years"] or row["re_review_due"]:
            lines.append(f"{row['school_code']} {row['name_zh']}：{row['status_zh']}")
    return "\n".join(lines)


def cmd_cycle(args: argparse.Namespace) -> int:
    from dashboards.sampling_report import build_cycle_html

    status, _ = cycle_inputs(args.cycle_start, parse_as_of(args.as_of))
    path = sampling_dir() / f"cycle-{status['cycle_start']}.html"
    write_atomic(path, build_cycle_html(status).encode("utf-8"))
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        print(cycle_text(status))
        print(f"\n网页：{path}")
    return 0


def register(subparsers) -> None:
    sample = subparsers.add_parser("sample", help="提出某年的复核抽样计划并记录 / propose a sampling plan")
    sample.add_argument("--cycle-start", type=int, required=True, help="周期起始年份 Y0")
    sample.add_argument("--year", type=int, required=True, help="抽样年份 Y（Y0 ≤ Y < Y0+周期年数）")
    sample.add_argument("--seed", type=int, required=True, help="随机抽取的种子（记录在计划中）")
    sample.add_argument("--as-of", help="决定日期 YYYY-MM-DD（默认今天）")
    sample.add_argument("--risk-year", type=int, help="所用风险数据的年份（默认 Y-1 及以前最近一年）")
    sample.add_argument("--json", action="store_true", help="以 JSON 输出入选院校")
    sample.set_defaults(func=cmd_sample)

    cycle = subparsers.add_parser("cycle", help="复核周期进度：已复核、结论、须复核、覆盖要求 / cycle view")
    cycle.add_argument("--cycle-start", type=int, help="周期起始年份（默认：截至日期所在周期）")
    cycle.add_argument("--as-of", help="截至日期 YYYY-MM-DD（默认今天）")
    cycle.add_argument("--json", action="store_true", help="以 JSON 输出")
    cycle.set_defaults(func=cmd_cycle)
