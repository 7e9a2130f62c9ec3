"""Reference layer: the diagnosis table (附件2), the platform table catalog and the college registry.

Every table here is loaded from a plain file the secretariat can read and edit.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import duckdb

from assets.sql_tables import Layer, SqlTable, build_tables, table_assets
from pipelines.registry import build_schools_table, load_registry
from pipelines.resources import WarehouseResource
from pipelines.settings import REFERENCE_DIR
from pipelines.sql import table_summary

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


def too_broad_indicators(conn) -> list[str]:
    """Indicators informing more than MAX_ELEMENTS_PER_INDICATOR elements without saying why on every row."""
    rows = conn.execute(
        "select indicator_code, count(*), count(breadth_zh) from ref.indicator_elements group by all order by 1"
    ).fetchall()
    return [code for code, links, explained in rows if links > MAX_ELEMENTS_PER_INDICATOR and explained < links]


def refuse_unknown_codes(conn: duckdb.DuckDBPyConnection, query: str, message: str) -> None:
    """Refuse the build when `query` finds rows: a reference file names codes the others do not know."""
    unknown = conn.execute(query).fetchall()
    if unknown:
        codes = [row[0] if len(row) == 1 else row for row in unknown]
        raise ValueError(f"{message}: {codes}")


def validate_indicator_elements(conn: duckdb.DuckDBPyConnection) -> None:
    refuse_unknown_codes(
        conn,
        "select distinct indicator_code, element_code, point_no from ref.indicator_elements "
        "where indicator_code not in (select indicator_code from ref.indicators) or point_name is null",
        f"{INDICATOR_ELEMENTS_FILE.name} names unknown indicators, elements or points",
    )
    refuse_unknown_codes(
        conn,
        "select indicator_code, element_code from ref.indicator_elements where coalesce(rationale_zh, '') = ''",
        f"{INDICATOR_ELEMENTS_FILE.name}: every link needs its rationale (rationale_zh)",
    )
    unexplained = too_broad_indicators(conn)
    if unexplained:
        raise ValueError(
            f"{INDICATOR_ELEMENTS_FILE.name}: indicators informing more than {MAX_ELEMENTS_PER_INDICATOR} elements "
            f"must say why on each of their rows (breadth_zh): {unexplained}"
        )


def validate_thresholds(conn: duckdb.DuckDBPyConnection) -> None:
    refuse_unknown_codes(
        conn,
        "select distinct indicator_code from ref.thresholds "
        "where indicator_code not in (select indicator_code from ref.indicators)",
        f"{THRESHOLDS_FILE.name} names unknown indicators",
    )


def validate_exemptions(conn: duckdb.DuckDBPyConnection) -> None:
    # the measures sql/mart/indicator_values.sql computes for the exemption conditions
    refuse_unknown_codes(
        conn,
        "select distinct indicator_code, first_measure, second_measure from ref.indicator_exemptions "
        "where indicator_code not in (select indicator_code from ref.indicators) "
        "or list_value(first_measure, second_measure) <@ ['equipment_value_total_wan', 'equipment_value_new_wan', "
        "'equivalent_students', 'books_new'] is not true",
        f"{EXEMPTIONS_FILE.name} names unknown indicators or measures",
    )


def validate_indicator_columns(conn: duckdb.DuckDBPyConnection) -> None:
    refuse_unknown_codes(
        conn,
        "select distinct indicator_code, table_code, column_name from ref.indicator_columns as used "
        "where indicator_code not in (select indicator_code from ref.indicators) or not exists ("
        "select 1 from ref.platform_columns as c where c.table_code = used.table_code and c.column_name = used.column_name)",
        f"{INDICATOR_COLUMNS_FILE.name} names unknown indicators or catalog columns",
    )


# The reference tables built by one SQL file each, from a file in reference/ (`source`) or from the
# tables before them. `ref.schools` is the one exception: the registry is validated in Python first.
LAYER = Layer(
    "ref",
    (
        SqlTable("diagnostic_items", "The five diagnostic items (诊断项目) of 附件2.", source=lambda: DIAGNOSIS_FILE),
        SqlTable(
            "diagnostic_elements",
            "The fifteen diagnostic elements (诊断要素), keyed by element_code such as 2.3.",
            source=lambda: DIAGNOSIS_FILE,
        ),
        SqlTable(
            "diagnostic_points",
            "Every diagnostic point (诊断点) with its hint text and platform codes as written.",
            source=lambda: DIAGNOSIS_FILE,
        ),
        SqlTable(
            "platform_tables",
            "The status-data platform tables: code, Chinese name, warehouse table name, grain, keys.",
            source=lambda: TABLES_FILE,
        ),
        SqlTable(
            "platform_columns",
            "Every catalogued column: the header texts it may appear under, type, unit, domain.",
            source=lambda: COLUMNS_FILE,
        ),
        SqlTable(
            "point_platform_codes",
            "Normalised platform table codes per diagnostic point, sections expanded through the catalog.",
            deps=("diagnostic_points", "platform_tables"),
        ),
        SqlTable(
            "indicators",
            "The indicator catalog: Chinese name, formula in words, unit, better direction, source tables.",
            source=lambda: INDICATORS_FILE,
        ),
        SqlTable(
            "indicator_elements",
            "Indicator → diagnostic element links as the secretariat wrote them, each with its point and rationale.",
            deps=("indicators", "point_platform_codes", "diagnostic_elements", "diagnostic_points"),
            source=lambda: INDICATOR_ELEMENTS_FILE,
            validate=validate_indicator_elements,
        ),
        SqlTable(
            "thresholds",
            "合格 and 限制招生 values per indicator and school type, each with its source and confidence.",
            deps=("indicators",),
            source=lambda: THRESHOLDS_FILE,
            validate=validate_thresholds,
        ),
        SqlTable(
            "indicator_exemptions",
            "教发〔2004〕2号 表三's exemptions: when two measures exceed their bounds an indicator counts as 合格.",
            deps=("indicators",),
            source=lambda: EXEMPTIONS_FILE,
            validate=validate_exemptions,
        ),
        SqlTable(
            "indicator_columns",
            "The catalog columns each indicator reads: a file lacking one makes only those indicators 数据不足.",
            deps=("indicators", "platform_columns"),
            source=lambda: INDICATOR_COLUMNS_FILE,
            validate=validate_indicator_columns,
        ),
    ),
)

# module attributes by table name, so that a test or a job can name one asset (`ref.indicators`)
ASSETS = table_assets(LAYER)
(
    diagnostic_items,
    diagnostic_elements,
    diagnostic_points,
    platform_tables,
    platform_columns,
    point_platform_codes,
    indicators,
    indicator_elements,
    thresholds,
    indicator_exemptions,
    indicator_columns,
) = ASSETS


def build_reference_tables(conn: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None) -> None:
    """Build the file-based `ref` tables (all, or those named) on an open connection, outside Dagster."""
    build_tables(conn, LAYER, tables)


@dg.asset(kinds={"duckdb"})
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
