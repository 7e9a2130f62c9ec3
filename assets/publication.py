"""The publication steps: the next warehouse copies staged while the pages render, then published with the site.

Once every table is built, `publish/staged_copies` begins the next full and analyst copies (assets/publish.py says
what they hold) in a thread, beside the published ones (`staged_copy_path`): the page steps after it only read the
work file, and their Python shares the machine with the copies' DuckDB work. The last step, `publish/warehouse`,
waits for them and for the site steps' work in threads, then renames both copies over the published ones and points
the site at the run's build (pipelines/sitebuild.py). A failure anywhere before publishes nothing; copies staged by a
run that stopped are removed by the next.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import dagster as dg

from assets.publish import (
    ANALYST_COPY_MODE,
    ANALYST_GROWTH,
    PublicationRecord,
    analyst_copy_path,
    asset_descriptions,
    explain_published_copy,
    fingerprint_work_tables,
    publication_version,
    publish_analyst_copy,
    update_analyst_copy,
)
from pipelines.files import atomic_copy
from pipelines.resources import WarehouseResource, prepared
from pipelines.sitebuild import (
    finish_background_work,
    in_thread,
    old_builds_removed,
    publish_site,
    start_background_work,
)

# The nightly run starts at 02:00 Asia/Shanghai and takes minutes: a copy older than this by 09:00 is stale.
FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 9 * * *", lower_bound_delta=dt.timedelta(hours=7), timezone="Asia/Shanghai"
)


def build_staged_copies(tables: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The step that begins the next copies once every table is built: they are staged in a thread while the page
    steps (which only read the work file) render, and the publication then mostly renames them."""

    @dg.asset(
        key=["publish", "staged_copies"],
        group_name="publish",
        kinds={"duckdb"},
        deps=list(tables),
        # run as soon as the tables are done, before the pages: the copies' DuckDB work then shares the machine
        # with the pages' Python instead of following it
        op_tags={"dagster/priority": "1"},
    )
    def staged_copies(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Begin staging the next full and analyst copies beside the published ones (in a thread; see
        `publish_copies`); the publication (publish/warehouse) waits for them and replaces nothing if they failed."""
        start_background_work(context.run_id)  # the pages left to the publication overlap the copies' DuckDB work
        begin_staging(context.run_id, warehouse, asset_descriptions(context.job_def.asset_layer.asset_graph))
        return dg.MaterializeResult(metadata={"staged": dg.MetadataValue.path(str(warehouse.publish_path().parent))})

    return staged_copies


def build_published_warehouse(upstream: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The last asset of a run: depends on every other asset, so a failed run never publishes."""

    @dg.asset(
        key=["publish", "warehouse"],
        group_name="publish",
        kinds={"duckdb"},
        deps=list(upstream),
        freshness_policy=FRESHNESS,
    )
    def published_warehouse(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Copy of the working warehouse at $ZHENGAI_HOME/warehouse.duckdb, commented, typed plainly, with a
        `report` schema of views, replaced atomically; then the run's site build becomes
        $ZHENGAI_HOME/site, switched in one rename (pipelines/sitebuild.py)."""
        descriptions = asset_descriptions(context.job_def.asset_layer.asset_graph)
        start_background_work(context.run_id)
        with old_builds_removed(context.run_id):
            # the site steps' work in threads goes on while the copies are staged; its failure publishes nothing
            staged = staged_copies_of(context.run_id, warehouse, descriptions)
            changed = publish_copies(warehouse, descriptions, partial(finish_background_work, context.run_id), staged)
        target = warehouse.publish_path()
        site = publish_site(context.run_id)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(target)),
                "analyst_copy": dg.MetadataValue.path(str(analyst_copy_path(target))),
                "bytes": target.stat().st_size,
                "tables_changed": "all" if changed is None else len(changed),
                "site_build": dg.MetadataValue.path(str(site)) if site else "(no pages built in this run)",
            }
        )

    return published_warehouse


# run id → the copies its staged_copies step is staging in a thread (`stage_copies`), awaited by the publication
STAGING: dict[str, Future] = {}


@dataclass
class StagedCopies:
    """The next copies, staged beside the published ones (`staged_copy_path`), and what the record will say."""

    record: PublicationRecord
    version: str
    prints: dict[str, str]
    changed: set[str] | None  # the tables that differ from the published copies (None: all rebuilt)
    analyst_fresh_bytes: int = 0


def begin_staging(run_id: str, warehouse: WarehouseResource, descriptions: Mapping[str, str]) -> None:
    """Stage run `run_id`'s copies in a thread (`stage_copies`); `staged_copies_of` waits for them."""
    # a run that failed after its staging began never waited for it: in a process that goes on (a test session),
    # its thread must not write the staged files while this one does
    for earlier in [STAGING.pop(other) for other in list(STAGING) if other != run_id]:
        wait([earlier])
    STAGING[run_id] = in_thread(f"staged-copies-{run_id}", stage_copies, warehouse, descriptions)


def staged_copies_of(run_id: str, warehouse: WarehouseResource, descriptions: Mapping[str, str]) -> StagedCopies:
    """The copies run `run_id`'s staged_copies step began (raising their failure), or staged now when it did not."""
    begun = STAGING.pop(run_id, None)
    return begun.result() if begun is not None else stage_copies(warehouse, descriptions)


def publish_copies(
    warehouse: WarehouseResource,
    descriptions: Mapping[str, str],
    staged_hook: Callable[[], object] | None = None,
    staged: StagedCopies | None = None,
) -> set[str] | None:
    """Publish the full and the analyst copy from what changed since they were built (see PublicationRecord);
    returns the changed tables (None: everything was rebuilt). `staged_hook` is called once both copies are staged
    (by `stage_copies`, now unless `staged` is given), before anything published is replaced: what it raises
    leaves both copies as they were."""
    target = warehouse.publish_path()
    if staged is None:
        staged = stage_copies(warehouse, descriptions)
    try:
        if staged_hook is not None:
            staged_hook()
    except BaseException:
        discard_staged_copies(target)  # copies that will not be published are not left beside the published ones
        raise
    if staged.changed == set():
        return staged.changed
    staged.record.forget()
    for published in (target, analyst_copy_path(target)):
        os.replace(staged_copy_path(published), published)
    staged.record.save(staged.version, staged.prints, staged.analyst_fresh_bytes)
    return staged.changed


def stage_copies(warehouse: WarehouseResource, descriptions: Mapping[str, str]) -> StagedCopies:
    """The next full copy and analyst copy, complete and flushed beside the published ones, unless nothing changed
    (then nothing is staged). Reads the work file only; on failure nothing is left staged."""
    version = publication_version(descriptions)
    target = warehouse.publish_path()
    record = PublicationRecord(target)
    discard_staged_copies(target)  # left by a run that stopped before its publication
    with warehouse.connect() as conn:
        conn.execute("checkpoint")  # before the fingerprints' reads start (publish's own checkpoint is then a no-op)
    try:
        # the tables are fingerprinted (DuckDB threads) while the full copy is made and explained (mostly one thread)
        with ThreadPoolExecutor(1) as pool:
            fingerprinting = pool.submit(fingerprint_work_tables, warehouse)
            warehouse.publish(
                prepare=lambda conn: explain_published_copy(conn, descriptions), target=staged_copy_path(target)
            )
            prints = fingerprinting.result()
        staged = StagedCopies(record, version, prints, record.changed(version, prints))
        if staged.changed == set():
            discard_staged_copies(target)
        else:
            staged.analyst_fresh_bytes = stage_analyst_copy(target, staged, descriptions)
    except BaseException:
        discard_staged_copies(target)
        raise
    return staged


def stage_analyst_copy(target: Path, staged: StagedCopies, descriptions: Mapping[str, str]) -> int:
    """Stage the analyst copy from the staged full copy: masked afresh, or the previous one updated with the changed
    tables; returns its size when last built afresh."""
    analyst, full = analyst_copy_path(target), staged_copy_path(target)
    fresh_bytes = staged.record.before.get("analyst_fresh_bytes")
    if staged.changed is None or not fresh_bytes or analyst.stat().st_size > ANALYST_GROWTH * fresh_bytes:
        return publish_analyst_copy(full, staged_copy_path(analyst)).stat().st_size
    prepare = prepared(update_analyst_copy(full, staged.changed, descriptions))
    atomic_copy(analyst, staged_copy_path(analyst), ANALYST_COPY_MODE, prepare)
    return fresh_bytes


def discard_staged_copies(published: Path) -> None:
    """Remove the staged copies beside `published` and its analyst copy, and the staging files of their writes."""
    for copy in (published, analyst_copy_path(published)):
        staged = staged_copy_path(copy)
        for path in [staged, *staged.parent.glob(f".{glob.escape(staged.name)}.*.tmp")]:
            path.unlink(missing_ok=True)


def staged_copy_path(published: Path) -> Path:
    """Where the next copy of `published` is built (complete, flushed) before it is renamed over it."""
    return published.with_name(f".{published.name}.next")
