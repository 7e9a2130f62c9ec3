"""Compare two data homes built from the same inbox: every warehouse table and every site page.

Used to show that a refactor changed no result: build the demo with the old commit into one home
and with the new commit into another, then

    .venv/bin/python benchmarks/compare_homes.py OLD_HOME NEW_HOME [--rename review.x=mart.x ...]

Tables are compared as sorted rows (column order ignored); pages byte for byte after removing
what differs between any two runs (run ids, build stamps, generation times). Exit 1 on any
difference.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
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
# tables whose content is run bookkeeping, not a result
SKIP_TABLES = {"raw.ingest_log", "quality.suite_results_cache"}
VOLATILE_COLUMNS = {"ingested_at", "loaded_at", "run_id", "checked_at", "built_at", "recorded_at"}


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
    digests = {}
    for page in sorted(site.rglob("*")):
        if page.is_file():
            text = page.read_bytes()
            for pattern in VOLATILE:
                text = pattern.sub(b"<volatile>", text)
            digests[str(page.relative_to(site))] = hashlib.sha256(text).hexdigest()
    return digests


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rename", action="append", default=[], help="old.name=new.name (tables or pages)")
    args = parser.parse_args(argv)
    renames = dict(item.split("=", 1) for item in args.rename)
    old_tables = table_digests(args.old / "warehouse.duckdb")
    new_tables = table_digests(args.new / "warehouse.duckdb")
    old_pages = page_digests(args.old / "site")
    new_pages = page_digests(args.new / "site")
    problems = compare(old_tables, new_tables, "table", renames) + compare(old_pages, new_pages, "page", renames)
    for line in problems:
        print(line)
    print(
        f"tables: {len(old_tables)} old, {len(new_tables)} new; pages: {len(old_pages)} old, "
        f"{len(new_pages)} new; differences: {len(problems)}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
