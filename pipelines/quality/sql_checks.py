"""The SQL checks (sql/quality/check_*.sql): completeness, staleness, readability, columns and
consistency, each file a union of named checks that write issue rows (pipelines/quality/messages.py).

They run over every college-year at each run, not only the changed ones (unlike the suites, see
cache.py): they read mostly raw.ingest_log, and all five cost 0.13 s CPU for 300 colleges × 1 year
(the verdict tables table_status, excluded_rows and element_data_status 0.05 s together; measured
2026-11-29 on one DuckDB thread), less than fingerprinting their inputs would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from pipelines.quality.calendar import QualityParams
from pipelines.quality.messages import as_issue_columns
from pipelines.sql import load_sql, run_sql

CHECK_NAME = re.compile(r"'([a-z_]+)' as check_name")


@dataclass(frozen=True)
class SqlCheck:
    """One file of SQL checks, shown as an asset check on the raw table it judges."""

    name: str
    target: tuple[str, ...]
    description: str

    @property
    def sql_name(self) -> str:
        return f"quality/check_{self.name}"

    @property
    def check_names(self) -> tuple[str, ...]:
        """The checks the file names (`'<check>' as check_name`): the file is their one list."""
        return tuple(CHECK_NAME.findall(load_sql(self.sql_name)))


SQL_CHECKS = (
    SqlCheck(
        "completeness",
        ("raw", "ingest_log"),
        "Every college active in a year delivered every required table (quarantined files count as missing).",
    ),
    SqlCheck(
        "staleness",
        ("raw", "ingest_log"),
        "Data are current: latest year delivered, 学年 in the title, export date against the 学年 end and deadline.",
    ),
    SqlCheck(
        "readability",
        ("raw", "ingest_log"),
        "Cells the ingest could not type, headers it did not recognise, formulas without a calculated value.",
    ),
    SqlCheck(
        "columns",
        ("raw", "ingest_log"),
        "Catalog columns a file lacks (NULL; an error where an indicator reads them) and unit conversions.",
    ),
    SqlCheck(
        "consistency",
        ("raw", "funding_expenditure"),
        "Totals agree: 1.3.2 full-time students vs the 7.1 sum, 5.2 items vs 支出合计.",
    ),
)


def bound(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters `sql/<name>.sql` uses (DuckDB refuses unused named parameters)."""
    used = set(re.findall(r"\$([a-z_]+)", load_sql(name)))
    return {key: value for key, value in params.items() if key in used}


def sql_issues(conn: duckdb.DuckDBPyConnection, params: QualityParams) -> pl.DataFrame:
    """The issues of every SQL check file, in the issue columns (needs `prepare_inputs` first)."""
    return pl.concat(
        [
            as_issue_columns(run_sql(conn, check.sql_name, bound(check.sql_name, params.sql())).pl())
            for check in SQL_CHECKS
        ]
    )
