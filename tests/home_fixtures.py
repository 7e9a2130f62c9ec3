"""Two data homes compared: every table of the published warehouse and every file of the site.

Tables are compared as sorted rows (column order ignored), without the columns that hold run
timestamps and run ids and without the tables that are run bookkeeping; pages byte for byte after
removing what differs between any two runs (run ids, build stamps, generation times), workbooks
member by member.

Shared by tests/test_incremental.py (incremental runs against a rebuild) and
benchmarks/compare_homes.py (a refactor's old and new commit).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb

# run-specific text: timestamps, run ids and build-folder stamps change on every run
VOLATILE = [
    re.compile(rb"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?"),
    re.compile(rb"\d{4}\xe5\xb9\xb4\d{1,2}\xe6\x9c\x88\d{1,2}\xe6\x97\xa5\s*\d{1,2}:\d{2}(:\d{2})?"),
    re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    re.compile(rb"\d{8}T\d{6}Z?-[0-9a-z-]+"),
]
ZIPPED = {".xlsx", ".docx", ".zip"}
# tables whose content is run bookkeeping, not a result: the ingest log holds a row per file per run
# (five runs log more rows than one, by design), the suites' cache is keyed by content and not published
SKIP_TABLES = {"raw.ingest_log", "raw.ingest_files", "quality.suite_results_cache"}
# columns that say when a row was written or checked, and by which run: they differ between any two runs
VOLATILE_COLUMNS = {"ingested_at", "loaded_at", "run_id", "checked_at", "built_at", "recorded_at", "changed_at"}


def table_digests(path: Path) -> dict[str, tuple[int, str]]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        names = conn.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        return {f"{s}.{t}": digest_table(conn, s, t) for s, t in names if f"{s}.{t}" not in SKIP_TABLES}
    finally:
        conn.close()


def digest_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[int, str]:
    columns = [
        name
        for (name,) in conn.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ? order by column_name",
            [schema, table],
        ).fetchall()
        if name not in VOLATILE_COLUMNS
    ]
    relation = conn.table(f'"{schema}"."{table}"').select(*[f'"{c}"' for c in columns])
    rows = sorted(repr(tuple(plain(value) for value in row)) for row in relation.fetchall())
    digest = hashlib.sha256("\n".join([",".join(columns), *rows]).encode()).hexdigest()
    return len(rows), digest


def plain(value):
    """Values compared, not storage types: DECIMAL(38,1) 2.0 and DOUBLE 2.0 are the same figure."""
    return float(value) if isinstance(value, Decimal) else value


def page_digests(site: Path) -> dict[str, str]:
    site = site.resolve()
    return {str(page.relative_to(site)): file_digest(page) for page in sorted(site.rglob("*")) if page.is_file()}


def file_digest(path: Path) -> str:
    """A page's bytes without run-specific text; a workbook (zip) member by member, since its
    members are compressed and hold their creation time (docProps/core.xml)."""
    if path.suffix in ZIPPED and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            parts = [name.encode() + b"\0" + stable(archive.read(name)) for name in sorted(archive.namelist())]
        return hashlib.sha256(b"\n".join(parts)).hexdigest()
    return hashlib.sha256(stable(path.read_bytes())).hexdigest()


def stable(data: bytes) -> bytes:
    for pattern in VOLATILE:
        data = pattern.sub(b"<volatile>", data)
    return data


def compare(old: dict, new: dict, kind: str, renames: dict[str, str]) -> list[str]:
    old = {renames.get(key, key): value for key, value in old.items()}
    problems = [f"{kind} only in the old home: {key}" for key in sorted(old.keys() - new.keys())]
    problems += [f"{kind} only in the new home: {key}" for key in sorted(new.keys() - old.keys())]
    problems += [
        f"{kind} differs: {key} ({old[key]} vs {new[key]})"
        for key in sorted(old.keys() & new.keys())
        if old[key] != new[key]
    ]
    return problems


def home_differences(old_home: Path, new_home: Path, renames: dict[str, str] | None = None) -> tuple[list[str], dict]:
    """Every difference between the two homes' published warehouses and sites, and what was compared."""
    renames = renames or {}
    tables = [table_digests(home / "warehouse.duckdb") for home in (old_home, new_home)]
    pages = [page_digests(home / "site") for home in (old_home, new_home)]
    problems = compare(*tables, "table", renames) + compare(*pages, "page", renames)
    return problems, {"tables": [len(t) for t in tables], "pages": [len(p) for p in pages]}
