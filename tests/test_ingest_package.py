"""The ingest package's shape: the reading half never reaches the warehouse, and the ingest log has
one schema that the SQL and the Python writer both follow."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import pipelines
from pipelines.ingest.log import LOG_COLUMNS, LOG_SCHEMA, LogRow, log_table
from pipelines.sql import run_sql

PACKAGE_ROOT = Path(pipelines.__file__).parent.parent
# the half that runs in worker processes (pipelines/ingest/pool.py hands it the colleges)
READING_HALF = (
    "pipelines.ingest.discover",
    "pipelines.ingest.identify",
    "pipelines.ingest.read",
    "pipelines.ingest.headers",
    "pipelines.ingest.coerce",
    "pipelines.ingest.subtables",
    "pipelines.ingest.college",
    "pipelines.ingest.log",
    "pipelines.ingest.guard",
    "pipelines.ingest.blobs",
)


def imported_modules(module: str) -> set[str]:
    """The modules `module`'s source imports (at any level, type-checking imports included)."""
    path = PACKAGE_ROOT / (module.replace(".", "/") + ".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def reached(module: str) -> set[str]:
    """Every module `module` reaches through the project's own imports (a package's __init__, which
    re-exports both halves for callers, is not followed: importing a submodule does not need it)."""
    seen, queue = set(), [module]
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        path = PACKAGE_ROOT / (name.replace(".", "/") + ".py")
        if path.is_file():
            queue.extend(imported_modules(name))
    return seen


@pytest.mark.parametrize("module", READING_HALF)
def test_the_reading_half_never_imports_duckdb_nor_the_writing_half(module):
    found = reached(module)
    assert "duckdb" not in found, (
        f"{module} reaches duckdb through {sorted(m for m in found if m.startswith('pipelines'))}"
    )
    assert not found & {"pipelines.ingest.write", "pipelines.ingest.pool", "pipelines.sql", "pipelines.resources"}


def test_the_writing_half_owns_the_connection():
    assert "duckdb" in imported_modules("pipelines.ingest.write")


def declared(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in conn.execute(f"describe {table}").fetchall()]


def test_the_ingest_log_sql_creates_the_columns_the_writer_declares():
    with duckdb.connect() as conn:
        run_sql(conn, "raw/ingest_log")
        run_sql(conn, "raw/ingest_log")  # re-runnable: the alters of an older log change nothing
        empty = pa.table({name: pa.array([], kind) for name, kind in zip(LOG_SCHEMA.names, LOG_SCHEMA.types)})  # noqa: F841
        conn.execute("create table written as select * from empty")
        assert declared(conn, "raw.ingest_log") == declared(conn, "written")


def test_log_rows_follow_the_one_schema():
    assert tuple(field.name for field in dataclasses.fields(LogRow)) == LOG_COLUMNS
    row = LogRow(
        "13829/2024/表6.1.xlsx",
        "ab" * 32,
        "archive/ab/x.xlsx",
        "13829",
        2024,
        "6.1",
        "loaded",
        3,
        None,
        None,
        "标题",
        2024,
        None,
        dt.datetime(2024, 11, 1),
        ["备注"],
        0,
        ["first_school"],
        [],
        [{"header": "备注", "likely_column": "", "samples": ["无"]}],
        "fp",
        ["first_degree"],
    )
    batch = log_table([row])
    assert batch.schema == LOG_SCHEMA
    assert batch.to_pylist()[0] == dataclasses.asdict(row)
    with duckdb.connect() as conn:
        run_sql(conn, "raw/ingest_log")
        conn.execute("insert into raw.ingest_log by name select * from batch")
        logged = conn.execute(f"select {', '.join(LOG_COLUMNS)} from raw.ingest_log").fetchone()
        assert LogRow.from_logged(dict(zip(LOG_COLUMNS, logged))) == row
