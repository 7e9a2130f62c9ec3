"""Reading ahead on a cold run (pipelines/ingest/ahead.py): the workers started before Dagster give the
warehouse the step would have written itself, are dropped when the step plans other work, and never
outlive the run."""

from __future__ import annotations

import os
import shutil
import time
from multiprocessing import active_children, forkserver

import dagster as dg
import duckdb
import pytest

from pipelines import cli
from pipelines.catalog import load_catalog
from pipelines.cli import main
from pipelines.demo.province import generate_province
from pipelines.ingest import ahead, ingest_inbox
from pipelines.ingest import pool as ingest_pool
from pipelines.listing import list_inbox
from pipelines.settings import get_settings

AS_OF = "2024-12-01"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """3 colleges × 2024 with defects (some files quarantined), generated once for the module."""
    out = tmp_path_factory.mktemp("ahead-province")
    generate_province(
        out / "inbox", schools=3, years=[2024], seed=5, defects=True, registry=out / "registry" / "schools.csv"
    )
    return out


@pytest.fixture
def province(zhengai_home, generated, monkeypatch):
    """A home holding a copy of the province, read by a pool of two workers, one college per chunk."""
    shutil.copytree(generated, zhengai_home, dirs_exist_ok=True)
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "2")
    monkeypatch.setenv("ZHENGAI_INGEST_POOL_MIN_SCHOOLS", "2")
    monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")
    return zhengai_home


@pytest.fixture
def taken(monkeypatch) -> list:
    """What each step's `ReadAhead.take` returned (the pool it read from, or None) and that pool's workers."""
    seen = []
    take = ingest_pool.ReadAhead.take

    def spy(self, tasks):
        reading = take(self, tasks)
        seen.append((self, reading, list(reading.pool._processes) if reading else []))
        return reading

    monkeypatch.setattr(ingest_pool.ReadAhead, "take", spy)
    return seen


def raw_rows(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every raw table and the log, without the load time (two runs read the clock apart)."""
    names = [f'raw."{table.table_name}"' for table in load_catalog().tables] + ["raw.ingest_log"]
    return {name: conn.sql(f"select * exclude (ingested_at) from {name} order by all").fetchall() for name in names}


def load_times(conn: duckdb.DuckDBPyConnection) -> set:
    """The load times in the raw tables, the log and the recorded listings (`checked_at`)."""
    names = [f'raw."{table.table_name}"' for table in load_catalog().tables] + ["raw.ingest_log"]
    times = {time for name in names for (time,) in conn.sql(f"select distinct ingested_at from {name}").fetchall()}
    return times | {time for (time,) in conn.sql("select distinct checked_at from raw.ingest_files").fetchall()}


def no_worker_left(pids: list[int]) -> bool:
    """The run's fork server stopped and none of `pids` alive (bounded wait: a killed worker is reaped)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and not zombie(pid)]
        if not alive and not active_children():
            return forkserver._forkserver._forkserver_pid is None
        time.sleep(0.05)
    return False


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_cold_run_reads_ahead_and_writes_what_the_step_alone_writes(province, taken):
    assert main(["run", "--as-of", AS_OF]) == 0
    [(read_ahead, started, workers)] = taken
    assert started is not None  # the step read from the workers started before Dagster
    assert len(workers) == 2 and no_worker_left(workers)
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as published:
        ahead_rows, times = raw_rows(published), load_times(published)
    assert times == {read_ahead.ingested_at}  # one load time, the one the workers' tasks carry
    with duckdb.connect() as alone:  # the same inbox, ingested in this process without reading ahead
        ingest_inbox(alone, get_settings())
        assert ahead_rows == raw_rows(alone)
    assert any(ahead_rows.values()) and not taken[1:]


def test_workers_reading_other_work_than_the_step_plans_are_dropped(province, taken, monkeypatch):
    settings = get_settings()
    with ahead.read_ahead(settings, list_inbox(settings.inbox)) as started:
        started.handing_out.join()
        assert started.reading is not None
        monkeypatch.setenv("ZHENGAI_FILE_MAX_BYTES", "7000")  # changed since: the step refuses the larger files
        with duckdb.connect() as conn:
            summary = ingest_inbox(conn, settings)
            dropped = raw_rows(conn)
    [(_, reading, _)] = taken
    assert reading is None and started.reading is None
    assert no_worker_left([])
    with duckdb.connect() as conn:
        expected = ingest_inbox(conn, settings)
        assert dropped == raw_rows(conn)
    assert summary.quarantined == expected.quarantined > 0 and summary.loaded == expected.loaded > 0


def test_a_warm_run_does_not_read_ahead(province, taken):
    settings = get_settings()
    settings.work_warehouse.parent.mkdir(parents=True)
    settings.work_warehouse.touch()  # a warehouse, even empty, decides what the ingest reads
    with ahead.read_ahead(settings, list_inbox(settings.inbox)) as started:
        assert started is None and forkserver._forkserver._forkserver_pid is None


def failing_run(*args):
    raise RuntimeError("Dagster failed before the ingest")


def failed_step(*args):
    @dg.asset
    def broken() -> None:
        raise RuntimeError("a step failed")

    return dg.materialize([broken], raise_on_error=False)


@pytest.mark.parametrize("execute", [failing_run, failed_step])
def test_a_run_that_fails_before_its_ingest_leaves_no_worker(province, monkeypatch, execute):
    workers = []

    def execute_nightly(*args):
        [read_ahead] = ingest_pool._ahead  # offered to the step, which never comes
        read_ahead.handing_out.join()
        workers.extend(read_ahead.reading.pool._processes)
        return execute(*args)

    monkeypatch.setattr(cli, "execute_nightly", execute_nightly)
    if execute is failing_run:
        with pytest.raises(RuntimeError):
            main(["run", "--as-of", AS_OF])
    else:
        assert main(["run", "--as-of", AS_OF]) == 1
    assert len(workers) == 2 and no_worker_left(workers)
    assert not ingest_pool._ahead
