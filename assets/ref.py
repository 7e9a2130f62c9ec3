"""Reference layer: the diagnosis table (附件2), the platform table catalog and the college registry.

Every table here is loaded from a plain file the secretariat can read and edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from pipelines.registry import build_schools_table, load_registry
from pipelines.resources import WarehouseResource
from pipelines.settings import REFERENCE_DIR
from pipelines.sql import run_sql, table_summary

DIAGNOSIS_FILE = REFERENCE_DIR / "diagnosis_points.csv"
TABLES_FILE = REFERENCE_DIR / "platform_tables.csv"
COLUMNS_FILE = REFERENCE_DIR / "platform_columns.csv"
INDICATORS_FILE = REFERENCE_DIR / "indicators.csv"
INDICATOR_ELEMENTS_FILE = REFERENCE_DIR / "indicator_elements.csv"
THRESHOLDS_FILE = REFERENCE_DIR / "thresholds.csv"
INDICATOR_COLUMNS_FILE = REFERENCE_DIR / "indicator_columns.csv"
EXEMPTIONS_FILE = REFERENCE_DIR / "indicator_exemptions.csv"

# An indicator informs at most this many elements unless its rows say why (breadth_zh): one weak
# figure must not paint a college's whole diagnosis.
MAX_ELEMENTS_PER_INDICATOR = 3

# The reference tables built from the files in reference/ (None: from the tables before it), in an
# order that satisfies their dependencies; tests and benchmarks build scratch warehouses with it.
REFERENCE_SOURCES = (
    ("diagnostic_items", DIAGNOSIS_FILE),
    ("diagnostic_elements", DIAGNOSIS_FILE),
    ("diagnostic_points", DIAGNOSIS_FILE),
    ("platform_tables", TABLES_FILE),
    ("platform_columns", COLUMNS_FILE),
    ("point_platform_codes", None),
    ("indicators", INDICATORS_FILE),
    ("indicator_elements", INDICATOR_ELEMENTS_FILE),
    ("thresholds", THRESHOLDS_FILE),
    ("indicator_exemptions", EXEMPTIONS_FILE),
    ("indicator_columns", INDICATOR_COLUMNS_FILE),
)


def build_reference_tables(conn, tables: Iterable[str] | None = None) -> None:
    """Build the file-based `ref` tables (all, or those named) on an open connection, outside Dagster."""
    wanted = None if tables is None else set(tables)
    for table, source in REFERENCE_SOURCES:
        if wanted is None or table in wanted:
            run_sql(conn, f"ref/{table}", {"path": str(source)} if source else None)


def load_reference_table(warehouse: WarehouseResource, table: str, source: Path) -> dg.MaterializeResult:
    """Build `ref.<table>` from `source` with `sql/ref/<table>.sql`."""
    if not source.is_file():
        raise FileNotFoundError(f"reference file for ref.{table} not found: {source}")
    with warehouse.connect() as conn:
        run_sql(conn, f"ref/{table}", {"path": str(source)})
        return dg.MaterializeResult(metadata={**table_summary(conn, f"ref.{table}"), "source": str(source)})


def build_table(warehouse: WarehouseResource, table: str) -> dg.MaterializeResult:
    """Build `ref.<table>` from tables already in the warehouse."""
    with warehouse.connect() as conn:
        run_sql(conn, f"ref/{table}")
        return dg.MaterializeResult(metadata=table_summary(conn, f"ref.{table}"))


def too_broad_indicators(conn) -> list[str]:
    """Indicators informing more than MAX_ELEMENTS_PER_INDICATOR elements without saying why on every row."""
    rows = conn.execute(
        "select indicator_code, count(*), count(breadth_zh) from ref.indicator_elements group by all order by 1"
    ).fetchall()
    return [code for code, links, explained in rows if links > MAX_ELEMENTS_PER_INDICATOR and explained < links]


def refuse_unknown_codes(warehouse: WarehouseResource, query: str, message: str) -> None:
    """Fail the asset when `query` finds rows: a reference file names codes the others do not know."""
    with warehouse.connect() as conn:
        unknown = conn.execute(query).fetchall()
    if unknown:
        codes = [row[0] if len(row) == 1 else row for row in unknown]
        raise ValueError(f"{message}: {codes}")


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def diagnostic_items(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The five diagnostic items (诊断项目) of 附件2."""
    return load_reference_table(warehouse, "diagnostic_items", DIAGNOSIS_FILE)


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def diagnostic_elements(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The fifteen diagnostic elements (诊断要素), keyed by element_code such as 2.3."""
    return load_reference_table(warehouse, "diagnostic_elements", DIAGNOSIS_FILE)


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def diagnostic_points(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every diagnostic point (诊断点) with its hint text and platform codes as written."""
    return load_reference_table(warehouse, "diagnostic_points", DIAGNOSIS_FILE)


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def platform_tables(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The status-data platform tables: code, Chinese name, warehouse table name, grain, keys."""
    return load_reference_table(warehouse, "platform_tables", TABLES_FILE)


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def platform_columns(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every catalogued column: the header texts it may appear under, type, unit, domain."""
    return load_reference_table(warehouse, "platform_columns", COLUMNS_FILE)


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"}, deps=[diagnostic_points, platform_tables])
def point_platform_codes(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Normalised platform table codes per diagnostic point, sections expanded through the catalog."""
    return build_table(warehouse, "point_platform_codes")


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def schools(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The college registry: code, name, school type, ownership, status and succession links.

    Validated first (pipelines/registry.py): a registry with mistakes fails this asset with every
    problem named by row, and nothing after it publishes."""
    registry = load_registry()
    with warehouse.connect() as conn:
        build_schools_table(conn, registry)
        return dg.MaterializeResult(
            metadata={**table_summary(conn, "ref.schools"), "source": str(registry.path), "encoding": registry.encoding}
        )


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"})
def indicators(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The indicator catalog: Chinese name, formula in words, unit, better direction, source tables."""
    return load_reference_table(warehouse, "indicators", INDICATORS_FILE)


@dg.asset(
    key_prefix="ref",
    group_name="ref",
    kinds={"duckdb"},
    deps=[indicators, point_platform_codes, diagnostic_elements, diagnostic_points],
)
def indicator_elements(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Indicator → diagnostic element links as the secretariat wrote them, each with its point and rationale."""
    result = load_reference_table(warehouse, "indicator_elements", INDICATOR_ELEMENTS_FILE)
    refuse_unknown_codes(
        warehouse,
        "select distinct indicator_code, element_code, point_no from ref.indicator_elements "
        "where indicator_code not in (select indicator_code from ref.indicators) or point_name is null",
        f"{INDICATOR_ELEMENTS_FILE.name} names unknown indicators, elements or points",
    )
    refuse_unknown_codes(
        warehouse,
        "select indicator_code, element_code from ref.indicator_elements where coalesce(rationale_zh, '') = ''",
        f"{INDICATOR_ELEMENTS_FILE.name}: every link needs its rationale (rationale_zh)",
    )
    with warehouse.connect() as conn:
        unexplained = too_broad_indicators(conn)
    if unexplained:
        raise ValueError(
            f"{INDICATOR_ELEMENTS_FILE.name}: indicators informing more than {MAX_ELEMENTS_PER_INDICATOR} elements "
            f"must say why on each of their rows (breadth_zh): {unexplained}"
        )
    return result


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"}, deps=[indicators])
def thresholds(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """合格 and 限制招生 values per indicator and school type, each with its source and confidence."""
    result = load_reference_table(warehouse, "thresholds", THRESHOLDS_FILE)
    refuse_unknown_codes(
        warehouse,
        "select distinct indicator_code from ref.thresholds "
        "where indicator_code not in (select indicator_code from ref.indicators)",
        f"{THRESHOLDS_FILE.name} names unknown indicators",
    )
    return result


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"}, deps=[indicators])
def indicator_exemptions(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """教发〔2004〕2号 表三's exemptions: when two measures exceed their bounds an indicator counts as 合格."""
    result = load_reference_table(warehouse, "indicator_exemptions", EXEMPTIONS_FILE)
    # the measures sql/mart/indicator_values.sql computes for the exemption conditions
    refuse_unknown_codes(
        warehouse,
        "select distinct indicator_code, first_measure, second_measure from ref.indicator_exemptions "
        "where indicator_code not in (select indicator_code from ref.indicators) "
        "or list_value(first_measure, second_measure) <@ ['equipment_value_total_wan', 'equipment_value_new_wan', "
        "'equivalent_students', 'books_new'] is not true",
        f"{EXEMPTIONS_FILE.name} names unknown indicators or measures",
    )
    return result


@dg.asset(key_prefix="ref", group_name="ref", kinds={"duckdb"}, deps=[indicators, platform_columns])
def indicator_columns(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The catalog columns each indicator reads: a file lacking one makes only those indicators 数据不足."""
    result = load_reference_table(warehouse, "indicator_columns", INDICATOR_COLUMNS_FILE)
    refuse_unknown_codes(
        warehouse,
        "select distinct indicator_code, table_code, column_name from ref.indicator_columns as used "
        "where indicator_code not in (select indicator_code from ref.indicators) or not exists ("
        "select 1 from ref.platform_columns as c where c.table_code = used.table_code and c.column_name = used.column_name)",
        f"{INDICATOR_COLUMNS_FILE.name} names unknown indicators or catalog columns",
    )
    return result
