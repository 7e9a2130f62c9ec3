"""Data-quality checks: the expectation suites (expectations/*.json, run with Great Expectations on
pandas frames) and the SQL checks (sql/quality/check_*.sql), and the Dagster asset checks that
show their verdicts.

Design: the validations run **once**, inside the `quality.issues` asset (`collect_issues`), which
writes every problem, attributed to its college, year, table, file and rows, to `quality.issues`.
The asset checks built here (`build_asset_checks`) are for visibility in Dagster: one per suite on
`["raw", <table_name>]` and one per SQL check on the table it judges; each reads back its own rows
of `quality.issues` (an additional dependency, so it runs after the issues are written) and
passes when no college has an `error` there. They are non-blocking with WARN severity: a bad
table at one college never stops the run; its effect is `quality.table_status`, which keeps that
college's affected indicators out (sql/mart/indicator_values.sql) and leaves other colleges alone.

Tolerances: an expectation's `mostly` is applied per college and year. Failing rows are always
reported; they are an `error` when the share of failing rows in that college's table exceeds
1 - mostly, else a `warn` (an expectation without `mostly` makes every failure an error, unless
its meta says `severity: warn`).

Speed: suite results are cached per table, college and year in `quality.suite_results_cache`
(`suite_issues`), so a run re-validates only the college-years whose rows, suite, rules or this
code changed; a run on an unchanged warehouse never imports GX. A cold validation reads each
table in frames of whole colleges (text as pyarrow strings), screens the suite with
result_format BOOLEAN_ONLY and re-runs only the expectations that found a failing row with
COMPLETE (`validate_table`). See benchmarks/bench_quality.py for the figures.

Collection year: collection year Y covers the 学年 ending 31 August Y and is due by the deadline
(`ZHENGAI_COLLECTION_DEADLINE`, default 10-31) of year Y. Judged as of a date D, the current
collection year is D.year when D is on or after that year's deadline, else D.year - 1: before
the deadline colleges may still be submitting year D.year, so it is not yet overdue (the year is
"open": a college is judged on it once it has delivered something, and its missing tables are
warnings). Example: as of 2024-10-31 or 2024-12-01 the current year is 2024; as of 2024-10-30 it
is 2023.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa

from pipelines.catalog import Catalog, CatalogTable, create_raw_tables, load_catalog
from pipelines.resources import WarehouseResource
from pipelines.settings import collection_deadline
from pipelines.sql import load_sql, run_sql
from pipelines.quality.suites import DERIVED_COLUMNS, load_quality_rules, load_suite

ISSUE_COLUMNS = {
    "school_code": pl.String,
    "year": pl.Int32,
    "table_code": pl.String,
    "column_name": pl.String,
    "check_name": pl.String,
    "severity": pl.String,
    "failed_count": pl.Int64,
    "samples": pl.String,
    "message_zh": pl.String,
    "message_en": pl.String,
    "summary_zh": pl.String,
    "source_file": pl.String,
    # every failing row of a row-level expectation (the messages show only the first few): the rows a
    # usable table leaves out (sql/quality/excluded_rows.sql); empty for table-level checks
    "row_keys": pl.List(pl.Struct({"source_file": pl.String, "row_no": pl.Int64})),
}
ISSUES_KEY = dg.AssetKey(["quality", "issues"])
LINEAGE = ["school_code", "year", "source_file", "row_no"]
SAMPLE_VALUES = 5


@dataclass(frozen=True)
class SqlCheck:
    """One file of SQL checks, shown as an asset check on the raw table it judges."""

    name: str
    target: tuple[str, ...]
    check_names: tuple[str, ...]
    description: str


SQL_CHECKS = (
    SqlCheck("completeness", ("raw", "ingest_log"), ("missing_table", "quarantined_file"),
             "Every college active in a year delivered every required table (quarantined files count as missing)."),
    SqlCheck("staleness", ("raw", "ingest_log"),
             ("college_outdated", "stale_period", "period_unknown", "early_export", "late_export"),
             "Data are current: latest year delivered, 学年 in the title, export date against the 学年 end and deadline."),
    SqlCheck("readability", ("raw", "ingest_log"), ("unreadable_cells", "unknown_columns", "uncomputed_formulas"),
             "Cells the ingest could not type, headers it did not recognise, formulas without a calculated value."),
    SqlCheck("columns", ("raw", "ingest_log"), ("missing_column", "unit_conversion"),
             "Catalog columns a file lacks (NULL; an error where an indicator reads them) and unit conversions."),
    SqlCheck("consistency", ("raw", "funding_expenditure"), ("students_total", "expenditure_total"),
             "Totals agree: 1.3.2 full-time students vs the 7.1 sum, 5.2 items vs 支出合计."),
)


@dataclass(frozen=True)
class QualityParams:
    as_of: dt.date
    current_year: int
    deadline: dt.date
    rules: dict[str, float]

    def sql(self) -> dict[str, Any]:
        return {
            "current_year": self.current_year,
            "deadline_month": self.deadline.month,
            "deadline_day": self.deadline.day,
            "students_tolerance": self.rules["students_tolerance_share"],
            "expenditure_tolerance_wan": self.rules["expenditure_tolerance_wan"],
            "expenditure_tolerance_share": self.rules["expenditure_tolerance_share"],
        }


EXCLUDED_ROWS_SHARE = "excluded_rows_share"


def table_status_params(rules: dict[str, float]) -> dict[str, Any]:
    """The bound parameters of sql/quality/table_status.sql: the reasons shown, and the share of bad rows
    a table may lose before it is judged invalid (`excluded_rows_share`, per table `excluded_rows_share.<code>`)."""
    prefix = f"{EXCLUDED_ROWS_SHARE}."
    per_table = {name[len(prefix):]: share for name, share in sorted(rules.items()) if name.startswith(prefix)}
    return {
        "max_reasons": int(rules["status_reasons"]),
        "excluded_rows_share": rules[EXCLUDED_ROWS_SHARE],
        "tolerance_tables": list(per_table),
        "tolerance_shares": list(per_table.values()),
    }


def current_collection_year(as_of: dt.date) -> int:
    """The latest collection year whose deadline has passed on `as_of` (see the module docstring)."""
    return as_of.year if as_of >= collection_deadline(as_of.year) else as_of.year - 1


def quality_params(as_of: dt.date) -> QualityParams:
    year = current_collection_year(as_of)
    return QualityParams(as_of=as_of, current_year=year, deadline=collection_deadline(year), rules=load_quality_rules())


# --- inputs ---------------------------------------------------------------------------------------


def prepare_inputs(conn: duckdb.DuckDBPyConnection, params: QualityParams, catalog: Catalog | None = None) -> None:
    """Temp tables `delivered_tables` and `college_years` for this connection's checks.

    The raw tables and `raw.ingest_log` are created empty if the ingest has not made them yet, so a
    warehouse with no deliveries judges every active college's tables missing.
    """
    catalog = catalog or load_catalog()
    create_raw_tables(conn, catalog)
    run_sql(conn, "raw/ingest_log")
    selects = [
        f"select distinct school_code, year, '{table.code}' as table_code from raw.\"{table.table_name}\""
        for table in catalog.tables
    ]
    selects.append(
        "select distinct school_code, year, table_code from raw.ingest_log "
        "where status in ('loaded', 'unchanged') and table_code is not null"
    )
    conn.execute("create or replace temp table delivered_tables as " + " union ".join(selects))
    counts = [
        f"select school_code, year, '{table.code}' as table_code, count(*) as row_count "
        f"from raw.\"{table.table_name}\" group by all"
        for table in catalog.tables
    ]
    conn.execute("create or replace temp table table_rows as " + " union all ".join(counts))
    run_sql(conn, "quality/college_years", {"current_year": params.current_year})


def validated_columns(table: CatalogTable) -> list[str]:
    """The raw columns a suite sees (catalog columns and lineage; derived columns are computed from them)."""
    return [f'"{column.name}"' for column in table.columns] + [f'"{name}"' for name in LINEAGE]


def table_frames(
    conn: duckdb.DuckDBPyConnection, table: CatalogTable, max_rows: int, scope: str = "college_years"
) -> Iterator[pd.DataFrame]:
    """`raw.<table>` as pandas (catalog columns, derived columns, lineage) in a fixed row order, in
    frames of whole colleges holding about `max_rows` rows (every expectation is row-wise or within a
    college and year, so a frame never needs another college's rows), for the college-years of the
    temp table `scope` (school_code, year). Each frame is one query on a range of college codes; the
    raw tables are written college by college, so DuckDB's zone maps skip the other colleges' row
    groups and memory stays flat however many colleges there are."""
    names = {column.name for column in table.columns}
    derived = [
        f'{spec.expression} as "{name}"' for name, spec in DERIVED_COLUMNS.items() if spec.source in names
    ]
    columns = [f'"{column.name}"' for column in table.columns] + derived + [f'"{name}"' for name in LINEAGE]
    source = f'raw."{table.table_name}" semi join {scope} using (school_code, year)'
    counts = conn.execute(f"select school_code, count(*) from {source} group by all order by 1").fetchall()
    ranges: list[tuple[str, str]] = []
    first, held = None, 0
    for code, rows in counts:
        if first is not None and held + rows > max_rows:
            ranges.append((first, last))
            first, held = None, 0
        first = code if first is None else first
        last, held = code, held + rows
    if first is not None:
        ranges.append((first, last))
    for low, high in ranges:
        table_rows = conn.execute(
            f'select {", ".join(columns)} from {source} where school_code between ? and ? '
            "order by school_code, year, source_file, row_no",
            [low, high],
        ).to_arrow_table()
        yield with_row_ids(pandas_frame(conn, table_rows))


def pandas_frame(conn: duckdb.DuckDBPyConnection, table_rows: pa.Table) -> pd.DataFrame:
    """`table_rows` as pandas: text columns as pyarrow-backed strings (`string[pyarrow]`: no Python
    object per cell, and null tests are vectorised, several times faster to build and validate than
    DuckDB's object columns), every other column as DuckDB's `.df()` types it (datetime64, nullable
    boolean, float for nullable numbers)."""
    texts = [field.name for field in table_rows.schema if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)]
    frame = conn.from_arrow(table_rows.drop_columns(texts)).df()
    for name in texts:
        frame[name] = table_rows.column(name).to_pandas(types_mapper=lambda _: pd.StringDtype("pyarrow"))
    return frame[list(table_rows.column_names)]


def with_row_ids(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, "_rid", range(len(frame)))
    return frame


# --- expectation suites ---------------------------------------------------------------------------


def gx_context():
    """An ephemeral GX context: in memory, no analytics, no progress bars, and no batch fingerprint.

    GX's pandas engine hashes every batch's frame (`pandas_data_fingerprint`, a batch marker for
    its data docs) when the frame's shallow size is under `HASH_THRESHOLD`; for our frames that
    hash (pandas `hash_pandas_object` on every string column, redone at each validate) costs more
    than the validations themselves. Nothing here reads the marker, so the threshold is set to 0."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def gx_suite(suite: dict, screening: bool = False):
    """`suite` as a GX suite; `screening` drops every `mostly` and replaces each meta by the
    expectation's index, so an expectation passes exactly when no row fails it (the first pass)."""
    import great_expectations as gx

    def build(index: int, item: dict):
        kwargs = {k: v for k, v in item["kwargs"].items() if not (screening and k == "mostly")}
        meta = {"index": index} if screening else item.get("meta") or {}
        return gx.expectations.registry.get_expectation_impl(item["type"])(**kwargs, meta=meta)

    return gx.ExpectationSuite(
        name=suite["name"],
        expectations=[build(index, item) for index, item in enumerate(suite["expectations"])],
        meta=suite.get("meta") or {},
    )


def value_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "空"
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "是" if value else "否"
    try:
        if pd.isna(value):
            return "空"
    except (TypeError, ValueError):
        pass
    return str(value)


def rows_text(row_nos: list[int], limit: int) -> tuple[str, str]:
    shown = [str(n) for n in row_nos[:limit]]
    more_zh = f" 等 {len(row_nos)} 行" if len(row_nos) > limit else ""
    more_en = f" and {len(row_nos) - limit} more" if len(row_nos) > limit else ""
    return "、".join(shown) + more_zh, ", ".join(shown) + more_en


def sample_columns(kwargs: dict, meta: dict) -> list[str]:
    """The columns whose values illustrate a failure (the key, the pair, or the column itself)."""
    if "column_list" in kwargs:
        return [name for name in kwargs["column_list"] if name not in ("school_code", "year")]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    column = kwargs.get("column")
    if column in DERIVED_COLUMNS:
        return [DERIVED_COLUMNS[column].source]
    return [column] if column else []


def sample_text(rows: pd.DataFrame, columns: list[str]) -> str:
    seen: list[str] = []
    for values in rows[columns].itertuples(index=False):
        shown = "/".join(value_text(value) for value in values)
        if shown not in seen:
            seen.append(shown)
        if len(seen) >= SAMPLE_VALUES:
            break
    return "、".join(seen)


def expectation_issues(
    table: CatalogTable, expectation: dict, failing: pd.DataFrame, totals: pd.Series, sample_rows: int
) -> list[dict]:
    """Issue rows for one failed expectation: one per college and year with failing rows."""
    kwargs, meta = expectation["kwargs"], expectation.get("meta") or {}
    mostly = float(kwargs.get("mostly", 1.0))
    columns = sample_columns(kwargs, meta)
    column = meta.get("column") or (columns[0] if columns else None)
    issues = []
    for (school, year), rows in failing.groupby(["school_code", "year"], sort=True):
        row_nos = sorted(int(n) for n in rows["row_no"].dropna())
        count = len(rows)
        share = count / max(int(totals.get((school, year), count)), 1)
        severity = "warn" if meta.get("severity") == "warn" or share <= 1 - mostly else "error"
        rows_zh, rows_en = rows_text(row_nos, sample_rows)
        samples = sample_text(rows, columns) if columns else ""
        files = "；".join(sorted(set(rows["source_file"].dropna())))
        where_zh = f" 第 {rows_zh} 行" if row_nos else ""
        where_en = f" rows {rows_en}" if row_nos else ""
        detail = f"（{samples}）" if samples else ""
        tolerance = f"（{count} 行，占 {share:.1%}，在容差 {1 - mostly:.0%} 以内）" if severity == "warn" and mostly < 1 else ""
        issues.append({
            "school_code": school,
            "year": int(year),
            "table_code": table.code,
            "column_name": column,
            "check_name": meta.get("check", expectation["type"]),
            "severity": severity,
            "failed_count": count,
            "samples": samples or rows_zh,
            "message_zh": f"表{table.code} {table.name_zh}{where_zh} {meta.get('problem_zh', meta.get('rule_zh', ''))}"
                          f"{detail}{tolerance}，{meta.get('fix_zh', '请核对后重新导出')}",
            "message_en": f"table {table.code}{where_en}: {meta.get('problem_en', meta.get('rule_en', ''))}"
                          f"{' (' + samples + ')' if samples else ''}; {meta.get('fix_en', 'check and export again')}",
            "summary_zh": f"{meta.get('problem_zh', meta.get('check', ''))} {count} 行",
            "source_file": files,
            "row_keys": [
                {"source_file": source_file, "row_no": int(row_no)}
                for source_file, row_no in rows[["source_file", "row_no"]].drop_duplicates().itertuples(index=False)
                if row_no is not None and not pd.isna(row_no)
            ],
        })
    return issues


FRAMES_SOURCE = "zhengai_frames"


def frame_batch(context, frame: pd.DataFrame):
    """A GX batch of `frame` through one pandas data source, dataframe asset and whole-frame batch
    definition created once per context (`read_dataframe` re-creates an asset at every call)."""
    sources = context.data_sources.all()
    if FRAMES_SOURCE in sources:
        definition = sources[FRAMES_SOURCE].get_asset("frames").get_batch_definition("whole")
    else:
        asset = context.data_sources.add_pandas(FRAMES_SOURCE).add_dataframe_asset("frames")
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": frame})


def validate_table(context, table: CatalogTable, suite: dict, frame: pd.DataFrame, sample_rows: int) -> list[dict]:
    """Run `suite` on `frame` with GX → issue rows. Two passes on one batch: every expectation
    without `mostly` and with result_format BOOLEAN_ONLY (cheap: no unexpected lists), then only
    those that found a failing row, as written and with result_format COMPLETE (rows identified by
    `_rid`). The issues are those of a single COMPLETE pass: an expectation that passes without
    `mostly` has no failing row, so COMPLETE would have reported nothing for it."""
    if frame.empty:
        return []
    batch = frame_batch(context, frame)
    screened = batch.validate(gx_suite(suite, screening=True), result_format="BOOLEAN_ONLY")
    failing = sorted(
        int(outcome.expectation_config.meta["index"]) for outcome in screened.results
        if not outcome.success or (outcome.exception_info or {}).get("raised_exception")
    )
    if not failing:
        return []
    suite = {**suite, "expectations": [suite["expectations"][index] for index in failing]}
    result = batch.validate(
        gx_suite(suite), result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_rid"]}
    )
    totals = frame.groupby(["school_code", "year"]).size()
    issues = []
    for outcome in result.results:
        config = outcome.expectation_config
        expectation = {"type": config.type, "kwargs": dict(config.kwargs), "meta": dict(config.meta or {})}
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"suite {suite['name']}: {config.type} on {config.kwargs} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        if outcome.success and not outcome.result.get("unexpected_count"):
            continue
        index = outcome.result.get("unexpected_index_list")
        if index is None:
            # A column-level expectation (type): every college-year in the table is affected.
            failing = frame.drop_duplicates(["school_code", "year"]).assign(row_no=None)
        else:
            rids = sorted({int(item["_rid"]) for item in index})
            failing = frame.iloc[rids]
        issues.extend(expectation_issues(table, expectation, failing, totals, sample_rows))
    return issues


class LazyContext:
    """The GX context, created (and GX imported) the first time a frame needs validating, so a run
    whose every result comes from the cache never imports GX."""

    def __init__(self) -> None:
        self.context = None

    def get(self):
        if self.context is None:
            self.context = gx_context()
        return self.context


@lru_cache(maxsize=1)
def code_version() -> str:
    """This module's source and the versions of the libraries validating (read once per process)."""
    libraries = ",".join(package_version(name) for name in ("great_expectations", "pandas", "pyarrow", "duckdb"))
    return hashlib.sha256(Path(__file__).read_bytes() + libraries.encode()).hexdigest()


def suite_version(table: CatalogTable, suite: dict, rules: dict[str, float]) -> str:
    """A digest of everything but the rows that a table's suite results depend on."""
    parts = [
        code_version().encode(),
        json.dumps(suite, ensure_ascii=False, sort_keys=True).encode(),
        json.dumps({k: v for k, v in sorted(rules.items()) if k != "suite_chunk_rows"}).encode(),
        repr([(column.name, column.type) for column in table.columns]).encode(),
        repr(sorted((name, spec.source, spec.expression) for name, spec in DERIVED_COLUMNS.items())).encode(),
    ]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def row_fingerprints(conn: duckdb.DuckDBPyConnection, table: CatalogTable, version: str) -> dict[tuple[str, int], str]:
    """Per judged college-year of `raw.<table>`: SHA-256 of the suite version, the row count, a DuckDB
    hash of the validated columns summed over the rows, and the distinct source files' SHA-256."""
    rows = conn.execute(
        f"select school_code, year, count(*), sum(hash({', '.join(validated_columns(table))})::hugeint)::varchar, "
        "string_agg(distinct file_sha256, ',' order by file_sha256) "
        f'from raw."{table.table_name}" semi join college_years using (school_code, year) group by all'
    ).fetchall()
    return {
        (school, int(year)): hashlib.sha256(f"{version}|{count}|{total}|{files}".encode()).hexdigest()
        for school, year, count, total, files in rows
    }


def cached_results(conn: duckdb.DuckDBPyConnection, table: CatalogTable) -> dict[tuple[str, int], tuple[str, str]]:
    rows = conn.execute(
        "select school_code, year, fingerprint, issues from quality.suite_results_cache where table_name = ?",
        [table.table_name],
    ).fetchall()
    return {(school, int(year)): (fingerprint, issues) for school, year, fingerprint, issues in rows}


def store_results(
    conn: duckdb.DuckDBPyConnection, table: CatalogTable, fingerprints: dict[tuple[str, int], str], issues: list[dict]
) -> None:
    """Replace the cache entries of the college-years in `fingerprints` by their `issues`."""
    by_key: dict[tuple[str, int], list[dict]] = {key: [] for key in fingerprints}
    for issue in issues:
        by_key[(issue["school_code"], issue["year"])].append(issue)
    entries = pl.DataFrame(
        [
            {"table_name": table.table_name, "school_code": school, "year": year, "fingerprint": fingerprints[(school, year)],
             "issues": json.dumps(found, ensure_ascii=False)}
            for (school, year), found in sorted(by_key.items())
        ],
        schema={"table_name": pl.String, "school_code": pl.String, "year": pl.Int32, "fingerprint": pl.String,
                "issues": pl.String},
    )
    conn.register("suite_cache_rows", entries.to_arrow())
    try:
        conn.execute(
            "delete from quality.suite_results_cache as c using suite_cache_rows as n "
            "where c.table_name = n.table_name and c.school_code = n.school_code and c.year = n.year"
        )
        conn.execute("insert into quality.suite_results_cache by name select * from suite_cache_rows")
    finally:
        conn.unregister("suite_cache_rows")


def suite_issues(
    conn: duckdb.DuckDBPyConnection, params: QualityParams, catalog: Catalog | None = None,
    tables: Iterable[str] | None = None, cache: bool = True,
) -> list[dict]:
    """Every catalogued table's suite (or only those of the table codes `tables`), validated on its
    raw rows of the college-years judged (temp table `college_years`, see `prepare_inputs`).

    With `cache`, results are kept per table, college and year in `quality.suite_results_cache`
    (sql/quality/suite_results_cache.sql) under a fingerprint of the suite, the rules, this code
    and the rows; only college-years whose fingerprint changed are validated again, and a run whose
    every result is cached never imports GX. The issues are the same with or without the cache.
    Tables without judged rows are skipped."""
    catalog = catalog or load_catalog()
    selected = [table for table in catalog.tables if tables is None or table.code in set(tables)]
    if not selected:
        return []
    context = LazyContext()
    sample_rows = int(params.rules["sample_rows"])
    chunk_rows = int(params.rules["suite_chunk_rows"])
    if cache:
        run_sql(conn, "quality/suite_results_cache")
    issues: list[dict] = []
    for table in selected:
        suite = load_suite(table.table_name)
        if not cache:
            for frame in table_frames(conn, table, chunk_rows):
                issues.extend(validate_table(context.get(), table, suite, frame, sample_rows))
            continue
        fingerprints = row_fingerprints(conn, table, suite_version(table, suite, params.rules))
        cached = cached_results(conn, table)
        stale = {key: value for key, value in fingerprints.items() if cached.get(key, (None,))[0] != value}
        for key in sorted(fingerprints.keys() - stale.keys()):
            issues.extend(json.loads(cached[key][1]))
        if not stale:
            continue
        pending = pl.DataFrame(sorted(stale), schema={"school_code": pl.String, "year": pl.Int32}, orient="row")
        conn.register("suite_pending_rows", pending.to_arrow())
        try:
            conn.execute("create or replace temp table suite_pending as select * from suite_pending_rows")
        finally:
            conn.unregister("suite_pending_rows")
        found: list[dict] = []
        for frame in table_frames(conn, table, chunk_rows, scope="suite_pending"):
            found.extend(validate_table(context.get(), table, suite, frame, sample_rows))
        store_results(conn, table, stale, found)
        issues.extend(found)
    return issues


# --- SQL checks -----------------------------------------------------------------------------------


def bound(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters `sql/<name>.sql` uses (DuckDB refuses unused named parameters)."""
    used = set(re.findall(r"\$([a-z_]+)", load_sql(name)))
    return {key: value for key, value in params.items() if key in used}


def sql_issues(conn: duckdb.DuckDBPyConnection, params: QualityParams) -> pl.DataFrame:
    frames = [
        run_sql(conn, f"quality/check_{check.name}", bound(f"quality/check_{check.name}", params.sql())).pl()
        for check in SQL_CHECKS
    ]
    return pl.concat([
        frame.select([
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(kind).alias(name)
            for name, kind in ISSUE_COLUMNS.items()
        ])
        for frame in frames
    ])


def issues_frame(rows: Iterable[dict]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ISSUE_COLUMNS)


def collect_issues(
    conn: duckdb.DuckDBPyConnection, params: QualityParams, catalog: Catalog | None = None,
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


# --- Dagster asset checks -------------------------------------------------------------------------


def check_result(conn: duckdb.DuckDBPyConnection, where: str, params: list) -> dg.AssetCheckResult:
    rows = conn.execute(
        "select school_code, year, severity, count(*) as issues, sum(failed_count) as failed "
        f"from quality.issues where {where} group by all order by school_code, year, severity",
        params,
    ).pl()
    errors = rows.filter(pl.col("severity") == "error")
    worst = errors.sort(["failed", "school_code"], descending=[True, False]).head(10)
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
            "warn_issues": dg.MetadataValue.int(int(rows.filter(pl.col("severity") == "warn")["issues"].sum() or 0)),
            "worst_colleges": dg.MetadataValue.md(table if worst.height else "(none)"),
            "details": dg.MetadataValue.text("see quality.issues and site/schools/<code>/quality.html"),
        },
    )


def suite_check(table: CatalogTable) -> dg.AssetChecksDefinition:
    """The asset check of one expectation suite, on `["raw", <table_name>]`."""
    suite = load_suite(table.table_name)
    checks = sorted({item.get("meta", {}).get("check", item["type"]) for item in suite["expectations"]})

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
            return check_result(
                conn, "table_code = ? and list_contains(?, check_name)", [table.code, checks]
            )

    return _check


def sql_check(check: SqlCheck) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(list(check.target)),
        name=check.name,
        description=f"{check.description} (sql/quality/check_{check.name}.sql)",
        additional_deps=[ISSUES_KEY],
        blocking=False,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return check_result(conn, "list_contains(?, check_name)", [list(check.check_names)])

    return _check


def build_asset_checks() -> list:
    """One asset check per expectation suite (on its raw table) and one per SQL check file."""
    catalog = load_catalog()
    return [*(suite_check(table) for table in catalog.tables), *(sql_check(check) for check in SQL_CHECKS)]
