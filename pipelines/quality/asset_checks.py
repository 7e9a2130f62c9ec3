"""The Dagster asset checks that show the quality verdicts: one per suite on `["raw", <table_name>]`
and one per SQL check file on the table it judges.

They validate nothing themselves: each reads back its own rows of `quality.issues` (an additional
dependency, so it runs after the issues are written) and passes when no college has an error
there. They are non-blocking with WARN severity: a bad table at one college never stops the run;
its effect is `quality.table_status`, which keeps that college's affected indicators out
(sql/mart/indicator_values.sql) and leaves other colleges alone.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import polars as pl

from pipelines.catalog import CatalogTable, load_catalog
from pipelines.quality.messages import ERROR, WARN, check_name
from pipelines.quality.sql_checks import SQL_CHECKS, SqlCheck
from pipelines.quality.suites import load_suite
from pipelines.resources import WarehouseResource

ISSUES_KEY = dg.AssetKey(["quality", "issues"])
WORST_SHOWN = 10


def check_result(conn: duckdb.DuckDBPyConnection, where: str, params: list) -> dg.AssetCheckResult:
    rows = conn.execute(
        "select school_code, year, severity, count(*) as issues, sum(failed_count) as failed "
        f"from quality.issues where {where} group by all order by school_code, year, severity",
        params,
    ).pl()
    errors = rows.filter(pl.col("severity") == ERROR)
    worst = errors.sort(["failed", "school_code"], descending=[True, False]).head(WORST_SHOWN)
    table = "\n".join(
        ["| school_code | year | issues | failed rows |", "|---|---|---|---|"]
        + [f"| {r['school_code']} | {r['year']} | {r['issues']} | {r['failed']} |" for r in worst.iter_rows(named=True)]
    )
    return dg.AssetCheckResult(
        passed=errors.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "colleges_with_errors": dg.MetadataValue.int(errors["school_code"].n_unique()),
            "error_issues": dg.MetadataValue.int(int(errors["issues"].sum() or 0)),
            "warn_issues": dg.MetadataValue.int(int(rows.filter(pl.col("severity") == WARN)["issues"].sum() or 0)),
            "worst_colleges": dg.MetadataValue.md(table if worst.height else "(none)"),
            "details": dg.MetadataValue.text("see quality.issues and site/schools/<code>/quality.html"),
        },
    )


def suite_check(table: CatalogTable) -> dg.AssetChecksDefinition:
    """The asset check of one expectation suite, on `["raw", <table_name>]`."""
    suite = load_suite(table.table_name)
    checks = sorted({check_name(item) for item in suite["expectations"]})

    @dg.asset_check(
        asset=dg.AssetKey(["raw", table.table_name]),
        name="expectation_suite",
        description=f"表{table.code} {table.name_zh}: {len(suite['expectations'])} expectations "
        f"(expectations/{table.table_name}.json); passes when no college has an error.",
        additional_deps=[ISSUES_KEY],
        blocking=False,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return check_result(conn, "table_code = ? and list_contains(?, check_name)", [table.code, checks])

    return _check


def sql_check(check: SqlCheck) -> dg.AssetChecksDefinition:
    """The asset check of one SQL check file, on the table it judges."""
    names = list(check.check_names)

    @dg.asset_check(
        asset=dg.AssetKey(list(check.target)),
        name=check.name,
        description=f"{check.description} (sql/{check.sql_name}.sql)",
        additional_deps=[ISSUES_KEY],
        blocking=False,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return check_result(conn, "list_contains(?, check_name)", [names])

    return _check


def build_asset_checks() -> list:
    """One asset check per expectation suite (on its raw table) and one per SQL check file."""
    catalog = load_catalog()
    return [*(suite_check(table) for table in catalog.tables), *(sql_check(check) for check in SQL_CHECKS)]
