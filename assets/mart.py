"""Mart layer: indicators, per-element warnings, school risk (and, in assets/review.py, the review tables).

The rule parameters (peer minimum, bottom share, trend tolerance, the ¼ cap on external
teachers, the risk weights) come from `reference/warning_rules.csv`, which the secretariat
edits; each SQL file receives the ones it uses as bound parameters (`parameters` below).

Every mart table is rebuilt for all colleges at each run, never incrementally: one college's figures
move its peers' bands and ranks (indicator_warnings ranks same-type colleges, school_risk ranks all),
so most of the work depends on every college anyway, and all of it is cheap. Measured 2026-11-29
(`benchmarks/bench_marts.py`, DuckDB on one thread, CPU time): 1,550 colleges × 1 year, 4.1 M raw rows,
2.8 s for all ten tables (indicator_warnings 0.9 s, element_warnings 0.7 s, school_base 0.5 s; the
per-college tables that could be incremental, school_base and the indicator_values_*, 1.0 s together).
"""

from __future__ import annotations

import csv
from pathlib import Path

from assets.sql_tables import Layer, SqlTable, build_tables, table_assets
from pipelines.settings import REFERENCE_DIR

WARNING_RULES_FILE = REFERENCE_DIR / "warning_rules.csv"


def raw_tables(*names: str) -> tuple[str, ...]:
    """The raw tables a mart table reads, and the bad rows it reads them without."""
    return (*(f"raw/{name}" for name in names), "quality/excluded_rows")


def load_warning_rules(path: Path = WARNING_RULES_FILE) -> dict[str, float]:
    """The rule parameters as numbers; a missing or non-numeric parameter is an error naming it."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = {row["parameter"].strip(): row["value"].strip() for row in csv.DictReader(handle)}
    needed = {name for table in LAYER.tables for name in table.parameters}
    missing = sorted(needed - rows.keys())
    if missing:
        raise ValueError(f"{path.name} lacks rule parameters: {missing}")
    try:
        return {name: float(value) for name, value in rows.items()}
    except ValueError as error:
        raise ValueError(f"{path.name}: every value must be a number ({error})") from error


LAYER = Layer(
    "mart",
    (
        SqlTable(
            "school_base",
            "Every college and year warned about, with 折合在校生 and 教师总数 (external teachers capped).",
            deps=(
                "ref/schools",
                "quality/table_status",
                "quality/element_data_status",
                *raw_tables(
                    "students_enrolled",
                    "full_time_teachers",
                    "external_part_time_teachers",
                    "external_guest_teachers",
                ),
            ),
            parameters=("external_teacher_cap_share", "external_teacher_cap_on_converted"),
        ),
        SqlTable(
            "indicator_values_teachers",
            "Teacher indicators (生师比, 学位, 职称, 双师, 校外兼职授课占比) with numerators and denominators.",
            deps=(
                "school_base",
                *raw_tables(
                    "full_time_teachers",
                    "internal_part_time_teachers",
                    "external_part_time_teachers",
                    "external_guest_teachers",
                ),
            ),
        ),
        SqlTable(
            "indicator_values_conditions",
            "Running-condition indicators (用房, 宿舍, 设备, 图书, 计算机, 工位) per student.",
            deps=(
                "school_base",
                *raw_tables(
                    "campus_area",
                    "teaching_equipment",
                    "library_holdings",
                    "it_facilities",
                    "onsite_training_bases",
                ),
            ),
        ),
        SqlTable(
            "indicator_values_teaching",
            "Teaching and outcome indicators (实践学时, 校企课程, 实习对口, 报到, 就业, 对口就业).",
            deps=("school_base", *raw_tables("courses", "internships", "admissions", "employment")),
        ),
        SqlTable(
            "indicator_values_management",
            "Funding, management and support indicators (拨款, 经费, 评教, 资助, 听课, 管理人员, 制度文件).",
            deps=(
                "school_base",
                *raw_tables(
                    "funding_income",
                    "funding_expenditure",
                    "teaching_evaluations",
                    "student_aid",
                    "leader_engagement",
                    "management_documents",
                    "teaching_admin_staff",
                    "student_affairs_staff",
                    "admissions_employment_staff",
                    "supervision_staff",
                    "teaching_research_staff",
                ),
            ),
        ),
        SqlTable(
            "indicator_values",
            "Every indicator per college and year; NULL when the denominator is empty or a source table is untrusted.",
            deps=(
                "indicator_values_teachers",
                "indicator_values_conditions",
                "indicator_values_teaching",
                "indicator_values_management",
                "ref/indicators",
                "ref/platform_tables",
                "ref/indicator_exemptions",
                "quality/table_status",
                "ref/indicator_columns",  # a missing column excludes the indicators that read it
            ),
        ),
        SqlTable(
            "indicator_warnings",
            "Each indicator's verdict (限制招生, 合格, peers, trend) with its reasons as Chinese sentences.",
            deps=("indicator_values", "ref/thresholds"),
            parameters=("peer_min_count", "peer_bottom_share", "trend_tolerance"),
        ),
        SqlTable(
            "element_warnings",
            "One level (红/黄/绿/数据不足/无适用指标/无数据覆盖) per college, year and element, drivers named first.",
            deps=(
                "indicator_warnings",
                "ref/indicator_elements",
                "ref/diagnostic_elements",
                "ref/point_platform_codes",
                "quality/element_data_status",
            ),
        ),
        SqlTable(
            "school_risk",
            "Risk score and rank per college and year: each distinct red, yellow or insufficient indicator counts once.",
            deps=("element_warnings", "indicator_warnings", "ref/indicator_elements"),
            parameters=("weight_red", "weight_yellow", "weight_insufficient"),
        ),
        SqlTable(
            "college_card",
            "办学条件黄牌/红牌（教发〔2004〕2号）per college and year: 合格,"
            " 限制招生 or 暂停招生, and the indicators deciding it.",
            deps=("school_base", "indicator_values", "ref/indicators", "ref/thresholds"),
            parameters=("card_yellow_years_to_red",),
        ),
    ),
    values=lambda: load_warning_rules(),
)

ASSETS = table_assets(LAYER)


def build_marts(conn, rules: dict[str, float] | None = None) -> None:
    """Build every mart table on an open connection, with the rule parameters (default: the file's)."""
    build_tables(conn, LAYER, values=rules)
