"""Quality layer: completeness, validity and staleness of the raw data, per college, year and table.

`quality.issues` runs every check once (the expectation suites with Great Expectations and the
SQL checks, see pipelines/checks.py) as of the run's date (`run_options.as_of`); `table_status`
and `element_data_status` derive the verdicts from it. The Dagster asset checks on the raw tables
read `quality.issues` back, so nothing is validated twice. A failing check never fails the run:
the verdicts keep a college's affected indicators out (mart) and leave every other college alone.

The data-quality report pages (per college, and the province summary) are assets of the `site`
group built here, beside the tables they show.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from dashboards.common import remove_stale_pages, write_page
from dashboards.quality_report import (
    CollegeQuality,
    QualityReference,
    build_college_overview_page,
    build_college_year_page,
    build_province_quality_page,
)
from pipelines.catalog import load_catalog
from pipelines.checks import collect_issues, prepare_inputs, quality_params, table_status_params, write_issues
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.settings import collection_deadline
from pipelines.sitebuild import site_build
from pipelines.sql import run_sql, table_summary

RAW_KEYS = [dg.AssetKey(["raw", "ingest_log"])]
REF_KEYS = {name: dg.AssetKey(["ref", name]) for name in (
    "schools", "platform_tables", "diagnostic_elements", "point_platform_codes", "indicator_columns",
)}


def raw_keys() -> list[dg.AssetKey]:
    return [*RAW_KEYS, *(dg.AssetKey(["raw", table.table_name]) for table in load_catalog().tables)]


def severity_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute("select severity, count(*) from quality.issues group by all").fetchall())


@dg.asset(
    key_prefix="quality",
    group_name="quality",
    kinds={"duckdb", "great_expectations"},
    deps=[*raw_keys(), REF_KEYS["schools"], REF_KEYS["platform_tables"], REF_KEYS["indicator_columns"]],
)
def issues(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Every data problem (suites + SQL checks) by college, year, table, check and column, with files,
    rows and Chinese/English messages a college can act on. Deterministic for the same data and as-of date."""
    params = quality_params(run_options.as_of_date())
    with warehouse.connect() as conn:
        write_issues(conn, collect_issues(conn, params))
        counts = severity_counts(conn)
        return dg.MaterializeResult(metadata={
            **table_summary(conn, "quality.issues"),
            "as_of": dg.MetadataValue.text(params.as_of.isoformat()),
            "current_collection_year": dg.MetadataValue.int(params.current_year),
            "errors": dg.MetadataValue.int(counts.get("error", 0)),
            "warnings": dg.MetadataValue.int(counts.get("warn", 0)),
        })


@dg.asset(key_prefix="quality", group_name="quality", kinds={"duckdb"}, deps=[issues])
def table_status(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Per college, year and table: missing > stale > invalid > partial > warn > ok (or optional_absent),
    with the reasons in Chinese; a partial table loses only its bad rows, within its tolerance."""
    params = quality_params(run_options.as_of_date())
    with warehouse.connect() as conn:
        prepare_inputs(conn, params)
        run_sql(conn, "quality/table_status", table_status_params(params.rules))
        counts = dict(conn.execute("select status, count(*) from quality.table_status group by all").fetchall())
        return dg.MaterializeResult(metadata={
            **table_summary(conn, "quality.table_status"),
            **{f"tables_{status}": dg.MetadataValue.int(count) for status, count in sorted(counts.items())},
        })


@dg.asset(key_prefix="quality", group_name="quality", kinds={"duckdb"}, deps=[table_status, REF_KEYS["platform_tables"]])
def excluded_rows(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The rows a partial table leaves out (file and sheet row, the checks that named them); the mart reads without them."""
    with warehouse.connect() as conn:
        run_sql(conn, "quality/excluded_rows")
        return dg.MaterializeResult(metadata=table_summary(conn, "quality.excluded_rows"))


@dg.asset(
    key_prefix="quality",
    group_name="quality",
    kinds={"duckdb"},
    deps=[table_status, REF_KEYS["point_platform_codes"], REF_KEYS["diagnostic_elements"]],
)
def element_data_status(warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Per college, year and diagnostic element: sufficient, insufficient (naming the tables and why)
    or no_data_coverage (its points cite no table)."""
    params = quality_params(run_options.as_of_date())
    with warehouse.connect() as conn:
        prepare_inputs(conn, params)
        run_sql(conn, "quality/element_data_status")
        return dg.MaterializeResult(metadata=table_summary(conn, "quality.element_data_status"))


@dg.asset(key_prefix="quality", group_name="quality", kinds={"duckdb"}, deps=[*RAW_KEYS, REF_KEYS["platform_tables"]])
def unmapped_headers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Headers seen in the colleges' files that map to no catalog column, per year and table: files,
    colleges, sample values and the column each most likely is (`zhengai catalog unmapped`)."""
    with warehouse.connect() as conn:
        run_sql(conn, "raw/ingest_log")
        run_sql(conn, "quality/unmapped_headers")
        return dg.MaterializeResult(metadata=table_summary(conn, "quality.unmapped_headers"))


# --- report pages ---------------------------------------------------------------------------------


def load_reference(conn: duckdb.DuckDBPyConnection, run_options: RunOptions) -> QualityReference:
    params = quality_params(run_options.as_of_date())
    years = [year for (year,) in conn.execute("select distinct year from quality.table_status").fetchall()]
    return QualityReference(
        tables=conn.execute("select table_code, name_zh, required from ref.platform_tables order by table_code").pl(),
        elements=conn.execute("select element_code, element_name from ref.diagnostic_elements order by element_code").pl(),
        as_of=params.as_of,
        current_year=params.current_year,
        deadlines={year: collection_deadline(year) for year in years},
        issues_per_table=int(params.rules["report_issues_per_table"]),
    )


def load_colleges(conn: duckdb.DuckDBPyConnection) -> list[CollegeQuality]:
    """Each college's slice of the three quality tables, read once and split in polars."""
    names = dict(conn.execute("select school_code, name_zh from ref.schools").fetchall())
    status = conn.execute("select * from quality.table_status order by school_code, year, table_code").pl()
    found = conn.execute("select * from quality.issues").pl()
    elements = conn.execute("select * from quality.element_data_status order by school_code, year, element_code").pl()

    def split(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
        return {key: part for (key,), part in frame.partition_by("school_code", as_dict=True).items()}

    by_status, by_issue, by_element = split(status), split(found), split(elements)
    return [
        CollegeQuality(
            school_code=code,
            name_zh=names.get(code),
            table_status=by_status[code],
            issues=by_issue.get(code, found.clear()),
            element_status=by_element.get(code, elements.clear()),
        )
        for code in sorted(by_status)
    ]


def write_college_reports(reference: QualityReference, colleges: list[CollegeQuality], site: Path) -> int:
    """`schools/<code>/quality.html` and `quality-<year>.html` for every college; returns pages written."""
    written = set()
    for college in colleges:
        folder = site / "schools" / college.school_code
        write_page(folder / "quality.html", build_college_overview_page(reference, college))
        written.add(folder / "quality.html")
        for year in sorted(set(college.table_status["year"].to_list())):
            write_page(folder / f"quality-{year}.html", build_college_year_page(reference, college, year))
            written.add(folder / f"quality-{year}.html")
    remove_stale_pages(site, "schools/*/quality*.html", written)
    return len(written)


@dg.asset(
    key_prefix="site",
    group_name="site",
    kinds={"html"},
    deps=[issues, table_status, element_data_status, REF_KEYS["schools"], REF_KEYS["platform_tables"]],
)
def college_quality_reports(context, warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Per college: `schools/<code>/quality.html` (overview) and `quality-<year>.html` (every problem of the
    year grouped by table, with file, rows and what to fix). A college's folder holds only its own data."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        reference = load_reference(conn, run_options)
        colleges = load_colleges(conn)
    pages = write_college_reports(reference, colleges, site)
    return dg.MaterializeResult(metadata={
        "colleges": dg.MetadataValue.int(len(colleges)),
        "pages": dg.MetadataValue.int(pages),
        "path": dg.MetadataValue.path(str(site / "schools")),
    })


@dg.asset(
    key_prefix="site",
    group_name="site",
    kinds={"html"},
    deps=[issues, table_status, unmapped_headers, REF_KEYS["schools"], REF_KEYS["platform_tables"]],
)
def province_quality_report(context, warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """`province/quality.html` for the data officers: which colleges are complete, which are late,
    which tables fail most."""
    target = site_build(context.run_id) / "province" / "quality.html"
    with warehouse.connect() as conn:
        reference = load_reference(conn, run_options)
        page = build_province_quality_page(
            reference,
            conn.execute("select school_code, name_zh from ref.schools").pl(),
            conn.execute("select * from quality.table_status").pl(),
            conn.execute("select * from quality.issues").pl(),
            conn.execute("select * from quality.unmapped_headers").pl(),
        )
    size = write_page(target, page)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(target)), "bytes": dg.MetadataValue.int(size)}
    )
