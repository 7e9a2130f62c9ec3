"""The expectation suites (expectations/*.json) run with Great Expectations on pandas frames.

Speed: suite results are cached per table, college and year (pipelines/quality/cache.py), so a run
re-validates only the college-years whose rows, suite, rules or code changed; a run on an unchanged
warehouse never imports GX. A cold validation reads each table in frames of whole colleges (text as
pyarrow strings, pipelines/quality/inputs.py), screens the suite with result_format BOOLEAN_ONLY and
re-runs only the expectations that found a failing row with COMPLETE (`validate_table`). Every
table's cache is consulted before any frame is validated, and GX is imported in a thread as soon as
one table needs validating, so that the import overlaps the DuckDB work of the others; scipy.stats,
a third of that import, is deferred (`defer_scipy_stats`). Most of the rest is GX's own cost per
expectation and validation (not per row): fewer, larger frames are faster (`suite_chunk_rows`).
See benchmarks/bench_quality.py for the figures.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterable

import duckdb
import pandas as pd

from pipelines.catalog import Catalog, CatalogTable, load_catalog
from pipelines.quality.cache import mark_pending, split_by_cache, store_results
from pipelines.quality.calendar import QualityParams
from pipelines.quality.inputs import table_frames
from pipelines.quality.messages import expectation_issues
from pipelines.quality.suites import load_suite
from pipelines.sql import run_sql

FRAMES_SOURCE = "zhengai_frames"


def defer_scipy_stats() -> None:
    """Make `scipy.stats` load on first use instead of at GX's import (`importlib.util.LazyLoader`).

    GX imports it at module level for three expectations our suites never use (KL divergence, KS
    tests), and it is about a third of GX's import time. The package attribute is set as well, so
    that `from scipy import stats` takes the module as it is, without touching (and loading) it."""
    if "scipy.stats" in sys.modules or importlib.util.find_spec("scipy") is None:
        return
    import scipy

    spec = importlib.util.find_spec("scipy.stats")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scipy.stats"] = module
    loader.exec_module(module)
    scipy.stats = module


def gx_context():
    """An ephemeral GX context: in memory, no analytics, no progress bars, and no batch fingerprint.

    GX's pandas engine hashes every batch's frame (`pandas_data_fingerprint`, a batch marker for
    its data docs) when the frame's shallow size is under `HASH_THRESHOLD`; for our frames that
    hash (pandas `hash_pandas_object` on every string column, redone at each validate) costs more
    than the validations themselves. Nothing here reads the marker, so the threshold is set to 0."""
    defer_scipy_stats()
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
        int(outcome.expectation_config.meta["index"])
        for outcome in screened.results
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

    With `cache`, results are kept per table, college and year in `quality.suite_results_cache`
    (pipelines/quality/cache.py); only college-years whose fingerprint changed are validated again,
    and a run whose every result is cached never imports GX. The issues are the same with or
    without the cache. Tables without judged rows are skipped."""
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
    if not cache:
        for table in selected:
            suite = load_suite(table.table_name)
            for frame in table_frames(conn, table, chunk_rows):
                issues.extend(validate_table(context.get(), table, suite, frame, sample_rows))
        return issues
    pending = []
    for table in selected:  # every table's cache first: GX imports meanwhile once a table needs validating
        suite = load_suite(table.table_name)
        stale, kept = split_by_cache(conn, table, suite, params.rules)
        issues.extend(kept)
        if stale:
            context.start()
            pending.append((table, suite, stale))
    for table, suite, stale in pending:
        found: list[dict] = []
        for frame in table_frames(conn, table, chunk_rows, scope=mark_pending(conn, stale)):
            found.extend(validate_table(context.get(), table, suite, frame, sample_rows))
        store_results(conn, table, stale, found)
        issues.extend(found)
    return issues
