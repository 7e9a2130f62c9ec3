"""The DuckDB warehouse resource.

The pipeline writes one working file; `publish()` copies it to the path analysts open by
writing a new file beside it and renaming it over the old one, so an open read-only
session keeps its consistent snapshot and never blocks a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.files import atomic_copy
from pipelines.runlock import run_lock, stamp_run
from pipelines.settings import get_settings


class WarehouseResource(dg.ConfigurableResource):
    """Working DuckDB file (written by the pipeline) and its published copy."""

    path: str = ""
    published_path: str = ""

    def work_path(self) -> Path:
        return Path(self.path) if self.path else get_settings().work_warehouse

    def publish_path(self) -> Path:
        return Path(self.published_path) if self.published_path else get_settings().warehouse

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        """A run holds the run lock from the moment it first needs the warehouse until it ends, and
        keeps the working file open meanwhile (`kept_open`)."""
        with run_lock(f"Dagster 运行 {context.run_id}"), self.kept_open():
            stamp_run(context.instance, context.run_id)
            yield self

    @contextmanager
    def kept_open(self) -> Iterator[None]:
        """One connection held for the run, so that each step's `connect` joins the database DuckDB
        already has open instead of opening the file (catalog read, WAL replayed) and, as the last
        connection closes, checkpointing it: 30-40 ms a step, some fifty steps a run. Settings a
        step changes (the ingest's bulk settings) it restores; `publish` checkpoints before copying."""
        path = self.work_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path)):
            yield

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        path = self.work_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(path))
        try:
            yield conn
        finally:
            conn.close()

    def publish(
        self, prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = None, target: Path | None = None
    ) -> Path:
        """Atomically replace the published warehouse (or `target`, where assets/publish.py stages it) with a
        checkpointed copy of the work file, first changed by `prepare` (comments, plain types, report views)."""
        with self.connect() as conn:
            conn.execute("checkpoint")
        return atomic_copy(
            self.work_path(), target or self.publish_path(), prepare=None if prepare is None else prepared(prepare)
        )


def prepared(prepare: Callable[[duckdb.DuckDBPyConnection], None]) -> Callable[[Path], None]:
    """`prepare` run on a warehouse copy at `path`, checkpointed so the file holds its changes."""

    def run(path: Path) -> None:
        with duckdb.connect(str(path)) as conn:
            prepare(conn)
            conn.execute("checkpoint")

    return run


class RunOptions(dg.ConfigurableResource):
    """Per-run options: `as_of` fixes the date staleness is judged against (ISO date, empty = today)."""

    as_of: str = ""

    def as_of_date(self):
        import datetime as dt

        if self.as_of:
            return dt.date.fromisoformat(self.as_of)
        return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
