"""`quality.issues`: every check run once, suites and SQL checks, written in one table."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import polars as pl

from pipelines.catalog import Catalog
from pipelines.quality.calendar import QualityParams
from pipelines.quality.gx_runner import suite_issues
from pipelines.quality.inputs import prepare_inputs
from pipelines.quality.messages import issues_frame
from pipelines.quality.sql_checks import sql_issues
from pipelines.sql import run_sql


def collect_issues(
    conn: duckdb.DuckDBPyConnection,
    params: QualityParams,
    catalog: Catalog | None = None,
    tables: Iterable[str] | None = None,
) -> pl.DataFrame:
    """All issues (suites + SQL checks) for the college-years judged as of `params.as_of`; `tables`
    limits the suites run to those table codes (default: every table)."""
    prepare_inputs(conn, params, catalog)
    return pl.concat([issues_frame(suite_issues(conn, params, catalog, tables)), sql_issues(conn, params)])


def write_issues(conn: duckdb.DuckDBPyConnection, issues: pl.DataFrame) -> None:
    conn.register("issue_rows", issues.to_arrow())
    try:
        run_sql(conn, "quality/issues")
    finally:
        conn.unregister("issue_rows")
