"""The suite results cache: `quality.suite_results_cache` (sql/quality/suite_results_cache.sql) keeps
each table's suite issues per college and year under a fingerprint of everything they depend on,
so a run re-validates only the college-years whose rows, suite, rules or code changed.

The code part of the fingerprint (`code_version`) covers every module of this package (how frames
are read, validated and worded), every suite in expectations/ and the versions of the libraries
validating: changing any of them re-validates everything once.
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
from pipelines.quality.inputs import validated_columns
from pipelines.quality.suites import DERIVED_COLUMNS
from pipelines.settings import EXPECTATIONS_DIR

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


def row_fingerprints(conn: duckdb.DuckDBPyConnection, table: CatalogTable, version: str) -> dict[CollegeYear, str]:
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


def cached_results(conn: duckdb.DuckDBPyConnection, table: CatalogTable) -> dict[CollegeYear, tuple[str, str]]:
    rows = conn.execute(
        "select school_code, year, fingerprint, issues from quality.suite_results_cache where table_name = ?",
        [table.table_name],
    ).fetchall()
    return {(school, int(year)): (fingerprint, issues) for school, year, fingerprint, issues in rows}


def split_by_cache(
    conn: duckdb.DuckDBPyConnection, table: CatalogTable, suite: dict, rules: dict[str, float]
) -> tuple[dict[CollegeYear, str], list[dict]]:
    """The judged college-years of `table` whose cached results are out of date (with their new
    fingerprints), and the cached issues of all the others."""
    fingerprints = row_fingerprints(conn, table, suite_version(table, suite, rules))
    cached = cached_results(conn, table)
    stale = {key: value for key, value in fingerprints.items() if cached.get(key, (None,))[0] != value}
    kept = [issue for key in sorted(fingerprints.keys() - stale.keys()) for issue in json.loads(cached[key][1])]
    return stale, kept


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
    conn: duckdb.DuckDBPyConnection, table: CatalogTable, fingerprints: dict[CollegeYear, str], issues: list[dict]
) -> None:
    """Replace the cache entries of the college-years in `fingerprints` by their `issues`."""
    by_key: dict[CollegeYear, list[dict]] = {key: [] for key in fingerprints}
    for issue in issues:
        by_key[(issue["school_code"], issue["year"])].append(issue)
    entries = pl.DataFrame(
        [
            {
                "table_name": table.table_name,
                "school_code": school,
                "year": year,
                "fingerprint": fingerprints[(school, year)],
                "issues": json.dumps(found, ensure_ascii=False),
            }
            for (school, year), found in sorted(by_key.items())
        ],
        schema={
            "table_name": pl.String,
            "school_code": pl.String,
            "year": pl.Int32,
            "fingerprint": pl.String,
            "issues": pl.String,
        },
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
