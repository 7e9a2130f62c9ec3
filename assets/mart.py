"""Mart layer: indicators, per-element warnings, school risk — and the early-warning report pages.

The rule parameters (peer minimum, bottom share, trend tolerance, the ¼ cap on external
teachers, the risk weights) come from `reference/warning_rules.csv`, which the secretariat
edits; each SQL file receives the ones it uses as bound parameters.
"""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg

from dashboards.common import remove_stale_pages, write_page
from dashboards.warning_report import build_warning_report_html
from pipelines.resources import WarehouseResource
from pipelines.settings import REFERENCE_DIR
from pipelines.sitebuild import site_build
from pipelines.sql import run_sql, table_summary

WARNING_RULES_FILE = REFERENCE_DIR / "warning_rules.csv"

RULE_PARAMETERS = {
    "school_base": ("external_teacher_cap_share", "external_teacher_cap_on_converted"),
    "indicator_warnings": ("peer_min_count", "peer_bottom_share", "trend_tolerance"),
    "school_risk": ("weight_red", "weight_yellow", "weight_insufficient"),
    "college_card": ("card_yellow_years_to_red",),
}

RAW_TABLES = {
    "school_base": (
        "students_enrolled",
        "full_time_teachers",
        "external_part_time_teachers",
        "external_guest_teachers",
    ),
    "indicator_values_teachers": (
        "full_time_teachers",
        "internal_part_time_teachers",
        "external_part_time_teachers",
        "external_guest_teachers",
    ),
    "indicator_values_conditions": (
        "campus_area",
        "teaching_equipment",
        "library_holdings",
        "it_facilities",
        "onsite_training_bases",
    ),
    "indicator_values_teaching": ("courses", "internships", "admissions", "employment"),
    "indicator_values_management": (
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
}


def load_warning_rules(path: Path = WARNING_RULES_FILE) -> dict[str, float]:
    """The rule parameters as numbers; a missing or non-numeric parameter is an error naming it."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = {row["parameter"].strip(): row["value"].strip() for row in csv.DictReader(handle)}
    needed = {name for names in RULE_PARAMETERS.values() for name in names}
    missing = sorted(needed - rows.keys())
    if missing:
        raise ValueError(f"{path.name} lacks rule parameters: {missing}")
    try:
        return {name: float(value) for name, value in rows.items()}
    except ValueError as error:
        raise ValueError(f"{path.name}: every value must be a number ({error})") from error


def rule_parameters(table: str) -> dict[str, float]:
    rules = load_warning_rules()
    return {name: rules[name] for name in RULE_PARAMETERS.get(table, ())}


# The mart tables in build order, for building a scratch warehouse outside Dagster (tests, benchmarks).
MART_TABLES = (
    "school_base",
    "indicator_values_teachers",
    "indicator_values_conditions",
    "indicator_values_teaching",
    "indicator_values_management",
    "indicator_values",
    "indicator_warnings",
    "element_warnings",
    "school_risk",
    "college_card",
)


def build_marts(conn, rules: dict[str, float] | None = None) -> None:
    """Build every mart table on an open connection, with the rule parameters (default: the file's)."""
    rules = rules or load_warning_rules()
    for table in MART_TABLES:
        run_sql(conn, f"mart/{table}", {name: rules[name] for name in RULE_PARAMETERS.get(table, ())})


def build_mart_table(warehouse: WarehouseResource, table: str) -> dg.MaterializeResult:
    """Build `mart.<table>` with `sql/mart/<table>.sql` and the rule parameters it uses."""
    with warehouse.connect() as conn:
        run_sql(conn, f"mart/{table}", rule_parameters(table))
        return dg.MaterializeResult(metadata=table_summary(conn, f"mart.{table}"))


QUALITY_TABLE_STATUS = dg.AssetKey(["quality", "table_status"])
QUALITY_EXCLUDED_ROWS = dg.AssetKey(["quality", "excluded_rows"])


def raw_keys(table: str) -> list[dg.AssetKey]:
    """The raw tables `table` reads, and the bad rows it reads them without."""
    return [*(dg.AssetKey(["raw", name]) for name in RAW_TABLES[table]), QUALITY_EXCLUDED_ROWS]
QUALITY_ELEMENT_STATUS = dg.AssetKey(["quality", "element_data_status"])
REF = {name: dg.AssetKey(["ref", name]) for name in (
    "schools", "platform_tables", "diagnostic_items", "diagnostic_elements", "point_platform_codes",
    "indicators", "indicator_elements", "thresholds", "indicator_exemptions",
)}


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[REF["schools"], QUALITY_TABLE_STATUS, QUALITY_ELEMENT_STATUS, *raw_keys("school_base")],
)
def school_base(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every college and year warned about, with 折合在校生 and 教师总数 (external teachers capped)."""
    return build_mart_table(warehouse, "school_base")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[school_base, *raw_keys("indicator_values_teachers")],
)
def indicator_values_teachers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Teacher indicators (生师比, 学位, 职称, 双师, 校外兼职授课占比) with numerators and denominators."""
    return build_mart_table(warehouse, "indicator_values_teachers")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[school_base, *raw_keys("indicator_values_conditions")],
)
def indicator_values_conditions(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Running-condition indicators (用房, 宿舍, 设备, 图书, 计算机, 工位) per student."""
    return build_mart_table(warehouse, "indicator_values_conditions")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[school_base, *raw_keys("indicator_values_teaching")],
)
def indicator_values_teaching(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Teaching and outcome indicators (实践学时, 校企课程, 实习对口, 报到, 就业, 对口就业)."""
    return build_mart_table(warehouse, "indicator_values_teaching")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[school_base, *raw_keys("indicator_values_management")],
)
def indicator_values_management(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Funding, management and support indicators (拨款, 经费, 评教, 资助, 听课, 管理人员, 制度文件)."""
    return build_mart_table(warehouse, "indicator_values_management")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[
        indicator_values_teachers,
        indicator_values_conditions,
        indicator_values_teaching,
        indicator_values_management,
        REF["indicators"],
        REF["platform_tables"],
        REF["indicator_exemptions"],
        QUALITY_TABLE_STATUS,
        dg.AssetKey(["ref", "indicator_columns"]),  # a missing column excludes the indicators that read it
    ],
)
def indicator_values(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every indicator per college and year; NULL when the denominator is empty or a source table is untrusted."""
    return build_mart_table(warehouse, "indicator_values")


@dg.asset(
    key_prefix="mart", group_name="mart", kinds={"duckdb"}, deps=[indicator_values, REF["thresholds"]]
)
def indicator_warnings(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each indicator's verdict (限制招生, 合格, peers, trend) with its reasons as Chinese sentences."""
    return build_mart_table(warehouse, "indicator_warnings")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[
        indicator_warnings,
        REF["indicator_elements"],
        REF["diagnostic_elements"],
        REF["point_platform_codes"],
        QUALITY_ELEMENT_STATUS,
    ],
)
def element_warnings(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One level (红/黄/绿/数据不足/无适用指标/无数据覆盖) per college, year and element, drivers named first."""
    return build_mart_table(warehouse, "element_warnings")


@dg.asset(
    key_prefix="mart", group_name="mart", kinds={"duckdb"},
    deps=[element_warnings, indicator_warnings, REF["indicator_elements"]],
)
def school_risk(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Risk score and rank per college and year: each distinct red, yellow or insufficient indicator counts once."""
    return build_mart_table(warehouse, "school_risk")


@dg.asset(
    key_prefix="mart",
    group_name="mart",
    kinds={"duckdb"},
    deps=[school_base, indicator_values, REF["indicators"], REF["thresholds"]],
)
def college_card(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """办学条件黄牌/红牌（教发〔2004〕2号）per college and year: 合格, 限制招生 or 暂停招生, and the indicators deciding it."""
    return build_mart_table(warehouse, "college_card")


def write_warning_reports(conn, site: Path) -> int:
    """Write `schools/<code>/warnings-<year>.html` for every college and year; returns the page count."""
    elements = conn.execute(
        "select w.*, i.item_name, s.name_zh as school_name, s.school_type "
        "from mart.element_warnings w "
        "inner join ref.diagnostic_items i using (item_code) "
        "left join ref.schools s using (school_code) "
        "order by school_code, year, element_code"
    ).pl()
    indicators = conn.execute(
        "select l.element_code, w.* exclude (reasons) from mart.indicator_warnings w "
        "inner join ref.indicator_elements l using (indicator_code) "
        "order by school_code, year, element_code, ordinal"
    ).pl()
    risk = conn.execute("select * from mart.school_risk").pl()
    rules = load_warning_rules()
    indicators_by_page = indicators.partition_by(["school_code", "year"], as_dict=True)
    risk_by_page = risk.partition_by(["school_code", "year"], as_dict=True)
    written = set()
    for (school_code, year), school_elements in elements.group_by(["school_code", "year"], maintain_order=True):
        page = build_warning_report_html(
            school_elements,
            indicators_by_page.get((school_code, year), indicators.clear()),
            risk_by_page.get((school_code, year), risk.clear()),
            rules,
        )
        target = site / "schools" / str(school_code) / f"warnings-{year}.html"
        write_page(target, page)
        written.add(target)
    remove_stale_pages(site, "schools/*/warnings-*.html", written)
    return len(written)


@dg.asset(
    key_prefix="site",
    group_name="site",
    kinds={"html"},
    deps=[
        element_warnings,
        indicator_warnings,
        school_risk,
        REF["schools"],
        REF["indicator_elements"],
        REF["diagnostic_items"],
    ],
)
def warning_reports(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Early-warning report per college and year: site/schools/<code>/warnings-<year>.html (Chinese, offline)."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        pages = write_warning_reports(conn, site)
    return dg.MaterializeResult(
        metadata={"pages": dg.MetadataValue.int(pages), "site": dg.MetadataValue.path(str(site / "schools"))}
    )
