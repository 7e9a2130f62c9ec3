"""The table list and the one factory that turns it into assets.

Every asset that is one SQL file (`sql/<schema>/<name>.sql`) is declared once, as a `SqlTable` in
its layer's `TABLES`: name, the assets it reads, the bound parameters it takes, its description.
From that single declaration come both

- the Dagster asset (`table_assets`), keyed by the bare table name: `pipelines/definitions.py`
  adds the layer's key prefix and group name, once for every layer; and
- the builder tests and benchmarks use to make a scratch warehouse without Dagster (`build_tables`),
  which runs the same SQL with the same parameters in an order derived from the same deps.

So the build order lives in one place: the deps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from pipelines.resources import WarehouseResource
from pipelines.sql import run_sql, table_summary


@dataclass(frozen=True)
class SqlTable:
    """One table built by `sql/<schema>/<name>.sql`.

    `deps` names what the SQL reads: a bare name for a table of the same layer, `schema/name` for
    another layer's asset. `parameters` are the names of the bound parameters the SQL takes, looked
    up in the layer's parameter values (e.g. the warning rules); `source` gives the reference file bound
    as `$path` (a function, read at build time, so that the module constant it returns can be pointed
    at another file). `validate`, if given, refuses inconsistent reference data after the build."""

    name: str
    description: str
    deps: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    source: Callable[[], Path] | None = None
    validate: Callable[[duckdb.DuckDBPyConnection], None] | None = None

    def bound(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The bound parameters of this table's SQL, from the layer's `values`."""
        params = {name: values[name] for name in self.parameters}
        if self.source is not None:
            params["path"] = str(self.source())
        return params


@dataclass(frozen=True)
class Layer:
    """A layer's SQL tables, its schema, and where its parameter values come from."""

    schema: str
    tables: tuple[SqlTable, ...]
    values: Callable[[], Mapping[str, Any]] = dict

    def by_name(self, name: str) -> SqlTable:
        return next(table for table in self.tables if table.name == name)


def dep_key(dep: str) -> dg.AssetKey:
    """`name` (same layer: prefixed with the others in definitions.py) or `schema/name`."""
    return dg.AssetKey(dep.split("/"))


def table_assets(layer: Layer) -> list[dg.AssetsDefinition]:
    """One asset per table of `layer`, all built by `build_table_asset`."""
    return [build_table_asset(layer, table) for table in layer.tables]


def build_table_asset(layer: Layer, table: SqlTable) -> dg.AssetsDefinition:
    @dg.asset(name=table.name, description=table.description, kinds={"duckdb"}, deps=[dep_key(d) for d in table.deps])
    def sql_table(warehouse: WarehouseResource) -> dg.MaterializeResult:
        return materialize_table(warehouse, layer, table)

    return sql_table


def materialize_table(warehouse: WarehouseResource, layer: Layer, table: SqlTable) -> dg.MaterializeResult:
    source = table.source() if table.source is not None else None
    if source is not None and not source.is_file():
        raise FileNotFoundError(f"reference file for {layer.schema}.{table.name} not found: {source}")
    with warehouse.connect() as conn:
        build_table(conn, layer, table, layer.values())
        metadata = table_summary(conn, f"{layer.schema}.{table.name}")
    if source is not None:
        metadata["source"] = str(source)
    return dg.MaterializeResult(metadata=metadata)


def build_table(conn: duckdb.DuckDBPyConnection, layer: Layer, table: SqlTable, values: Mapping[str, Any]) -> None:
    run_sql(conn, f"{layer.schema}/{table.name}", table.bound(values))
    if table.validate is not None:
        table.validate(conn)


def build_order(layer: Layer) -> list[SqlTable]:
    """The layer's tables with every same-layer dependency before the tables that read it (list order
    kept where deps allow)."""
    names = {table.name for table in layer.tables}
    done: list[str] = []
    pending = list(layer.tables)
    while pending:
        ready = [t for t in pending if all(d in done for d in t.deps if "/" not in d and d in names)]
        if not ready:
            raise ValueError(f"{layer.schema}: circular deps among {[t.name for t in pending]}")
        done.append(ready[0].name)
        pending.remove(ready[0])
    return [layer.by_name(name) for name in done]


def build_tables(
    conn: duckdb.DuckDBPyConnection,
    layer: Layer,
    only: Iterable[str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Build the layer's tables (all, or those in `only`) on an open connection, outside Dagster, in
    dependency order, with the layer's parameter values (or `values`)."""
    wanted = None if only is None else set(only)
    values = layer.values() if values is None else values
    for table in build_order(layer):
        if wanted is None or table.name in wanted:
            build_table(conn, layer, table, values)
