"""One run at a time: `zhengai run`, the nightly schedule and the inbox sensor share one file lock.

The lock is `$ZHENGAI_HOME/run.lock`, taken with `flock`: the kernel releases it when its holder
ends, however it ends (`kill -9` included), so a crashed run never blocks the next. The holder
writes its process id, start time and purpose into the file, so a second run can say who holds it.

Every Dagster run that writes the warehouse holds the lock for its whole duration (the warehouse
resource takes it when the run initialises it, see `pipelines.resources`); `zhengai run` takes it
before it starts the run, and the run inside the same thread finds it already held. Because every
live run holds the lock, a run still recorded as STARTED by a holder that stamped it, found while we
hold the lock, belongs to a process that is gone: `fail_orphaned_runs` reports it as failed.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.settings import get_settings, now_local

PID_TAG = "zhengai/pid"
ORPHAN_MESSAGE = (
    "运行进程已不存在（被终止或崩溃），下次启动时标记为失败 / the run's process is gone (killed or crashed)"
)

# Locks this process holds, by (lock path, thread): the run `zhengai run` starts in its own thread
# finds the lock already held and goes on.
_held: dict[tuple[str, int], dict] = {}


class RunInProgress(RuntimeError):
    """Another run holds the lock; the message is one Chinese line (English beside it)."""

    def __init__(self, holder: dict) -> None:
        self.holder = holder
        started = holder.get("started_at") or "时间不详"
        super().__init__(
            f"已有一次运行正在进行（{started} 开始，进程 {holder.get('pid', '?')}，{holder.get('purpose', '')}），"
            f"本次未运行，请等它结束 / a run is already in progress (started {started})"
        )


def lock_path() -> Path:
    return get_settings().home / "run.lock"


def now_text() -> str:
    return now_local().strftime("%Y-%m-%d %H:%M:%S")


def read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (ValueError, OSError):
        return {}


@contextmanager
def run_lock(purpose: str) -> Iterator[dict]:
    """Hold the run lock for the block; RunInProgress at once when another process or thread holds it."""
    path = lock_path()
    key = (str(path), threading.get_ident())
    if key in _held:
        yield _held[key]
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(read_holder(fd)) from None
        holder = {"pid": os.getpid(), "started_at": now_text(), "purpose": purpose}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder, ensure_ascii=False).encode("utf-8"), 0)
        _held[key] = holder
        try:
            yield holder
        finally:
            del _held[key]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def run_in_progress(instance) -> str | None:
    """None when no run holds the lock (runs left STARTED by dead processes are then marked failed),
    else the one-line reason to skip, for the schedule and the sensor."""
    try:
        with run_lock("检查 / probe"):
            fail_orphaned_runs(instance)
    except RunInProgress as busy:
        return str(busy)
    return None


def stamp_run(instance, run_id: str | None) -> None:
    """Record this process on the run, so a later holder of the lock can tell it died."""
    if run_id and instance is not None and instance.get_run_by_id(run_id) is not None:
        instance.add_run_tags(run_id, {PID_TAG: str(os.getpid())})


def fail_orphaned_runs(instance) -> list[str]:
    """Mark failed every run still STARTED that a lock holder stamped; call only while holding the lock."""
    import dagster as dg

    orphans = [
        run
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if PID_TAG in run.tags
    ]
    for run in orphans:
        instance.report_run_failed(run, f"{ORPHAN_MESSAGE}（进程 {run.tags[PID_TAG]}）")
    return [run.run_id for run in orphans]
