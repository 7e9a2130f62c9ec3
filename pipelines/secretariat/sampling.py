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

import datetime as dt
import json
import math
import random
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from pipelines.secretariat.followups import history_with_followups
from pipelines.secretariat.inputs import (
    element_codes,
    published_warehouse,
    registry_rows,
    require_tables,
)
from pipelines.secretariat.plans import (
    Candidate,
    College,
    Exclusion,
    PastReview,
    Plan,
    PlanInputs,
    PlanRow,
    RiskRow,
    snapshot_sha256,
)
from pipelines.secretariat.rules import EFFECTIVE, Rules, load_rules
from pipelines.secretariat.submissions import candour_counts, submission_facts, submission_notes, submission_points
from pipelines.settings import get_settings

REASON_ZH = {"re_review": "整改期满复核", "risk": "风险", "random": "随机抽取"}
REASON_ORDER = ("re_review", "risk", "random")


def sampling_dir() -> Path:
    return get_settings().exports / "sampling"


def plan_path(year: int) -> Path:
    return sampling_dir() / str(year) / "plan.json"


# --- identity across renames and mergers ---------------------------------------------------------


def colleges_from(rows: list[dict]) -> dict[str, College]:
    return {row["school_code"]: College.from_json(row) for row in rows}


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


def seeded_draw(pool: list[str], k: int, seed: int) -> list[str]:
    """`k` codes from the sorted `pool`, drawn with `random.Random(seed)`.

    Each code gets the next `random()` value in pool order and the k smallest win. Only
    `random()` is used, whose sequence for a seed Python guarantees across versions (unlike
    `sample`), so anyone can redo the draw from the recorded seed and candidate list.
    """
    rng = random.Random(seed)
    keyed = sorted((rng.random(), code) for code in sorted(pool))
    return [code for _, code in keyed[:k]]


# --- the plan, step by step (pure) ---------------------------------------------------------------


@dataclass
class Census:
    """The active colleges sorted into due re-reviews, exclusions and candidates."""

    active: list[str]
    re_reviews: list[Candidate] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    covered_before: int = 0
    awaiting_application: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Places:
    target: int
    quotas: tuple[int, ...]
    places: int
    risk: int
    random: int


def cycle_years_of(inputs: PlanInputs, rules: Rules) -> list[int]:
    years = list(range(inputs.cycle_start, inputs.cycle_start + rules.cycle_years))
    if inputs.year not in years:
        raise ValueError(
            f"{inputs.year} 年不在 {inputs.cycle_start} 年开始的周期（{years[0]}—{years[-1]}）内 / year outside cycle"
        )
    return years


def applied_after_period(review: PastReview, deadline: dt.date, as_of: dt.date) -> bool:
    """The college applied for re-review once its improvement period was over, by the plan's decision date."""
    if not review.applied_on:
        return False
    return deadline <= dt.date.fromisoformat(review.applied_on) <= as_of


def take_census(inputs: PlanInputs, rules: Rules) -> Census:
    """Every college whose improvement period has ended and that has applied for re-review (when the rules
    ask for the application, 细则 四) is due; colleges reviewed or planned earlier in the cycle are left out
    (with the reason); the others are candidates, with the points their December submissions add."""
    year, cycle_start, as_of = inputs.year, inputs.cycle_start, dt.date.fromisoformat(inputs.as_of)
    colleges = {college.school_code: college for college in inputs.colleges}
    risk_rows = {row.school_code: row for row in inputs.risk_rows}
    reviews = sorted((r for r in inputs.reviews if r.year < year), key=lambda r: (r.year, r.review_date, r.school_code))
    earlier = {int(y): codes for y, codes in inputs.earlier_plans.items() if cycle_start <= int(y) < year}
    census = Census(active=sorted(code for code, college in colleges.items() if college.active_in(year)))
    for code in census.active:
        college, family = colleges[code], lineage(code, colleges)
        history = [r for r in reviews if r.school_code in family]
        latest = history[-1] if history else None
        in_cycle = [r for r in history if r.year >= cycle_start]
        planned = sorted(y for y, codes in earlier.items() if set(codes) & set(family))
        if in_cycle or planned:
            census.covered_before += 1
        risk_code = next((c for c in family if c in risk_rows), None)
        entry = Candidate(
            school_code=code,
            name_zh=college.name_zh,
            last_reviewed_year=latest.year if latest else None,
            history_from=latest.school_code if latest and latest.school_code != code else None,
            risk=risk_rows.get(risk_code) if risk_code else None,
            risk_code=risk_code,
        )
        facts = (inputs.submissions.get("colleges") or {}).get(code) if inputs.submissions.get("recorded") else None
        entry.submission_points, entry.submission_reasons = submission_points(
            facts, inputs.submissions.get("year", year - 1), as_of, rules
        )
        deadline = (
            dt.date.fromisoformat(latest.improvement_deadline) if latest and latest.improvement_deadline else None
        )
        period_over = bool(latest and latest.conclusion != EFFECTIVE and deadline and deadline.year <= year)
        applied = period_over and (
            not rules.re_review_needs_application or applied_after_period(latest, deadline, as_of)
        )
        if period_over and not applied:
            census.awaiting_application.append(code)
        if applied:
            census.re_reviews.append(due_re_review(entry, latest, deadline, year))
        elif in_cycle:
            why = reviewed_in_cycle(in_cycle[-1]) if not period_over else awaiting_text(latest)
            census.excluded.append(Exclusion(code, college.name_zh, why))
        elif planned:
            census.excluded.append(
                Exclusion(code, college.name_zh, f"已列入本周期 {'、'.join(map(str, planned))} 年抽样计划")
            )
        else:
            census.candidates.append(entry)
    return census


def awaiting_text(latest: PastReview) -> str:
    return (
        f"{latest.year} 年复核（{latest.conclusion}），整改期至 {latest.improvement_deadline}，"
        "尚未在期满后提出复核申请：申请后列入复核（细则四：改进期满后须重新提出复核申请）"
    )


def due_re_review(entry: Candidate, latest: PastReview, deadline: dt.date, year: int) -> Candidate:
    overdue = "，已逾期" if deadline.year < year else ""
    origin = f"（前身 {latest.school_code} 的记录）" if entry.history_from else ""
    applied = f"，{latest.applied_on} 已申请复核" if latest.applied_on else ""
    entry.rationale_zh = (
        f"{latest.year} 年复核结论为“{latest.conclusion}”{origin}，整改期至 {deadline} 届满{overdue}{applied}，须复核"
    )
    entry.reason, entry.deadline = "re_review", deadline.isoformat()
    return entry


def reviewed_in_cycle(last: PastReview) -> str:
    if last.conclusion == EFFECTIVE:
        return f"本周期 {last.year} 年已复核，结论有效，本周期不再复核"
    return f"本周期 {last.year} 年已复核（{last.conclusion}），整改期至 {last.improvement_deadline}，期满后复核"


def count_places(census: Census, inputs: PlanInputs, rules: Rules, notes: list[str]) -> Places:
    """The year's quota, raised to catch up if the cycle is behind its cumulative quota (and to the whole
    target in its last year), capped by the candidates; the random share of it."""
    target = cycle_target(len(census.active), rules)
    quotas = year_quotas(target, rules)
    index = inputs.year - inputs.cycle_start
    cumulative = sum(quotas[: index + 1])
    if index == rules.cycle_years - 1:
        cumulative = max(cumulative, target)
    places = max(quotas[index], cumulative - census.covered_before)
    if places > len(census.candidates):
        notes.append(f"应抽 {places} 所，但符合条件的候选院校只有 {len(census.candidates)} 所：全部列入")
        places = len(census.candidates)
    n_random = random_places(places, rules)
    if rules.random_share > 0 and places > 0 and n_random == 0:
        notes.append(
            f"当年名额仅 {places} 所，按随机比例 {rules.random_share} 不足以设随机名额（风险名额须占多数）：全部按风险选取"
        )
    return Places(target, quotas, places, places - n_random, n_random)


def risk_order(entry: Candidate) -> tuple:
    """Highest priority (risk score plus submission points) first; at equal priority the college reviewed
    longest ago, never-reviewed first."""
    last = entry.last_reviewed_year
    return (-entry.priority, last is not None, last or 0, entry.school_code)


def risk_rationale(entry: Candidate, risk_year: int, tie: str) -> str:
    """Why a college is chosen on its risk: the score, rank and counts, its submissions, its review history."""
    risk, last = entry.risk, entry.last_reviewed_year
    history = (
        f"上次复核 {last} 年" + (f"（前身 {entry.history_from} 的记录）" if entry.history_from else "")
        if last is not None
        else "此前未接受复核"
    )
    if risk and risk.risk_score is not None:
        scored = (
            f"{risk_year} 年风险分 {risk.risk_score:g}，全省第 {risk.rank} 名"
            f"（预警指标 {risk.flagged_indicators} 项：红 {risk.red_indicators}、"
            f"黄 {risk.yellow_indicators}；数据不足指标 {risk.insufficient_indicators} 项）"
        )
    else:
        scored = f"{risk_year} 年无风险数据"
    if entry.submission_points:
        scored += f"；材料提交情况加 {entry.submission_points:g} 分，合计 {entry.priority:g} 分"
    return f"{scored}；{history}{tie}"


def select_by_risk(
    candidates: list[Candidate], places: Places, inputs: PlanInputs, rules: Rules, notes: list[str]
) -> tuple[list[Candidate], Places]:
    """The risk places by `risk_order`; places without enough risk data go to the draw (said in `notes`)."""
    with_risk = sorted((e for e in candidates if e.priority is not None), key=risk_order)
    n_risk, n_random = places.risk, places.random
    if len(with_risk) < n_risk:
        notes.append(
            f"有风险数据的候选院校只有 {len(with_risk)} 所：其余 {n_risk - len(with_risk)} 个风险名额改为随机抽取"
        )
        n_random += n_risk - len(with_risk)
        n_risk = len(with_risk)
    chosen = with_risk[:n_risk]
    scores = [e.priority for e in with_risk]
    for entry in chosen:
        tie = "；同分院校中复核最久远者优先" if scores.count(entry.priority) > 1 else ""
        entry.rationale_zh = risk_rationale(entry, inputs.risk_year, tie)
        entry.top_reasons = inputs.reasons.get(entry.risk_code, [])[: rules.top_reasons]
        entry.reason = "risk"
    return chosen, Places(places.target, places.quotas, places.places, n_risk, n_random)


def draw_at_random(
    candidates: list[Candidate], by_risk: list[Candidate], n_random: int, seed: int, notes: list[str]
) -> tuple[list[Candidate], int]:
    """The random places by a seeded draw among the candidates not chosen by risk; the pool's size."""
    chosen = {e.school_code for e in by_risk}
    pool = sorted(e.school_code for e in candidates if e.school_code not in chosen)
    draws = min(n_random, len(pool))
    if n_random > len(pool):
        notes.append(f"可供随机抽取的院校只有 {len(pool)} 所，少于随机名额 {n_random} 个")
    elif draws and draws == len(pool):
        notes.append(f"随机名额 {draws} 个等于候选院校数：候选院校全部入选，本年的随机抽取没有选择余地")
    by_code = {e.school_code: e for e in candidates}
    drawn = []
    for code in seeded_draw(pool, draws, seed):
        entry = by_code[code]
        entry.rationale_zh = f"随机抽取：以种子 {seed} 从未按风险入选的 {len(pool)} 所候选院校中抽取 {draws} 所"
        entry.reason = "random"
        drawn.append(entry)
    return drawn, len(pool)


def ranked_rows(re_reviews: list[Candidate], others: list[Candidate]) -> list[PlanRow]:
    """Re-reviews first (earliest deadline first), then risk, then random picks, in the order chosen."""
    order = {reason: position for position, reason in enumerate(REASON_ORDER)}
    due = sorted(re_reviews, key=lambda e: (e.deadline, e.school_code))
    return [
        PlanRow(
            rank=rank,
            school_code=entry.school_code,
            name_zh=entry.name_zh,
            reason=entry.reason,
            reason_zh=REASON_ZH[entry.reason],
            rationale_zh=entry.rationale_zh,
            top_reasons=list(entry.top_reasons),
            risk_score=entry.risk.risk_score if entry.risk else None,
            risk_rank=entry.risk.rank if entry.risk else None,
            last_reviewed_year=entry.last_reviewed_year,
            submission_points=entry.submission_points,
            submission_reasons=list(entry.submission_reasons),
        )
        for rank, entry in enumerate(sorted(due + others, key=lambda e: order[e.reason]), start=1)
    ]


def propose_plan(inputs: PlanInputs) -> Plan:
    """The plan for `inputs` (see `gather_inputs`); the same inputs always give the same plan.

    Identity follows the registry's succession links, so a renamed or merged college carries its
    predecessors' reviews. In order: `take_census` (due re-reviews, exclusions, candidates),
    `count_places`, `select_by_risk`, `draw_at_random`, `ranked_rows`. Whatever cannot be done as
    the rules say is said in `notes`.
    """
    rules = inputs.rules
    years = cycle_years_of(inputs, rules)
    notes: list[str] = []
    census = take_census(inputs, rules)
    places = count_places(census, inputs, rules, notes)
    by_risk, places = select_by_risk(census.candidates, places, inputs, rules, notes)
    drawn, pool = draw_at_random(census.candidates, by_risk, places.random, inputs.seed, notes)
    if not census.active:
        notes.append(f"{inputs.year} 年没有在办院校")
    notes += submission_notes(inputs.submissions, dt.date.fromisoformat(inputs.as_of), rules)
    if census.awaiting_application:
        notes.append(
            f"整改期已满或将满但尚未在期满后申请复核的院校：{'、'.join(census.awaiting_application)}"
            "（细则四：改进期满后须重新提出复核申请；申请后列入复核，可据以重新抽样或列入下一年计划）"
        )
    return Plan(
        cycle_start=inputs.cycle_start,
        cycle_end=years[-1],
        year=inputs.year,
        seed=inputs.seed,
        as_of=inputs.as_of,
        risk_year=inputs.risk_year,
        risk_snapshot_sha256=inputs.risk_sha256,
        active_colleges=len(census.active),
        cycle_target=places.target,
        year_quotas=list(places.quotas),
        covered_before=census.covered_before,
        places=places.places,
        risk_places=places.risk,
        random_places=places.random,
        random_pool=pool,
        selected=ranked_rows(census.re_reviews, by_risk + drawn),
        excluded=census.excluded,
        notes=notes,
    )


# --- reading the inputs --------------------------------------------------------------------------


def recorded_plans(root: Path | None = None) -> list[dict]:
    """Every recorded plan file (`exports/sampling/<year>/plan.json`), by year."""
    root = root or sampling_dir()
    plans = []
    for path in sorted(root.glob("*/plan.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["path"] = str(path)
        plans.append(record)
    return plans


def risk_snapshot(conn, year: int, as_of: dt.date, risk_year: int | None) -> tuple[int, list[RiskRow]]:
    """The risk year (default: the latest before the plan's year) and its rows of mart.school_risk."""
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
    return risk_year, [RiskRow(r[0], None if r[1] is None else float(r[1]), *r[2:]) for r in risk]


def warning_reasons(conn, risk_year: int) -> dict[str, list[str]]:
    """Per college, the first reason of each red then yellow element: the cause of its driving indicator
    (an escalation is said inside it); elements sharing that cause share one line, so no sentence repeats."""
    names = element_codes()
    warnings = conn.execute(
        "select school_code, element_code, level_zh, reasons from mart.element_warnings "
        "where year = $y and level in ('red', 'yellow') "
        "order by school_code, case level when 'red' then 0 else 1 end, element_code",
        {"y": risk_year},
    ).fetchall()
    grouped: dict[str, dict[tuple[str, str], list[str]]] = {}
    for school, element, level_zh, texts in warnings:
        first = texts[0] if texts else "（无说明）"
        grouped.setdefault(school, {}).setdefault((level_zh, first), []).append(f"{element} {names.get(element, '')}")
    return {
        school: [f"要素 {'、'.join(elements)}（{level_zh}）：{text}" for (level_zh, text), elements in lines.items()]
        for school, lines in grouped.items()
    }


def gather_inputs(cycle_start: int, year: int, seed: int, as_of: dt.date, risk_year: int | None = None) -> PlanInputs:
    """Everything the plan depends on, read from the published warehouse and the recorded files (the
    reviews with the colleges' applications for re-review, the December submissions of the year before)."""
    rules = load_rules()
    with published_warehouse() as conn:
        require_tables(conn, "ref.schools", "mart.school_risk", "mart.element_warnings")
        colleges = registry_rows(conn)
        risk_year, risk_rows = risk_snapshot(conn, year, as_of, risk_year)
        reasons = warning_reasons(conn, risk_year)
        candour = candour_counts(conn, year - 1)
    earlier = {
        str(record["plan"]["year"]): [row["school_code"] for row in record["plan"]["selected"]]
        for record in recorded_plans()
        if record["plan"]["cycle_start"] == cycle_start and record["plan"]["year"] < year
    }
    return PlanInputs(
        cycle_start=cycle_start,
        year=year,
        seed=seed,
        as_of=as_of.isoformat(),
        risk_year=risk_year,
        rules=rules,
        colleges=tuple(College.from_json(row) for row in colleges),
        risk_year_snapshot=risk_year,
        risk_sha256=snapshot_sha256([row.as_json() for row in risk_rows]),
        risk_rows=tuple(risk_rows),
        reasons=reasons,
        reviews=tuple(PastReview.from_json(r) for r in history_with_followups(rules) if r["year"] < year),
        earlier_plans=earlier,
        submissions=submission_facts(year - 1, [row["school_code"] for row in colleges], candour),
    )
