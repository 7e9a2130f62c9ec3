"""The suite results cache: `quality.suite_results_cache` (sql/quality/suite_results_cache.sql) keeps
each table's suite issues per college and year under a fingerprint of everything they depend on,
so a run re-validates only the college-years whose rows, suite, rules or code changed.

The rows part of the fingerprint is what the ingest log says they were loaded from (each file's
name, sha256, header mapping and load time, and the row count: sql/quality/suite_inputs.sql). The
raw tables are written only by the ingest, which logs every file it loads with the run's time in
the same transaction, so an unchanged college-year costs a row of a query, not a hash of its rows
(hashing 5.5 million rows took 3.5 s of every nightly run at national size). A raw table edited
by hand is not seen: drop the cache table (it can be dropped at any time) or run the ingest.

The code part (`code_version`) covers every module of this package (how frames are screened, read,
validated and worded), every suite in expectations/ and the versions of the libraries validating:
changing any of them re-validates everything once.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalog import CatalogTable
from pipelines.quality.suites import DERIVED_COLUMNS
from pipelines.settings import EXPECTATIONS_DIR
from pipelines.sql import run_sql

PACKAGE_DIR = Path(__file__).parent
# (directory, glob): the files whose bytes decide suite results besides the rows and the rules
FINGERPRINTED = ((PACKAGE_DIR, "**/*.py"), (EXPECTATIONS_DIR, "*.json"))
LIBRARIES = ("great_expectations", "pandas", "pyarrow", "duckdb")
# rules that change how the work is cut, never its results
RESULT_NEUTRAL_RULES = ("suite_chunk_rows",)

CollegeYear = tuple[str, int]


def sources_digest(sources: tuple[tuple[Path, str], ...] = FINGERPRINTED) -> str:
    """SHA-256 over the name (relative to its directory) and bytes of every file `sources` match."""
    digest = hashlib.sha256()
    for directory, pattern in sources:
        for path in sorted(path for path in directory.glob(pattern) if path.is_file()):
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """This package's code, the suites and the libraries validating (read once per process)."""
    libraries = ",".join(package_version(name) for name in LIBRARIES)
    return hashlib.sha256(f"{sources_digest()}|{libraries}".encode()).hexdigest()


def suite_version(table: CatalogTable, suite: dict, rules: dict[str, float]) -> str:
    """A digest of everything but the rows that a table's suite results depend on."""
    parts = [
        code_version().encode(),
        json.dumps(suite, ensure_ascii=False, sort_keys=True).encode(),
        json.dumps({k: v for k, v in sorted(rules.items()) if k not in RESULT_NEUTRAL_RULES}).encode(),
        repr([(column.name, column.type) for column in table.columns]).encode(),
        repr(sorted((name, spec.source, spec.expression) for name, spec in DERIVED_COLUMNS.items())).encode(),
    ]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def changed_inputs(
    conn: duckdb.DuckDBPyConnection, suites: list[tuple[CatalogTable, dict]], rules: dict[str, float]
) -> tuple[dict[str, dict[CollegeYear, str]], list[dict]]:
    """Per raw table of `suites` ((table, suite) pairs), its judged college-years whose cached results
    are out of date, with their new fingerprints (sql/quality/suite_inputs.sql: what the ingest log
    says their rows were loaded from, never the rows themselves); and the cached issues of all the
    others. Needs `prepare_inputs` first."""
    run_sql(
        conn,
        "quality/suite_inputs",
        {
            "codes": [table.code for table, _ in suites],
            "names": [table.table_name for table, _ in suites],
            "versions": [suite_version(table, suite, rules) for table, suite in suites],
        },
    )
    same_entry = (
        "c.table_name = i.table_name and c.school_code = i.school_code and c.year = i.year "
        "and c.fingerprint = i.fingerprint"
    )
    stale: dict[str, dict[CollegeYear, str]] = {}
    for name, school, year, fingerprint in conn.execute(
        f"select table_name, school_code, year, fingerprint from suite_inputs as i "
        f"anti join quality.suite_results_cache as c on {same_entry} order by all"
    ).fetchall():
        stale.setdefault(name, {})[(school, int(year))] = fingerprint
    kept = conn.execute(
        f"select c.issues from quality.suite_results_cache as c semi join suite_inputs as i on {same_entry} "
        "where c.issues <> '[]' order by c.table_name, c.school_code, c.year"
    ).fetchall()
    return stale, [issue for (found,) in kept for issue in json.loads(found)]


def mark_pending(conn: duckdb.DuckDBPyConnection, college_years: dict[CollegeYear, str]) -> str:
    """The temp table `suite_pending` (school_code, year) of `college_years`; returns its name."""
    pending = pl.DataFrame(sorted(college_years), schema={"school_code": pl.String, "year": pl.Int32}, orient="row")
    conn.register("suite_pending_rows", pending.to_arrow())
    try:
        conn.execute("create or replace temp table suite_pending as select * from suite_pending_rows")
    finally:
        conn.unregister("suite_pending_rows")
    return "suite_pending"


def store_results(
    conn: duckdb.DuckDBPyConnection, results: list[tuple[CatalogTable, dict[CollegeYear, str], list[dict]]]
) -> None:
    """Replace the cache entries of the college-years validated, per (table, {college-year:
    fingerprint}, issues found), by their issues, all in one write."""
    entries = []
    for table, fingerprints, issues in results:
        by_key: dict[CollegeYear, list[dict]] = {key: [] for key in fingerprints}
        for issue in issues:
            by_key[(issue["school_code"], issue["year"])].append(issue)
        entries += [
            (table.table_name, school, year, fingerprints[(school, year)], json.dumps(found, ensure_ascii=False))
            for (school, year), found in sorted(by_key.items())
        ]
    if not entries:
        return
    frame = pl.DataFrame(
        entries,
        schema={
            "table_name": pl.String,
            "school_code": pl.String,
            "year": pl.Int32,
            "fingerprint": pl.String,
            "issues": pl.String,
        },
        orient="row",
    )
    conn.register("suite_cache_rows", frame.to_arrow())
    try:
        conn.execute(
            "delete from quality.suite_results_cache as c using suite_cache_rows as n "
            "where c.table_name = n.table_name and c.school_code = n.school_code and c.year = n.year"
        )
        conn.execute("insert into quality.suite_results_cache by name select * from suite_cache_rows")
    finally:
        conn.unregister("suite_cache_rows")
