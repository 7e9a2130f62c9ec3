"""The expectation suites (expectations/*.json) run with Great Expectations on pandas frames.

Speed: suite results are cached per table, college and year (pipelines/quality/cache.py), so a run
re-validates only the college-years whose inputs, suite, rules or code changed. Those are first
screened in DuckDB (pipelines/quality/screen.py: one query per table finds the college-years with a
row that could fail an expectation); GX validates only those, on only the expectations they could
fail, with result_format COMPLETE (`validate_table` with `indices`). GX costs about 30 ms per
expectation and validation whatever the rows, and a province's tables pass nearly everything: the
demo's cold run validated 32 tables × 283 expectations before, and now one table's 2 college-years
on 3 expectations. A run whose every college-year is cached or cleared never imports GX; otherwise
GX is imported in a thread at the first table that needs it, so that the import overlaps the
DuckDB work of the others; what our validation never uses is deferred (pipelines/quality/gx_import.py).
Frames are read per whole college (text as pyarrow strings, pipelines/quality/inputs.py). Without
the cache (`cache=False`, the tests' reference) every frame is validated on every expectation:
a BOOLEAN_ONLY pass, then COMPLETE on those that failed. See benchmarks/bench_quality.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb

from pipelines.catalog import Catalog, CatalogTable, load_catalog
from pipelines.quality.cache import changed_inputs, mark_pending, store_results
from pipelines.quality.calendar import QualityParams
from pipelines.quality.gx_import import import_gx
from pipelines.quality.inputs import table_frames
from pipelines.quality.messages import expectation_issues
from pipelines.quality.screen import screened_college_years
from pipelines.quality.suites import load_suite
from pipelines.sql import run_sql

# pandas is imported where a frame is first used: importing it (half a second) no longer delays `zhengai`'s start-up
if TYPE_CHECKING:
    import pandas as pd

FRAMES_SOURCE = "zhengai_frames"


def gx_context():
    """An ephemeral GX context: in memory, no analytics, no progress bars, and no batch fingerprint.

    GX's pandas engine hashes every batch's frame (`pandas_data_fingerprint`, a batch marker for
    its data docs) when the frame's shallow size is under `HASH_THRESHOLD`; for our frames that
    hash (pandas `hash_pandas_object` on every string column, redone at each validate) costs more
    than the validations themselves. Nothing here reads the marker, so the threshold is set to 0."""
    gx = import_gx()
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


def validate_table(
    context, table: CatalogTable, suite: dict, frame: pd.DataFrame, sample_rows: int, indices: list[int] | None = None
) -> list[dict]:
    """Run `suite` on `frame` with GX → issue rows. Without `indices`, two passes on one batch: every
    expectation without `mostly` and with result_format BOOLEAN_ONLY (cheap: no unexpected lists),
    then only those that found a failing row, as written (`complete_issues`). The issues are those
    of a single COMPLETE pass: an expectation that passes without `mostly` has no failing row, so
    COMPLETE would have reported nothing for it. `indices` (the expectations DuckDB's screen found
    candidate rows for, pipelines/quality/screen.py) replaces the first pass."""
    if frame.empty:
        return []
    batch = frame_batch(context, frame)
    if indices is None:
        screened = batch.validate(gx_suite(suite, screening=True), result_format="BOOLEAN_ONLY")
        indices = sorted(
            int(outcome.expectation_config.meta["index"])
            for outcome in screened.results
            if not outcome.success or (outcome.exception_info or {}).get("raised_exception")
        )
    return complete_issues(batch, table, suite, indices, frame, sample_rows)


def complete_issues(
    batch, table: CatalogTable, suite: dict, indices: list[int], frame: pd.DataFrame, sample_rows: int
) -> list[dict]:
    """The expectations `indices` of `suite` run on `batch` (of `frame`) as written, with result_format
    COMPLETE (rows identified by `_rid`) → issue rows; an expectation that could not run is an error."""
    if not indices or frame.empty:
        return []
    suite = {**suite, "expectations": [suite["expectations"][index] for index in indices]}
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


def preload_gx() -> threading.Thread:
    """Import GX in a daemon thread now, for a run that will surely validate (a cold run, whose every
    college-year is new): called when the ingest's workers are done, its second of Python then
    overlaps the ingest's last flush and commit (DuckDB, one core, no GIL) instead of delaying the
    issues step. A failure here is left to the issues step, which imports GX again and reports it."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import_gx()

    thread = threading.Thread(target=load, name="gx-preload", daemon=True)
    thread.start()
    return thread


class LazyContext:
    """The GX context, created (and GX imported) only when a frame needs validating, so a run whose
    every result comes from the cache never imports GX. `start` begins that in a thread: importing
    GX (a few seconds of Python) then overlaps the DuckDB queries that follow (fingerprints, frames),
    which run without the GIL; `get` waits for it."""

    def __init__(self) -> None:
        self.context = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self.context is None and self.thread is None:
            self.thread = threading.Thread(target=self.create, name="gx-context", daemon=True)
            self.thread.start()

    def create(self) -> None:
        try:
            self.context = gx_context()
        except BaseException as error:  # re-raised by `get`, in the thread that validates
            self.error = error

    def get(self):
        self.start()
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.context


def suite_issues(
    conn: duckdb.DuckDBPyConnection,
    params: QualityParams,
    catalog: Catalog | None = None,
    tables: Iterable[str] | None = None,
    cache: bool = True,
) -> list[dict]:
    """Every catalogued table's suite (or only those of the table codes `tables`), validated on its
    raw rows of the college-years judged (temp table `college_years`, see `prepare_inputs`).

    With `cache` (every run), results are kept per table, college and year in
    `quality.suite_results_cache` (pipelines/quality/cache.py); only college-years whose inputs
    changed are validated again, first by DuckDB's screen (pipelines/quality/screen.py), then by
    GX on the college-years and expectations the screen could not clear; a run that needs no GX
    never imports it. Without `cache`, GX validates every frame on every expectation (the
    reference the tests compare the screen and the cache with). The issues are the same either
    way. Tables without judged rows are skipped."""
    catalog = catalog or load_catalog()
    selected = [table for table in catalog.tables if tables is None or table.code in set(tables)]
    if not selected:
        return []
    context = LazyContext()
    sample_rows = int(params.rules["sample_rows"])
    chunk_rows = int(params.rules["suite_chunk_rows"])
    if not cache:
        issues: list[dict] = []
        for table in selected:
            suite = load_suite(table.table_name)
            for frame in table_frames(conn, table, chunk_rows):
                issues.extend(validate_table(context.get(), table, suite, frame, sample_rows))
        return issues
    run_sql(conn, "quality/suite_results_cache")
    issues, pending, validated = screened_tables(conn, selected, params.rules, context)
    for table, suite, stale, flagged in pending:
        indices = sorted(set().union(*flagged.values()))
        found: list[dict] = []
        for frame in table_frames(conn, table, chunk_rows, scope=mark_pending(conn, flagged)):
            found.extend(validate_table(context.get(), table, suite, frame, sample_rows, indices))
        validated.append((table, stale, found))
        issues.extend(found)
    store_results(conn, validated)
    return issues


def screened_tables(
    conn: duckdb.DuckDBPyConnection, tables: list[CatalogTable], rules: dict[str, float], context: LazyContext
) -> tuple[list[dict], list[tuple], list[tuple]]:
    """The cached issues of every table's unchanged college-years; per table whose changed
    college-years DuckDB's screen could not clear, (table, suite, its changed college-years with
    their fingerprints, the college-years to validate with their expectations' indices); and the
    tables whose changed college-years the screen cleared, to cache as passing (table, changed
    college-years, no issues). GX starts importing (in a thread) at the first table that needs it,
    while the others are screened."""
    suites = [(table, load_suite(table.table_name)) for table in tables]
    stale_by_table, issues = changed_inputs(conn, suites, rules)
    pending, cleared = [], []
    marked: set[tuple[str, int]] = set()
    for table, suite in suites:
        stale = stale_by_table.get(table.table_name)
        if not stale:
            continue
        if stale.keys() != marked:  # most tables of a cold run are judged on the same college-years: marked once
            scope, marked = mark_pending(conn, stale), set(stale)
        flagged = screened_college_years(conn, table, suite, scope)
        if flagged:
            context.start()
            pending.append((table, suite, stale, flagged))
        else:
            cleared.append((table, stale, []))
    return issues, pending, cleared
