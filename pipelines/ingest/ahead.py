"""Reading ahead on a cold run: the ingest's workers start reading while `zhengai run` starts up.

Until its ingest step starts, a run imports Dagster and the definitions and opens the Dagster
instance: some 3.5 s of single-threaded Python, one core idle. On a cold run (no working warehouse
yet: every college is read, whatever the warehouse would say) the ingest's plan is known as soon as
the inbox is listed: it is made here, on an empty in-memory warehouse, and its chunks go to the
workers at once (`read_ahead`). The step makes its own plan as always and takes these workers only
when it hands out exactly the same tasks (same colleges, deliveries and order, catalog with its
header aliases, limits, `ingested_at`); otherwise they are stopped and the step reads as it would
have (`ReadAhead.take`). Whatever the run does not take ends with it, its fork server too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.ingest.guard import stop_worker_server
from pipelines.ingest.pool import ReadAhead, offered, uses_pool
from pipelines.ingest.write import Ingest, ingest_catalog
from pipelines.listing import InboxListing, shared_listing
from pipelines.settings import IngestLimits, Settings, now_local

# chunks per worker handed out before the step takes results: while Dagster starts up (3.5-5 s on two
# cores) a worker reads 3-4 of the demo's chunks of 4 MiB; their results wait in this process
READ_AHEAD = 4


@contextmanager
def read_ahead(settings: Settings, listing: InboxListing) -> Iterator[ReadAhead | None]:
    """For the run executed inside: on a cold run, workers reading the ingest's chunks of `listing`
    already, for its ingest step to claim (`pipelines.ingest.write.ingest_inbox`). Nothing outlives
    the block: workers not taken are killed, the fork server is stopped."""
    if settings.work_warehouse.exists():  # a warehouse, even half built, decides what the ingest reads
        yield None
        return
    try:
        try:
            ahead = start_reading(settings, listing)
        except Exception:  # the step plans again and reports what failed, as without reading ahead
            ahead = None
        if ahead is None:
            yield None
            return
        with offered(ahead):
            yield ahead
    finally:
        stop_worker_server()


def start_reading(settings: Settings, listing: InboxListing) -> ReadAhead | None:
    """The cold ingest's tasks, planned on an empty warehouse, handed to a worker pool; None when the
    ingest would read in process (a few colleges, one worker)."""
    limits = IngestLimits.from_env()
    catalog = ingest_catalog()  # as `ingest_inbox`'s
    with duckdb.connect() as conn, shared_listing(listing):
        ingest = Ingest(conn, settings, catalog, limits=limits, ingested_at=now_local())
        ingest.prepare_folders()
        ingest.prepare_warehouse()
        _, schools = ingest.plan()  # a cold plan starts the fork server (`Ingest.plan`)
    tasks = ingest.chunk_tasks(schools)
    if not uses_pool(tasks, limits):
        return None
    return ReadAhead(settings, tasks, min(limits.workers, len(tasks)), READ_AHEAD)
