"""The worker pool: colleges in chunks of about ZHENGAI_INGEST_CHUNK_BYTES, each read and typed by a
worker process (`ingest_chunk`, see pipelines/ingest/college.py) forked from a fork server, the
results handed back in order to the writer (pipelines/ingest/write.py). A worker never touches the
warehouse; a worker that dies is replaced and its chunk read in this process."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.forkserver
import os
import resource
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import pyarrow as pa

from pipelines.catalog import Catalog
from pipelines.ingest.college import CollegeReader, SchoolWork
from pipelines.ingest.guard import guard_worker, stop_pool
from pipelines.ingest.log import LogRow
from pipelines.settings import IngestLimits, Settings

FILE_ID_STRIDE = 100_000  # file ids are <college number> * stride + n, unique across workers
# Called once, then dropped, when a pool's workers have their first chunks: from then on this process
# mostly waits for results, so a caller's own slow Python (`zhengai run`'s GX import on a cold run,
# pipelines/cli.py) runs there instead of competing for the GIL with the run's start-up.
WHILE_WORKERS_READ: list[Callable[[], object]] = []


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


def chunk_results(tasks: list[ChunkTask], limits: IngestLimits, log: Callable[[str], None]) -> Iterator[ChunkResult]:
    """Chunk results in order; at most two chunks per worker in flight, so memory stays flat.
    A pool whose worker died is replaced for the chunks not yet started."""
    if not uses_pool(tasks, limits):
        yield from map(ingest_chunk, tasks)
        return
    workers = min(limits.workers, len(tasks))
    queued = deque(tasks)
    while queued:
        yield from pool_results(queued, workers, log)


def pool_results(queued: deque[ChunkTask], workers: int, log: Callable[[str], None]) -> Iterator[ChunkResult]:
    """Results of one worker pool, until the queue is empty or a worker died (killed, out of
    memory). A chunk whose worker failed is read again in this process, college by college
    (`ingest_chunk` quarantines a college that fails again); after a worker died, no more
    chunks go to this pool. The pool's workers end with this generator, however it ends."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(), initializer=guard_worker)
    pending: deque[tuple[ChunkTask, Future]] = deque()
    finished = broken = False

    def submit() -> bool:
        task = queued.popleft()
        try:
            pending.append((task, pool.submit(ingest_chunk, task)))
        except BrokenProcessPool:  # a worker died since the last result: the next pool takes it
            queued.appendleft(task)
            return False
        return True

    try:
        while queued and len(pending) < 2 * workers and not broken:
            broken = not submit()
        while pending and WHILE_WORKERS_READ:
            WHILE_WORKERS_READ.pop(0)()
        if not pending:  # the pool broke before taking anything: one chunk in process, then a new pool
            yield ingest_chunk(queued.popleft())
        while pending:
            task, future = pending.popleft()
            try:
                result = future.result()
            except Exception as error:  # BrokenProcessPool when the worker died; whatever it raised otherwise
                broken = broken or isinstance(error, BrokenProcessPool)
                log(
                    f"工作进程未能读取 {', '.join(work.school for work in task.schools)}（{type(error).__name__}），"
                    "改在主进程中读取 / the worker failed, reading these colleges in process"
                )
                result = ingest_chunk(task)
            if queued and not broken:
                broken = not submit()
            yield result
        finished = not broken
    finally:
        stop_pool(pool, graceful=finished)
