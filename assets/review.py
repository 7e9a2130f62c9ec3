"""The secretariat's tables: expert review results, conclusions, sampling plans and the review cycle.

They are part of the mart layer, openly: group `mart`, schema `mart` (pipelines/definitions.py loads
this module with assets/mart.py). They sit beside the SQL marts because they are read with them
(the sampling risk comes from `mart.school_risk`) and because the secretariat's commands, the cycle
view and the analysts' copy know them as `mart.review_*` and `mart.sampling_plan`; only their
inputs differ (recorded files, not raw tables), hence a module of their own.

The source of truth is files, never the warehouse: review results recorded by `zhengai review
import` under `$ZHENGAI_HOME/reviews/<year>/<school_code>.csv`, plans recorded by `zhengai
sample` under `$ZHENGAI_HOME/exports/sampling/<year>/plan.json`, and the colleges' self-diagnosis
reports (附件3) recorded by `zhengai selfreport import` under `$ZHENGAI_HOME/selfreports/<year>/`. Each run rebuilds the four
tables from them with the same functions the commands use, so the warehouse can always be rebuilt.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from pipelines.resources import RunOptions, WarehouseResource
from pipelines.secretariat.candour import candour_prompts as candour_prompts_rows
from pipelines.secretariat.candour import load_candour_words, read_inputs
from pipelines.secretariat.cycle import cycle_of, cycle_status
from pipelines.secretariat.followups import KINDS as FOLLOWUP_KINDS
from pipelines.secretariat.followups import history_with_followups, recorded_followups
from pipelines.secretariat.inputs import registry_rows
from pipelines.secretariat.review import load_recorded_reviews
from pipelines.secretariat.rules import CONCLUSION_EN, load_rules
from pipelines.secretariat.sampling import colleges_from, lineage, recorded_plans
from pipelines.secretariat.selfreport import selfreport_rows
from pipelines.sql import run_sql, table_summary

REF_SCHOOLS = dg.AssetKey(["ref", "schools"])
REF_ELEMENTS = dg.AssetKey(["ref", "diagnostic_elements"])
REF_INDICATOR_ELEMENTS = dg.AssetKey(["ref", "indicator_elements"])
INDICATOR_WARNINGS = dg.AssetKey(["mart", "indicator_warnings"])

RESULTS_SCHEMA = {
    "school_code": pl.String,
    "year": pl.Int32,
    "element_code": pl.String,
    "matched": pl.Boolean,
    "measures": pl.String,
    "review_date": pl.Date,
    "source_file": pl.String,
    "imported_at": pl.Datetime("us"),
}
CONCLUSIONS_SCHEMA = {
    "school_code": pl.String,
    "year": pl.Int32,
    "review_date": pl.Date,
    "elements": pl.Int32,
    "matched": pl.Int32,
    "measures": pl.String,
    "conclusion": pl.String,
    "conclusion_en": pl.String,
    "improvement_deadline": pl.Date,
    "re_reviewed_year": pl.Int32,
    "re_review_due": pl.Boolean,
}
PLAN_SCHEMA = {
    "cycle_start": pl.Int32,
    "cycle_end": pl.Int32,
    "year": pl.Int32,
    "rank": pl.Int32,
    "school_code": pl.String,
    "name_zh": pl.String,
    "reason": pl.String,
    "reason_zh": pl.String,
    "rationale_zh": pl.String,
    "top_reasons": pl.List(pl.String),
    "risk_score": pl.Float64,
    "risk_rank": pl.Int32,
    "last_reviewed_year": pl.Int32,
    "submission_points": pl.Float64,
    "submission_reasons": pl.List(pl.String),
    "seed": pl.Int64,
    "as_of": pl.Date,
    "risk_year": pl.Int32,
    "risk_snapshot_sha256": pl.String,
    "plan_file": pl.String,
}
SELFREPORT_SCHEMA = {
    "school_code": pl.String,
    "year": pl.Int32,
    "element_code": pl.String,
    "element_name": pl.String,
    "self_diagnosis": pl.String,
    "improvement_measures": pl.String,
    "improvement_effects": pl.String,
    "self_diagnosis_chars": pl.Int32,
    "improvement_measures_chars": pl.Int32,
    "improvement_effects_chars": pl.Int32,
    "problem_share": pl.Float64,
    "overview": pl.String,
    "signed_date": pl.Date,
    "imported_at": pl.Datetime("us"),
    "source_file": pl.String,
}
FOLLOWUP_SCHEMA = {
    "school_code": pl.String,
    "year": pl.Int32,
    "kind": pl.String,
    "kind_zh": pl.String,
    "date": pl.Date,
    "result": pl.String,
    "recorded_at": pl.Datetime("us"),
}
CANDOUR_SCHEMA = {
    "school_code": pl.String,
    "year": pl.Int32,
    "element_code": pl.String,
    "kind": pl.String,
    "indicator_code": pl.String,
    "message_zh": pl.String,
    "confidence": pl.String,
}
CYCLE_SCHEMA = {
    "cycle_start": pl.Int32,
    "cycle_end": pl.Int32,
    "school_code": pl.String,
    "name_zh": pl.String,
    "status_zh": pl.String,
    "reviewed_years": pl.List(pl.Int32),
    "latest_year": pl.Int32,
    "latest_conclusion": pl.String,
    "improvement_deadline": pl.Date,
    "re_review_due": pl.Boolean,
    "applied_on": pl.Date,
    "followups_zh": pl.List(pl.String),
    "planned_years": pl.List(pl.Int32),
    "cycle_target": pl.Int32,
    "cycle_covered": pl.Int32,
    "cycle_expected_by_now": pl.Int32,
    "cycle_on_track": pl.Boolean,
    "as_of": pl.Date,
}


def _utc_naive(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def review_results_frame() -> pl.DataFrame:
    rows = [
        {
            "school_code": row["school_code"],
            "year": int(row["year"]),
            "element_code": row["element_code"],
            "matched": row["matched"] == "true",
            "measures": row["measures"],
            "review_date": dt.date.fromisoformat(row["review_date"]),
            "source_file": row["source_file"],
            "imported_at": _utc_naive(row["imported_at"]),
        }
        for review in load_recorded_reviews(load_rules())
        for row in review.rows
    ]
    return pl.DataFrame(rows, schema=RESULTS_SCHEMA)


def review_conclusions_frame(registry: list[dict], as_of: dt.date) -> pl.DataFrame:
    """Conclusions with deadlines; a re-review is due once the deadline has passed and no later review
    of the college (or of a college that succeeded it) exists."""
    colleges = colleges_from(registry)
    reviews = load_recorded_reviews(load_rules())
    rows = []
    for review in reviews:
        later = sorted(
            other.year
            for other in reviews
            if other.year > review.year
            and (other.school_code == review.school_code or review.school_code in lineage(other.school_code, colleges))
        )
        deadline = review.improvement_deadline
        rows.append(
            {
                "school_code": review.school_code,
                "year": review.year,
                "review_date": review.review_date,
                "elements": review.elements,
                "matched": review.matched,
                "measures": review.measures,
                "conclusion": review.conclusion,
                "conclusion_en": CONCLUSION_EN[review.conclusion],
                "improvement_deadline": deadline,
                "re_reviewed_year": later[0] if later else None,
                "re_review_due": bool(deadline and deadline <= as_of and not later),
            }
        )
    return pl.DataFrame(rows, schema=CONCLUSIONS_SCHEMA)


def sampling_plan_frame() -> pl.DataFrame:
    rows = []
    for record in recorded_plans():
        plan = record["plan"]
        for row in plan["selected"]:
            rows.append(
                {
                    **{
                        key: row[key]
                        for key in (
                            "rank",
                            "school_code",
                            "name_zh",
                            "reason",
                            "reason_zh",
                            "rationale_zh",
                            "top_reasons",
                            "risk_score",
                            "risk_rank",
                            "last_reviewed_year",
                        )
                    },
                    "submission_points": row.get("submission_points") or 0.0,
                    "submission_reasons": row.get("submission_reasons") or [],
                    "cycle_start": plan["cycle_start"],
                    "cycle_end": plan["cycle_end"],
                    "year": plan["year"],
                    "seed": plan["seed"],
                    "as_of": dt.date.fromisoformat(plan["as_of"]),
                    "risk_year": plan["risk_year"],
                    "risk_snapshot_sha256": plan["risk_snapshot_sha256"],
                    "plan_file": record["path"],
                }
            )
    return pl.DataFrame(rows, schema=PLAN_SCHEMA)


def review_followups_frame() -> pl.DataFrame:
    rows = [
        {
            **row,
            "kind_zh": FOLLOWUP_KINDS.get(row["kind"], row["kind"]),
            "date": dt.date.fromisoformat(row["date"]),
            "result": row["result"] or None,
            "recorded_at": _utc_naive(row["recorded_at"]),
        }
        for row in recorded_followups()
    ]
    return pl.DataFrame(rows, schema=FOLLOWUP_SCHEMA)


def review_cycle_frame(registry: list[dict], as_of: dt.date) -> pl.DataFrame:
    """The cycle view for every cycle of a recorded plan, and for reviews outside those cycles the
    cycle counted from `first_cycle_start`."""
    rules = load_rules()
    colleges = colleges_from(registry)
    history = history_with_followups(rules)
    plans: dict[int, dict[int, list[str]]] = {}
    for record in recorded_plans():
        plan = record["plan"]
        plans.setdefault(plan["cycle_start"], {})[plan["year"]] = [row["school_code"] for row in plan["selected"]]
    planned_years = {start + offset for start in plans for offset in range(rules.cycle_years)}
    cycles = sorted(set(plans) | {cycle_of(r["year"], rules) for r in history if r["year"] not in planned_years})
    rows = []
    for start in cycles:
        status = cycle_status(start, as_of, rules, colleges, history, plans.get(start, {}))
        for college in status["colleges"]:
            rows.append(
                {
                    **college,
                    "improvement_deadline": (
                        dt.date.fromisoformat(college["improvement_deadline"])
                        if college["improvement_deadline"]
                        else None
                    ),
                    "applied_on": dt.date.fromisoformat(college["applied_on"]) if college["applied_on"] else None,
                    "cycle_start": start,
                    "cycle_end": status["cycle_end"],
                    "cycle_target": status["cycle_target"],
                    "cycle_covered": status["covered"],
                    "cycle_expected_by_now": status["expected_by_now"],
                    "cycle_on_track": status["on_track"],
                    "as_of": as_of,
                }
            )
    return pl.DataFrame(rows, schema=CYCLE_SCHEMA)


def build_from_frame(warehouse: WarehouseResource, table: str, relation: str, frame: pl.DataFrame):
    with warehouse.connect() as conn:
        conn.register(relation, frame)
        try:
            run_sql(conn, f"mart/{table}")
        finally:
            conn.unregister(relation)
        return dg.MaterializeResult(metadata=table_summary(conn, f"mart.{table}"))


def read_registry(warehouse: WarehouseResource) -> list[dict]:
    with warehouse.connect() as conn:
        return registry_rows(conn)


@dg.asset(kinds={"duckdb"}, deps=[REF_ELEMENTS])
def review_results(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Expert review results per college, year and element (诊断是否相符, 改进措施强弱), from reviews/."""
    return build_from_frame(warehouse, "review_results", "recorded_review_results", review_results_frame())


@dg.asset(kinds={"duckdb"}, deps=[review_results, REF_SCHOOLS])
def review_conclusions(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Review conclusion (有效/待改进/异常) per college and year, improvement deadline, re-review due."""
    frame = review_conclusions_frame(read_registry(warehouse), run_options.as_of_date())
    return build_from_frame(warehouse, "review_conclusions", "computed_review_conclusions", frame)


@dg.asset(kinds={"duckdb"})
def sampling_plan(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every recorded sampling plan: selected colleges, why, and the plan's seed, as-of and risk snapshot."""
    return build_from_frame(warehouse, "sampling_plan", "recorded_sampling_plans", sampling_plan_frame())


@dg.asset(kinds={"duckdb"})
def review_followups(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """After the conclusion: 整改方案备案, 整改总结, 复核申请 and 专家回访 per college and review year, from followups/."""
    return build_from_frame(warehouse, "review_followups", "recorded_review_followups", review_followups_frame())


@dg.asset(kinds={"duckdb"}, deps=[review_conclusions, review_followups, sampling_plan, REF_SCHOOLS])
def review_cycle(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Per cycle and college: reviews, conclusion, re-review due, plans, and whether coverage is on track."""
    frame = review_cycle_frame(read_registry(warehouse), run_options.as_of_date())
    return build_from_frame(warehouse, "review_cycle", "computed_review_cycle", frame)


@dg.asset(kinds={"duckdb"})
def selfreport_elements(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The colleges' self-diagnosis reports (附件3) per college, year and element, from selfreports/."""
    frame = pl.DataFrame(selfreport_rows(), schema=SELFREPORT_SCHEMA)
    return build_from_frame(warehouse, "selfreport_elements", "recorded_selfreport_elements", frame)


@dg.asset(kinds={"duckdb"}, deps=[selfreport_elements, INDICATOR_WARNINGS, REF_INDICATOR_ELEMENTS])
def candour_prompts(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Prompts for the experts where a self-diagnosis (附件3) and the data's warnings disagree: a flagged
    indicator the element does not mention, or an achievement claimed against the data. Never verdicts."""
    with warehouse.connect() as conn:
        elements, flags = read_inputs(conn)
    frame = pl.DataFrame(candour_prompts_rows(elements, flags, load_candour_words()), schema=CANDOUR_SCHEMA)
    return build_from_frame(warehouse, "candour_prompts", "computed_candour_prompts", frame)
