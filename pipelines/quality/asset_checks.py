"""The Dagster asset checks that show the quality verdicts: one per suite on `["raw", <table_name>]`
and one per SQL check file on the table it judges, all computed by one multi-asset check (one step:
37 steps cost ~0.1 s each of Dagster overhead for a few milliseconds of work each).

They validate nothing themselves: each reads back its own rows of `quality.issues` (an additional
dependency, so it runs after the issues are written) and passes when no college has an error
there. They are non-blocking with WARN severity: a bad table at one college never stops the run;
its effect is `quality.table_status`, which keeps that college's affected indicators out
(sql/mart/indicator_values.sql) and leaves other colleges alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

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


def check_counts(conn: duckdb.DuckDBPyConnection, checks: list[CheckSpec]) -> list[pl.DataFrame]:
    """Per check, its `quality.issues` rows counted by college, year and severity, all in one query:
    a check reads the issues of its checks' names (and of its table, for a suite)."""
    if not checks:
        return []
    rows = conn.execute(
        "with checks as (select unnest($tables) as table_code, unnest($names) as names, "
        "generate_subscripts($tables, 1) as check_index) "
        "select check_index, school_code, year, severity, count(*) as issues, sum(failed_count) as failed "
        "from quality.issues inner join checks "
        "on (checks.table_code is null or issues.table_code = checks.table_code) "
        "and list_contains(checks.names, issues.check_name) "
        "group by all order by check_index, school_code, year, severity",
        {"tables": [check.table_code for check in checks], "names": [list(check.names) for check in checks]},
    ).pl()
    return [rows.filter(pl.col("check_index") == index).drop("check_index") for index in range(1, len(checks) + 1)]


def check_result(key: dg.AssetCheckKey, rows: pl.DataFrame) -> dg.AssetCheckResult:
    errors = rows.filter(pl.col("severity") == ERROR)
    worst = errors.sort(["failed", "school_code"], descending=[True, False]).head(WORST_SHOWN)
    table = "\n".join(
        ["| school_code | year | issues | failed rows |", "|---|---|---|---|"]
        + [f"| {r['school_code']} | {r['year']} | {r['issues']} | {r['failed']} |" for r in worst.iter_rows(named=True)]
    )
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
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


class CheckSpec(NamedTuple):
    """One asset check: its Dagster spec and the `quality.issues` rows it reads back (those of its check
    names, and of its table for a suite: `table_code` None for any table)."""

    spec: dg.AssetCheckSpec
    table_code: str | None
    names: tuple[str, ...]


def suite_check(table: CatalogTable) -> CheckSpec:
    """The asset check of one expectation suite, on `["raw", <table_name>]`."""
    suite = load_suite(table.table_name)
    checks = sorted({check_name(item) for item in suite["expectations"]})
    spec = dg.AssetCheckSpec(
        "expectation_suite",
        asset=dg.AssetKey(["raw", table.table_name]),
        description=f"表{table.code} {table.name_zh}: {len(suite['expectations'])} expectations "
        f"(expectations/{table.table_name}.json); passes when no college has an error.",
        additional_deps=[ISSUES_KEY],
        blocking=False,
    )
    return CheckSpec(spec, table.code, tuple(checks))


def sql_check(check: SqlCheck) -> CheckSpec:
    """The asset check of one SQL check file, on the table it judges."""
    spec = dg.AssetCheckSpec(
        check.name,
        asset=dg.AssetKey(list(check.target)),
        description=f"{check.description} (sql/{check.sql_name}.sql)",
        additional_deps=[ISSUES_KEY],
        blocking=False,
    )
    return CheckSpec(spec, None, check.check_names)


def check_specs() -> list[CheckSpec]:
    """One check per expectation suite (on its raw table) and one per SQL check file."""
    catalog = load_catalog()
    return [*(suite_check(table) for table in catalog.tables), *(sql_check(check) for check in SQL_CHECKS)]


def build_asset_checks() -> list[dg.AssetChecksDefinition]:
    """Every check in one multi-asset check: one step (one op) instead of one per check, each check
    still its own key with its own result in the UI, and any subset of them runnable (`can_subset`)."""
    specs = {item.spec.key: item for item in check_specs()}

    @dg.multi_asset_check(
        name="quality_checks",
        specs=[item.spec for item in specs.values()],
        can_subset=True,
        description="Reads the verdicts of the suites and SQL checks back from quality.issues.",
    )
    def quality_checks(context, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        keys = sorted(context.selected_asset_check_keys, key=lambda k: (k.asset_key.path, k.name))
        with warehouse.connect() as conn:
            counts = check_counts(conn, [specs[key] for key in keys])
        for key, rows in zip(keys, counts, strict=True):
            yield check_result(key, rows)

    return [quality_checks]
