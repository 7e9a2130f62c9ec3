"""The home's Dagster instance (deploy/dagster.yaml) keeps its event log databases open between events and
opens its run and schedule databases without Alembic's scripts once they have Dagster's schema; what
it writes is Dagster's own SQLite run history: Dagster's stock storage reads it back unchanged."""

from __future__ import annotations

import os
from collections import Counter

import dagster as dg
import pytest
import sqlalchemy
from alembic.script import ScriptDirectory
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

from pipelines.cli import prepare_dagster_home
from pipelines.dagster_storage import (
    OPEN_DATABASES,
    CheckedOnceSqliteRunStorage,
    CheckedOnceSqliteScheduleStorage,
    KeptOpenSqliteEventLogStorage,
    stamped,
)


@dg.asset
def first() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset(deps=[first])
def second() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 5})


def run_twice(instance: dg.DagsterInstance) -> list[str]:
    return [dg.materialize([first, second], instance=instance).run_id for _ in range(2)]


def test_the_home_instance_keeps_one_connection_per_database_and_writes_dagsters_history(zhengai_home):
    prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, KeptOpenSqliteEventLogStorage)
        engines, checkouts = {}, Counter()
        real_engine_for = storage.engine_for

        def tracked_engine_for(shard: str) -> sqlalchemy.engine.Engine:
            engine = real_engine_for(shard)
            if engine not in engines.setdefault(shard, set()):
                engines[shard].add(engine)
                sqlalchemy.event.listen(engine, "checkout", lambda *_: checkouts.update([shard]))
            return engine

        storage.engine_for = tracked_engine_for
        run_ids = run_twice(instance)
        # every event went through a kept engine, one per database: the index's and each run's
        assert set(engines) == {"index", *run_ids}
        assert all(len(kept) == 1 for kept in engines.values())
        # and its one connection, held from the database's first event to the last (the index's since before)
        assert [checkouts[run_id] for run_id in run_ids] == [1, 1] and checkouts["index"] <= 1
        events = {run_id: len(instance.all_logs(run_id)) for run_id in run_ids}
    stock = SqliteEventLogStorage(os.path.join(os.environ["DAGSTER_HOME"], "history", "runs"))
    assert {run_id: len(stock.get_logs_for_run(run_id)) for run_id in run_ids} == events
    latest = stock.get_latest_materialization_events([dg.AssetKey("second")])[dg.AssetKey("second")]
    assert latest.run_id == run_ids[-1]
    assert latest.asset_materialization.metadata["dagster/row_count"].value == 5


def test_older_databases_are_closed_past_the_limit(zhengai_home):
    storage = KeptOpenSqliteEventLogStorage(str(zhengai_home / "runs"))
    for shard in ["index", *(f"run{n}" for n in range(OPEN_DATABASES + 2))]:
        with storage._connect(shard) as conn:
            conn.exec_driver_sql("select 1")
    assert list(storage._engines) == [f"run{n}" for n in range(2, OPEN_DATABASES + 2)]
    storage.dispose()
    assert not storage._engines


def test_a_stamped_database_is_not_initialised_again_and_a_table_found_is_remembered(zhengai_home, monkeypatch):
    storage = KeptOpenSqliteEventLogStorage(str(zhengai_home / "runs"))
    new_run = storage.engine_for("run1")  # created with Dagster's schema and stamped
    assert stamped(new_run) and storage.has_table("event_logs")
    assert not stamped(sqlalchemy.create_engine(f"sqlite:///{zhengai_home / 'empty.db'}"))
    asked = []
    real = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda self, name: asked.append(name) or real(self, name))
    assert [storage.has_table(name) for name in ("asset_event_tags", "asset_event_tags", "nope", "nope")] == [
        True,
        True,
        False,
        False,
    ]
    assert asked == ["asset_event_tags", "nope", "nope"]  # a table there stays there; a missing one may come
    storage.wipe()
    assert storage.has_table("asset_event_tags") and "asset_event_tags" in asked[3:]  # asked again after a wipe


def test_run_and_schedule_databases_are_created_by_dagster_then_opened_without_its_migration_scripts(
    zhengai_home, monkeypatch
):
    prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:  # a new home: Dagster's own from_local creates the schema
        assert isinstance(instance.run_storage, CheckedOnceSqliteRunStorage)
        assert isinstance(instance.schedule_storage, CheckedOnceSqliteScheduleStorage)
        run_ids = run_twice(instance)
    loaded = []
    real = ScriptDirectory.from_config.__func__
    monkeypatch.setattr(ScriptDirectory, "from_config", classmethod(lambda cls, *a: loaded.append(a) or real(cls, *a)))
    with dg.DagsterInstance.get() as instance:
        assert [run.run_id for run in instance.get_runs()] == run_ids[::-1]
        assert instance.schedule_storage.all_instigator_state() == []  # its tables are there
    assert not loaded  # the databases were stamped: Alembic's scripts were not read
    stock = SqliteRunStorage.from_local(os.path.join(os.environ["DAGSTER_HOME"], "history"))
    assert [run.run_id for run in stock.get_runs()] == run_ids[::-1]
    assert loaded  # Dagster's own class reads them


def test_a_failed_transaction_is_rolled_back_and_its_connection_not_reused(zhengai_home):
    storage = KeptOpenSqliteEventLogStorage(str(zhengai_home / "runs"))
    with storage._connect("run1") as conn:
        conn.exec_driver_sql("create table numbers (n int)")
    failed = storage.connection_for("run1")
    with pytest.raises(RuntimeError), storage._connect("run1") as conn:
        conn.exec_driver_sql("insert into numbers values (1)")
        raise RuntimeError("a failed event")
    with storage._connect("run1") as conn:
        assert conn is not failed and conn.exec_driver_sql("select count(*) from numbers").scalar() == 0
        conn.exec_driver_sql("insert into numbers values (2)")
    with storage._connect("run1") as conn:
        assert conn.exec_driver_sql("select n from numbers").scalars().all() == [2]
    storage.dispose()
