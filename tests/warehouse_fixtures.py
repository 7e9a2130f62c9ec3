"""Scratch-warehouse pieces shared by the fixtures, made by the pipeline's own builders.

A fixture that fills a table by hand still gets the table from the real SQL, so it cannot drift
from what the pipeline builds: `ref.schools` from the registry builder (an empty registry), the
quality and mart tables from their layers' builders run once on an empty warehouse (their DDL is
kept and replayed, since the layers take seconds to run and many tests need a fresh warehouse).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb

from assets.mart import build_marts
from assets.quality import build_quality_tables
from assets.ref import build_reference_tables
from pipelines.catalog import create_raw_tables
from pipelines.quality.calendar import quality_params
from pipelines.registry import Registry, build_schools_table


def empty_schools(conn: duckdb.DuckDBPyConnection) -> None:
    """`ref.schools` as the registry builder makes it, with no college yet."""
    build_schools_table(conn, Registry(Path("(fixture)"), "utf-8", []))


@cache
def empty_warehouse_ddl() -> dict[str, tuple[str, ...]]:
    """The `create table` statements, per schema, of the quality and mart tables the pipeline builds on an
    empty warehouse (raw tables, reference files, no college)."""
    conn = duckdb.connect()
    build_reference_tables(conn)
    empty_schools(conn)
    create_raw_tables(conn)
    build_quality_tables(conn, quality_params(dt.date(2024, 12, 1)))
    build_marts(conn)
    statements = conn.execute(
        "select schema_name, sql from duckdb_tables() where schema_name in ('quality', 'mart') "
        "and table_name <> 'suite_results_cache' order by schema_name, table_name"
    ).fetchall()
    conn.close()
    return {schema: tuple(sql for name, sql in statements if name == schema) for schema in ("quality", "mart")}


def replay_ddl(conn: duckdb.DuckDBPyConnection, schema: str) -> None:
    conn.execute(f"create schema if not exists {schema}")
    for statement in empty_warehouse_ddl()[schema]:
        conn.execute(statement)


def empty_quality_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Every quality table, empty, with the columns and types the quality layer gives it."""
    replay_ddl(conn, "quality")


def empty_mart_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Every table of the mart layer, empty, with the columns and types `build_marts` gives it."""
    replay_ddl(conn, "mart")
