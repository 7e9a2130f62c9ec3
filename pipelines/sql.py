"""Load a statement from `sql/<schema>/<table>.sql` and run it with bound parameters.

`sql/site/` holds the pages' queries (select statements, no table of their own), run with `query`."""

from __future__ import annotations

from functools import cache
from typing import Any

import duckdb

from pipelines.settings import SQL_DIR


@cache
def load_sql(name: str) -> str:
    """`name` is `<schema>/<table>`, e.g. `mart/indicator_values`."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file for {name!r} at {path}")
    return path.read_text(encoding="utf-8")


def run_sql(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None):
    """Run `sql/<name>.sql`; `params` binds `$name` placeholders, never text substitution."""
    schema = name.split("/", 1)[0]
    conn.execute(f'create schema if not exists "{schema}"')
    return conn.execute(load_sql(name), params or {})


def query(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None):
    """The rows of the select statement `sql/<name>.sql` (e.g. `site/schools`) as a polars frame; unlike
    `run_sql` it builds nothing and creates no schema."""
    return conn.execute(load_sql(name), params or {}).pl()


def table_summary(conn: duckdb.DuckDBPyConnection, table: str, preview_rows: int = 5) -> dict[str, Any]:
    """Row count and a markdown preview, for a MaterializeResult's metadata."""
    import dagster as dg

    rows = conn.execute(f"select count(*) from {table}").fetchone()[0]
    preview = conn.execute(f"select * from {table} limit {int(preview_rows)}").pl()
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "preview": dg.MetadataValue.md(_markdown_table(preview)),
    }


def _markdown_table(frame) -> str:
    if frame.height == 0:
        return "(empty)"
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *body])
