"""The worker pool: colleges in chunks of about ZHENGAI_INGEST_CHUNK_BYTES, each read and typed by a
worker process (`ingest_chunk`, see pipelines/ingest/college.py) forked from a fork server, the
results handed back in order to the writer (pipelines/ingest/write.py). A worker never touches the
warehouse; a worker that dies is replaced and its chunk read in this process."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa

from pipelines.catalog import Catalog
from pipelines.ingest.college import CollegeReader, SchoolWork
from pipelines.ingest.guard import guard_worker, stop_pool
from pipelines.ingest.log import LogRow
from pipelines.settings import IngestLimits, Settings

FILE_ID_STRIDE = 100_000  # file ids are <college number> * stride + n, unique across workers
# Called once, then dropped, when a pool's workers have handed back their last chunk: until then both
# cores are busy with the workers and the writer's merging, while what follows (the last flush, the
# commit) is DuckDB's work, mostly on one core without the GIL. A caller's own slow Python
# (`zhengai run`'s GX import on a cold run, pipelines/cli.py) runs in a thread there instead.
WHEN_WORKERS_DONE: list[Callable[[], object]] = []


def chunks_by_bytes(schools: list[SchoolWork], limit: int) -> Iterator[list[SchoolWork]]:
    """Consecutive colleges in chunks of about `limit` delivered bytes (at least one college each):
    a worker's memory follows the chunk, never the number of colleges in the province."""
    chunk, size = [], 0
    for work in schools:
        if chunk and size + work.size > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(work)
        size += work.size
    if chunk:
        yield chunk


@dataclass
class ChunkTask:
    settings: Settings
    catalog: Catalog
    limits: IngestLimits
    ingested_at: dt.datetime
    schools: list[SchoolWork]


@dataclass
class ChunkResult:
    schools: list[tuple[str, list[LogRow]]]
    typed: dict[str, pa.Table]
    replace: list[tuple[str, str, int]]
    process: tuple[int, float, int] = (0, 0.0, 0)  # the process that did it: pid, CPU seconds, peak RSS (KiB)
    files_read: int = 0  # inbox files whose bytes were read (a trusted unchanged file is not)


def worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported this module once: each worker starts in
    milliseconds instead of re-importing pyarrow, fastexcel and the rest, and none inherits the
    caller's threads (DuckDB's, Dagster's) as a plain fork would."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows: spawned workers
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # pandas too: pyarrow imports it at a worker's first pa.array; imported once here, every worker has it
    context.set_forkserver_preload([__name__, "pandas"])
    return context


def start_worker_server() -> bool:
    """Start the fork server now (it is started anyway by the first worker); returns at once,
    True when there is a fork server (to stop at the end of the run)."""
    if worker_context().get_start_method() != "forkserver":
        return False
    multiprocessing.forkserver.ensure_running()
    return True


def ingest_chunk(task: ChunkTask) -> ChunkResult:
    """A few colleges read and typed without the warehouse (in a worker process or in-process)."""
    ingest = CollegeReader(task.settings, task.catalog, task.limits, task.ingested_at)
    schools = []
    try:
        for work in task.schools:
            first = len(ingest.pending_rows)
            ingest.ingest_college(work)
            schools.append((work.school, ingest.pending_rows[first:]))
    finally:
        ingest.io.shutdown(wait=True)
    deliveries = {delivery.source_file: delivery for work in task.schools for delivery in work.deliveries}
    typed = ingest.type_guarded(deliveries) if ingest.pending_files else {}
    ingest.share_subtable_counts()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return ChunkResult(
        schools,
        typed,
        ingest.pending_replace,
        (os.getpid(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss),
        ingest.files_read,
    )


def uses_pool(tasks: list[ChunkTask], limits: IngestLimits) -> bool:
    """Whether the tasks go to worker processes: more than one task, enough colleges."""
    return min(limits.workers, len(tasks)) > 1 and sum(len(task.schools) for task in tasks) >= limits.pool_min_schools


def chunk_results(
    tasks: list[ChunkTask],
    limits: IngestLimits,
    log: Callable[[str], None],
    started: PoolReading | None = None,
) -> Iterator[ChunkResult]:
    """Chunk results in order; at most two chunks per worker in flight, so memory stays flat.
    A pool whose worker died is replaced for the chunks not yet started. `started`: a pool already
    reading `tasks` (`ReadAhead`), whose queue this takes over."""
    if started is None and not uses_pool(tasks, limits):
        yield from map(ingest_chunk, tasks)
        return
    workers = min(limits.workers, len(tasks))
    queued = deque(tasks) if started is None else started.queued
    if started is not None:
        yield from started.results(log)
    while queued:
        yield from PoolReading(queued, workers).results(log)


class PoolReading:
    """One worker pool, reading the queued chunks from the moment it is made; its results are taken
    in order with `results`, until the queue is empty or a worker died (killed, out of memory). A
    chunk whose worker failed is read again in this process, college by college (`ingest_chunk`
    quarantines a college that fails again); after a worker died, no more chunks go to this pool.
    The pool's workers end with `results`, however it ends, or with `stop`."""

    def __init__(self, queued: deque[ChunkTask], workers: int, first: int = 2):
        """`first` chunks per worker handed out at once (then two in flight, as results are taken)."""
        self.queued = queued
        self.in_flight = 2 * workers
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(), initializer=guard_worker)
        self.pending: deque[tuple[ChunkTask, Future]] = deque()
        self.broken = self.finished = self.stopped = False
        while queued and len(self.pending) < first * workers and not self.broken:
            self.broken = not self.submit()

    def submit(self) -> bool:
        task = self.queued.popleft()
        try:
            self.pending.append((task, self.pool.submit(ingest_chunk, task)))
        except BrokenProcessPool:  # a worker died since the last result: the next pool takes it
            self.queued.appendleft(task)
            return False
        return True

    def results(self, log: Callable[[str], None]) -> Iterator[ChunkResult]:
        pending, queued = self.pending, self.queued
        try:
            if not pending:  # the pool broke before taking anything: one chunk in process, then a new pool
                yield ingest_chunk(queued.popleft())
            while pending:
                task, future = pending.popleft()
                try:
                    result = future.result()
                except Exception as error:  # BrokenProcessPool when the worker died; whatever it raised otherwise
                    self.broken = self.broken or isinstance(error, BrokenProcessPool)
                    log(
                        f"工作进程未能读取 {', '.join(work.school for work in task.schools)}（{type(error).__name__}），"
                        "改在主进程中读取 / the worker failed, reading these colleges in process"
                    )
                    result = ingest_chunk(task)
                while queued and len(pending) < self.in_flight and not self.broken:
                    self.broken = not self.submit()
                yield result
            self.finished = not self.broken
            while WHEN_WORKERS_DONE:
                WHEN_WORKERS_DONE.pop(0)()
        finally:
            self.stop()

    def stop(self) -> None:
        """End the workers (at once unless every result was taken); again: nothing."""
        if not self.stopped:
            self.stopped = True
            stop_pool(self.pool, graceful=self.finished)


class ReadAhead:
    """Workers reading a run's chunks before its ingest step starts (pipelines/ingest/ahead.py): the
    step takes them only for exactly the tasks it would hand out itself. The chunks are handed out
    in a thread: the first hand-out waits for the fork server's imports (0.3 s), the caller goes on."""

    def __init__(self, settings: Settings, tasks: list[ChunkTask], workers: int, first: int):
        self.settings, self.tasks = settings, tasks
        self.reading: PoolReading | None = None
        self.handing_out = threading.Thread(target=self.hand_out, args=(workers, first), name="ingest-read-ahead")
        self.handing_out.start()

    def hand_out(self, workers: int, first: int) -> None:
        with contextlib.suppress(Exception):  # no pool: the step reads as it would have
            self.reading = PoolReading(deque(self.tasks), workers, first)

    @property
    def ingested_at(self) -> dt.datetime:
        return self.tasks[0].ingested_at

    def take(self, tasks: list[ChunkTask]) -> PoolReading | None:
        """The pool reading `tasks`, or None (its workers stopped) when it reads anything else."""
        if tasks != self.tasks:
            self.stop()
        self.handing_out.join()
        return self.reading

    def stop(self) -> None:
        """Stop the workers, at once unless every result was taken; again: nothing."""
        self.handing_out.join()
        if self.reading is not None:
            self.reading.stop()
            self.reading = None


_ahead: list[ReadAhead] = []  # started for the run this process is executing (`offered`), not yet claimed


@contextmanager
def offered(ahead: ReadAhead) -> Iterator[ReadAhead]:
    """While a run executes in this process, its ingest may claim `ahead`; whatever it did not take
    is stopped when the run ends, however it ends."""
    _ahead.append(ahead)
    try:
        yield ahead
    finally:
        if ahead in _ahead:
            _ahead.remove(ahead)
        ahead.stop()


def claim_read_ahead(settings: Settings) -> ReadAhead | None:
    """The workers started ahead for an ingest of `settings`' home, once (the next claim gets None)."""
    for ahead in _ahead:
        if ahead.settings == settings:
            _ahead.remove(ahead)
            return ahead
    return None
