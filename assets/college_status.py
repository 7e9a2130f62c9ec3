"""Per college and collection year, one line of health, shown in the Dagster UI (issue 19).

The pipeline is not partitioned by college or year (README, "Operations": every province-level step
reads all colleges, and a nightly run redoes only what changed by content fingerprints). This asset
gives the UI the per-college view partitions would: `quality.college_year_status` (one row per
college-year judged: not_delivered > error > stale > partial > ok, tables by verdict, problems by
severity, reasons in Chinese), whose materialization shows the counts by health and, as a table, every
college-year that is not ok, worst first; the asset check `every_college_year_usable` turns yellow
(WARN, never failing the run) while any college-year is not delivered or has errors, naming them.

Part of the quality layer (group and schema `quality`): built from `quality.table_status` and
`quality.issues`, after them.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.resources import WarehouseResource
from pipelines.sql import run_sql, table_summary

TABLE = "quality.college_year_status"
KEY = dg.AssetKey(["quality", "college_year_status"])
SHOWN_ROWS = 200  # the UI's table: the worst college-years; the warehouse table holds them all
UNUSABLE = ("not_delivered", "error")
NOT_OK = (*UNUSABLE, "stale", "partial")
COLUMNS = {
    "school_code": "string",
    "name_zh": "string",
    "year": "int",
    "health_zh": "string",
    "tables_missing": "int",
    "tables_stale": "int",
    "tables_invalid": "int",
    "tables_partial": "int",
    "errors": "int",
    "warnings": "int",
    "reasons_zh": "string",
}


def health_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute(f"select health, count(*) from {TABLE} group by all").fetchall())


def college_years(conn: duckdb.DuckDBPyConnection, healths: tuple[str, ...], limit: int = SHOWN_ROWS) -> list[dict]:
    """College-years of these healths, worst first (then by college and year)."""
    relation = conn.execute(
        f"select {', '.join(COLUMNS)} from {TABLE} where list_contains(?, health) "
        "order by health_rank desc, school_code, year limit ?",
        [list(healths), limit],
    )
    names = [column[0] for column in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def attention_table(rows: list[dict]) -> dg.MetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in COLUMNS.items()])
    records = [dg.TableRecord({name: value for name, value in row.items() if value is not None}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


@dg.asset(kinds={"duckdb"}, deps=[dg.AssetKey("table_status"), dg.AssetKey("issues"), dg.AssetKey(["ref", "schools"])])
def college_year_status(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One line of health per college and collection year (未报送 > 有错误 > 数据过期 > 部分可用 > 正常), with
    its tables by verdict and its problems by severity: the per-college view of the run."""
    with warehouse.connect() as conn:
        run_sql(conn, "quality/college_year_status")
        counts = health_counts(conn)
        return dg.MaterializeResult(
            metadata={
                **table_summary(conn, TABLE),
                **{f"college_years_{health}": dg.MetadataValue.int(count) for health, count in sorted(counts.items())},
                "needing_attention": attention_table(college_years(conn, NOT_OK)),
            }
        )


@dg.asset_check(asset=KEY, name="every_college_year_usable", blocking=False)
def every_college_year_usable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every college-year judged was delivered and has no error (a WARN: the run and other colleges go on)."""
    with warehouse.connect() as conn:
        unusable = college_years(conn, UNUSABLE, limit=50)
        count = conn.execute(
            f"select count(*) from {TABLE} where list_contains(?, health)", [list(UNUSABLE)]
        ).fetchone()[0]
    listed = "\n".join(
        f"- {row['school_code']} {row['name_zh'] or ''} {row['year']}：{row['health_zh']}（{row['reasons_zh'] or ''}）"
        for row in unusable
    )
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unusable_college_years": dg.MetadataValue.int(count),
            "first_50": dg.MetadataValue.md(listed or "（无 / none）"),
        },
    )
