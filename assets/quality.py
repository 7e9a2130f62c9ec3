"""Quality layer: completeness, validity and staleness of the raw data, per college, year and table.

`quality.issues` runs every check once (the expectation suites with Great Expectations and the
SQL checks, see pipelines/quality/) as of the run's date (`run_options.as_of`); `table_status`
and `element_data_status` derive the verdicts from it. The Dagster asset checks on the raw tables
read `quality.issues` back, so nothing is validated twice. A failing check never fails the run:
the verdicts keep a college's affected indicators out (mart) and leave every other college alone.

The data-quality report pages (per college, and the province summary) are in assets/site.py.
`build_quality_tables` builds the layer outside Dagster with the same functions (tests, benchmarks).
"""

from __future__ import annotations

import dagster as dg
import duckdb

from assets.sql_tables import Layer, SqlTable, build_tables, table_assets
from pipelines.catalog import Catalog, load_catalog
from pipelines.quality.calendar import QualityParams, quality_params
from pipelines.quality.inputs import prepare_inputs
from pipelines.quality.issues import collect_issues, write_issues
from pipelines.quality.rules import table_status_params
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.sql import run_sql, table_summary

RAW_KEYS = [dg.AssetKey(["raw", "ingest_log"])]
ISSUES, TABLE_STATUS = dg.AssetKey("issues"), dg.AssetKey("table_status")  # prefixed in pipelines/definitions.py
REF_KEYS = {
    name: dg.AssetKey(["ref", name])
    for name in (
        "schools",
        "platform_tables",
        "diagnostic_elements",
        "point_platform_codes",
        "indicator_columns",
    )
}


def raw_keys() -> list[dg.AssetKey]:
    return [*RAW_KEYS, *(dg.AssetKey(["raw", table.table_name]) for table in load_catalog().tables)]


def severity_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute("select severity, count(*) from quality.issues group by all").fetchall())


def build_issues(conn, params: QualityParams, catalog: Catalog | None = None, suites=None) -> None:
    """`quality.issues`: every check once (`suites` limits the expectation suites to those table codes)."""
    write_issues(conn, collect_issues(conn, params, catalog, suites))


def build_table_status(conn, params: QualityParams, catalog: Catalog | None = None) -> None:
    prepare_inputs(conn, params, catalog)
    run_sql(conn, "quality/table_status", table_status_params(params.rules))


def build_element_data_status(conn) -> None:
    """Needs `quality.table_status` (its college-years), not the temporary inputs."""
    run_sql(conn, "quality/element_data_status")


def build_quality_tables(conn, params: QualityParams, catalog: Catalog | None = None, suites=None) -> None:
    """The quality layer's verdict tables, in the order of the assets' deps, outside Dagster."""
    build_issues(conn, params, catalog, suites)
    build_table_status(conn, params, catalog)
    build_tables(conn, LAYER)
    build_element_data_status(conn)


@dg.asset(
    kinds={"duckdb", "great_expectations"},
    deps=[*raw_keys(), REF_KEYS["schools"], REF_KEYS["platform_tables"], REF_KEYS["indicator_columns"]],
)
def issues(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Every data problem (suites + SQL checks) by college, year, table, check and column, with files,
    rows and Chinese/English messages a college can act on. Deterministic for the same data and as-of date."""
    params = quality_params(run_options.as_of_date())
    with warehouse.connect() as conn:
        build_issues(conn, params)
        counts = severity_counts(conn)
        return dg.MaterializeResult(
            metadata={
                **table_summary(conn, "quality.issues"),
                "as_of": dg.MetadataValue.text(params.as_of.isoformat()),
                "current_collection_year": dg.MetadataValue.int(params.current_year),
                "errors": dg.MetadataValue.int(counts.get("error", 0)),
                "warnings": dg.MetadataValue.int(counts.get("warn", 0)),
            }
        )


@dg.asset(kinds={"duckdb"}, deps=[ISSUES])
def table_status(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Per college, year and table: missing > stale > invalid > partial > warn > ok (or optional_absent),
    with the reasons in Chinese; a partial table loses only its bad rows, within its tolerance."""
    with warehouse.connect() as conn:
        build_table_status(conn, quality_params(run_options.as_of_date()))
        counts = dict(conn.execute("select status, count(*) from quality.table_status group by all").fetchall())
        return dg.MaterializeResult(
            metadata={
                **table_summary(conn, "quality.table_status"),
                **{f"tables_{status}": dg.MetadataValue.int(count) for status, count in sorted(counts.items())},
            }
        )


# The quality tables that are one SQL file with no inputs but tables.
LAYER = Layer(
    "quality",
    (
        SqlTable(
            "excluded_rows",
            "The rows a partial table leaves out (file and sheet row, the checks that named them); "
            "the mart reads without them.",
            deps=("table_status", "ref/platform_tables"),
        ),
    ),
)
ASSETS = table_assets(LAYER)
# module attribute by table name, so that a test or a job can name the asset (`quality.excluded_rows`)
(excluded_rows,) = ASSETS


@dg.asset(kinds={"duckdb"}, deps=[TABLE_STATUS, REF_KEYS["point_platform_codes"], REF_KEYS["diagnostic_elements"]])
def element_data_status(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per college, year and diagnostic element: sufficient, insufficient (naming the tables and why)
    or no_data_coverage (its points cite no table)."""
    with warehouse.connect() as conn:
        build_element_data_status(conn)
        return dg.MaterializeResult(metadata=table_summary(conn, "quality.element_data_status"))


@dg.asset(kinds={"duckdb"}, deps=[*RAW_KEYS, REF_KEYS["platform_tables"]])
def unmapped_headers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Headers seen in the colleges' files that map to no catalog column, per year and table: files,
    colleges, sample values and the column each most likely is (`zhengai catalog unmapped`)."""
    with warehouse.connect() as conn:
        run_sql(conn, "raw/ingest_log")
        run_sql(conn, "quality/unmapped_headers")
        return dg.MaterializeResult(metadata=table_summary(conn, "quality.unmapped_headers"))
