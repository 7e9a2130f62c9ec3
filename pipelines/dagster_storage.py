"""The Dagster instance's storage: Dagster's own SQLite storage, with the event log's connections kept
open and the run and schedule databases opened without Alembic's migration scripts (`open_stamped`).

Dagster's `SqliteEventLogStorage` (one SQLite database per run, plus an index database) builds a new
engine and opens a new connection for every event it stores, then closes it. Closing the last
connection to a database in WAL mode checkpoints it (the log is copied into the database and the
file synced), so each of a run's ~500 events (step start, output, materialization, check, success,
mirrored to the index for asset events) paid one or two checkpoints and a synced commit: about
0.1 s of a step that does nothing, and several seconds of every run, all of it waiting on the disk.

This storage keeps one engine and its one connection, held between events, per database for the few
databases in use (the run being written and the index), and commits with `synchronous=NORMAL`, which in WAL mode
keeps the database consistent and loses at most the last events on a power cut. The databases, their
files and their schema are Dagster's: a home may switch between this class and Dagster's own at will
(`deploy/dagster.yaml` names this one; the UI and the daemon load it from this environment).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._serdes import ConfigurableClassData

SQLITE_BUSY_TIMEOUT_SECONDS = 30  # as Dagster's own storage waits for a database another process writes
OPEN_DATABASES = 4  # the index and the latest runs' databases; older engines are disposed


def default_base_dir(*folders: str) -> str:
    """Where Dagster's default SQLite storage keeps a database, under `$DAGSTER_HOME`: the event logs
    in `history/runs`, the runs in `history`, the schedules and sensors' ticks in `schedules`."""
    return os.path.join(os.environ["DAGSTER_HOME"], *(folders or ("history", "runs")))


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose connections stay open between events (see the module docstring)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()
        self._held: dict[str, db.engine.Connection] = {}  # each open database's one connection
        self._schema_seen: set[tuple[str, str]] = set()  # (kind, name) of tables, columns, indexes found
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> KeptOpenSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def engine_for(self, shard: str) -> db.engine.Engine:
        """The shard's engine, created (and its database initialised) on first use; the caller holds the lock."""
        engine = self._engines.get(shard)
        if engine is None:
            engine = db.create_engine(
                create_db_conn_string(self._base_dir, shard),
                poolclass=db.pool.QueuePool,
                pool_size=1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            db.event.listen(engine, "connect", relaxed_sync)
            if shard not in self._initialized_dbs:
                if not stamped(engine):
                    self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_DATABASES:
                self.close_database(next(iter(self._engines)))
        self._engines.move_to_end(shard)
        return engine

    def connection_for(self, shard: str) -> db.engine.Connection:
        """The shard's connection, held between events: checking it out of the engine's pool and back
        for each event (a pool reset, a rollback, events) cost a fifth of storing one."""
        engine = self.engine_for(shard)
        conn = self._held.get(shard)
        if conn is None:
            conn = self._held[shard] = engine.connect()
        return conn

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        with self._db_lock:
            conn = self.connection_for(shard)
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                self.drop_connection(shard)  # rolled back; an error's connection is not reused
                raise

    def drop_connection(self, shard: str) -> None:
        held = self._held.pop(shard, None)
        if held is not None:
            held.close()

    def close_database(self, shard: str) -> None:
        self.drop_connection(shard)
        self._engines.pop(shard).dispose()

    def seen(self, kind: str, name: str, probe: Callable[[], bool]) -> bool:
        """Whether the schema has a table, column or completed data migration: Dagster asks SQLite
        again before every asset event (a new engine and connection for a table, a reflection of the
        asset keys' columns, a query for a migration), some 360 questions a run. What is there stays
        there (until `wipe` or `upgrade`), so a yes is remembered; a no is asked again."""
        if (kind, name) in self._schema_seen:
            return True
        found = probe()
        if found:
            self._schema_seen.add((kind, name))
        return found

    def has_table(self, table_name: str) -> bool:
        return self.seen("table", table_name, lambda: super(KeptOpenSqliteEventLogStorage, self).has_table(table_name))

    def _has_asset_key_col_on_connection(self, conn: db.engine.Connection, column_name: str) -> bool:
        parent = super()._has_asset_key_col_on_connection
        return self.seen("asset key column", column_name, lambda: parent(conn, column_name))

    def has_secondary_index(self, name: str) -> bool:
        return self.seen(
            "data migration", name, lambda: super(KeptOpenSqliteEventLogStorage, self).has_secondary_index(name)
        )

    def close_databases(self) -> None:
        with self._db_lock:
            while self._engines:
                self.close_database(next(iter(self._engines)))

    def wipe(self) -> None:
        self.close_databases()
        self._schema_seen.clear()
        super().wipe()

    def upgrade(self) -> None:
        self.close_databases()
        self._schema_seen.clear()
        super().upgrade()

    def dispose(self) -> None:
        self.close_databases()
        super().dispose()


def stamped(engine: db.engine.Engine) -> bool:
    """Whether the database has Dagster's schema (an Alembic revision stamped): Dagster's `_initdb`
    then changes nothing, after loading Alembic's 260 migration scripts to learn the head revision
    (0.1-0.2 s on the first event of every run, for the index database)."""
    with engine.connect() as conn:
        try:
            return conn.exec_driver_sql("select version_num from alembic_version").first() is not None
        except db.exc.OperationalError:  # no such table: a new database
            return False


def relaxed_sync(dbapi_connection, _record) -> None:
    """WAL mode commits without a sync of their own (the checkpoint syncs): safe against corruption."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class CheckedOnceSqliteRunStorage(SqliteRunStorage):
    """Dagster's `SqliteRunStorage`, opened without loading Alembic's migration scripts when its
    database already has Dagster's schema (see `open_stamped`)."""

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> CheckedOnceSqliteRunStorage:
        base_dir = config_value.get("base_dir") or default_base_dir("history")
        return open_stamped(cls, base_dir, "runs", inst_data, also_table="instance_info")


class CheckedOnceSqliteScheduleStorage(SqliteScheduleStorage):
    """Dagster's `SqliteScheduleStorage`, opened as `CheckedOnceSqliteRunStorage` is."""

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value
    ) -> CheckedOnceSqliteScheduleStorage:
        return open_stamped(cls, config_value.get("base_dir") or default_base_dir("schedules"), "schedules", inst_data)


def open_stamped(storage_class, base_dir: str, name: str, inst_data, also_table: str | None = None):
    """The storage of database `name`. Dagster's `from_local` loads Alembic's ~90 migration scripts to
    learn the head revision (0.1-0.2 s CPU for the run and schedule databases at every start of a run),
    only to check that the database is stamped with one: for a database stamped (and holding
    `also_table`), it would change nothing, so the storage is opened directly; anything else (a new
    home, an unstamped database) goes through Dagster's own `from_local`. Migrating a database to a
    newer Dagster's schema stays `dagster instance migrate`'s job, as with Dagster's own classes."""
    conn_string = create_db_conn_string(base_dir, name)
    if os.path.isfile(os.path.join(base_dir, f"{name}.db")):
        engine = db.create_engine(conn_string, poolclass=db.pool.NullPool)
        try:
            ready = stamped(engine) and (also_table is None or db.inspect(engine).has_table(also_table))
        finally:
            engine.dispose()
        if ready:
            return storage_class(conn_string, inst_data)
    return storage_class.from_local(base_dir, inst_data)
