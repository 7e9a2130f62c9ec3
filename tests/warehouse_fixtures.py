"""Scratch-warehouse pieces shared by the fixtures, made by the pipeline's own builders.

A fixture that fills a table by hand still gets the table from the real SQL, so it cannot drift
from what the pipeline builds: `ref.schools` from the registry builder (an empty registry), the
quality tables from the quality layer's builders run once on an empty warehouse (their DDL is
kept and replayed, since the layer takes seconds to run and many tests need a fresh warehouse).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb

from assets.quality import build_quality_tables
from assets.ref import build_reference_tables
from pipelines.catalog import create_raw_tables
from pipelines.quality.calendar import quality_params
from pipelines.registry import Registry, build_schools_table


def empty_schools(conn: duckdb.DuckDBPyConnection) -> None:
    """`ref.schools` as the registry builder makes it, with no college yet."""
    build_schools_table(conn, Registry(Path("(fixture)"), "utf-8", []))


@cache
def quality_table_ddl() -> tuple[str, ...]:
    """The `create table` statements of the quality tables the quality layer builds on an empty warehouse."""
    conn = duckdb.connect()
    build_reference_tables(conn)
    empty_schools(conn)
    create_raw_tables(conn)
    build_quality_tables(conn, quality_params(dt.date(2024, 12, 1)))
    statements = conn.execute(
        "select sql from duckdb_tables() where schema_name = 'quality' and table_name <> 'suite_results_cache' "
        "order by table_name"
    ).fetchall()
    conn.close()
    return tuple(sql for (sql,) in statements)


def empty_quality_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Every quality table, empty, with the columns and types the quality layer gives it."""
    conn.execute("create schema if not exists quality")
    for statement in quality_table_ddl():
        conn.execute(statement)
