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


def check_result(
    conn: duckdb.DuckDBPyConnection, key: dg.AssetCheckKey, where: str, params: list
) -> dg.AssetCheckResult:
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
    """One asset check: its Dagster spec and the `quality.issues` rows it reads back (where, params)."""

    spec: dg.AssetCheckSpec
    where: str
    params: list


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
    return CheckSpec(spec, "table_code = ? and list_contains(?, check_name)", [table.code, checks])


def sql_check(check: SqlCheck) -> CheckSpec:
    """The asset check of one SQL check file, on the table it judges."""
    spec = dg.AssetCheckSpec(
        check.name,
        asset=dg.AssetKey(list(check.target)),
        description=f"{check.description} (sql/{check.sql_name}.sql)",
        additional_deps=[ISSUES_KEY],
        blocking=False,
    )
    return CheckSpec(spec, "list_contains(?, check_name)", [list(check.check_names)])


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
        with warehouse.connect() as conn:
            for key in sorted(context.selected_asset_check_keys, key=lambda k: (k.asset_key.path, k.name)):
                yield check_result(conn, key, specs[key].where, specs[key].params)

    return [quality_checks]
