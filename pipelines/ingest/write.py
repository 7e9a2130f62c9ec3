"""The writing half of the ingest: the one DuckDB connection, the run's transaction, and the batches
of rows and log rows the readers (pipelines/ingest/college.py, in worker processes) hand back."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import ClassVar

import duckdb
import pyarrow as pa

from pipelines.catalog import (
    Catalog,
    CatalogTable,
    create_raw_tables,
    load_catalog,
    load_header_aliases,
    with_header_aliases,
)
from pipelines.ingest.blobs import archived_whole
from pipelines.ingest.discover import Delivery, Stamp, TrustedFolder, discover_trusting
from pipelines.ingest.guard import private_dirs, stop_worker_server
from pipelines.ingest.headers import Fingerprints
from pipelines.ingest.log import LOG_COLUMNS, STATUSES, LogRow, Summary, log_table
from pipelines.ingest.pool import (
    FILE_ID_STRIDE,
    ChunkResult,
    ChunkTask,
    ReadAhead,
    SchoolWork,
    chunk_results,
    chunks_by_bytes,
    claim_read_ahead,
    start_worker_server,
    uses_pool,
)
from pipelines.ingest.stamps import racy, record_stamps, stamps_known
from pipelines.ingest.subtables import stale_subtable_siblings
from pipelines.listing import inbox_listing
from pipelines.settings import IngestLimits, Settings, now_local
from pipelines.sql import run_sql

UNSORTED = "unsorted"  # the group of deliveries that name no college


class Ingest:
    """One run over the inbox: the writing half. It owns the connection: reads what the warehouse
    already holds, hands the colleges to the readers (`chunk_results`), and writes their rows and
    log rows in batches, all in one transaction. `run()` returns a Summary."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        settings: Settings,
        catalog: Catalog | None = None,
        log: Callable[[str], None] | None = None,
        limits: IngestLimits | None = None,
        ingested_at: dt.datetime | None = None,
    ):
        self.conn = conn
        self.settings = settings
        self.catalog = catalog or load_catalog()
        self.log = log or (lambda message: None)
        self.limits = limits or IngestLimits.from_env()
        self.ingested_at = ingested_at or now_local()
        self.summary = Summary()
        self.fingerprints = Fingerprints(self.catalog)
        self.stale: list[tuple] = []  # current files mapped with other headers than now (see current_state)
        # source_file → its listing, recorded with its sha256 once loaded (only the files of the colleges read
        # are ever recorded: a trusted folder's are not gathered unless it is read, see `plan`)
        self.listings: dict[str, Stamp] = {}
        self.settled_files: list[str] = []  # the files of the colleges this run leaves alone (`changed_schools`)
        self.pool_started = False  # this run started the workers' fork server (`start_pool`): it stops it
        self.ahead: ReadAhead | None = None  # workers started before the run's step, for its tasks if they match
        self.reset_pending()

    # -- state ---------------------------------------------------------------------------------

    def prepare_warehouse(self) -> None:
        create_raw_tables(self.conn, self.catalog)
        run_sql(self.conn, "raw/ingest_log")
        run_sql(self.conn, "raw/ingest_files")

    def trust_listings(self, discovered: list[Delivery], known: dict[str, tuple[Stamp, str]], listed_at: int) -> None:
        """Give each delivery whose listing is the one a committed run hashed it with that run's
        sha256 (`known_sha`): it is then not read unless a step needs its bytes. ZHENGAI_INGEST_REHASH=1
        (`zhengai run --rehash`) trusts nothing. Remember the listings to record after this run,
        but not one that is racily clean (`racy`)."""
        for delivery in discovered:
            if delivery.stamp is None:
                continue
            if known.get(delivery.source_file, (None, None))[0] == delivery.stamp:
                delivery.known_sha = known[delivery.source_file][1]
            if not racy(delivery.stamp, listed_at):
                self.listings[delivery.source_file] = delivery.stamp

    def changed_schools(self, discovered: list[Delivery], trusted: list[TrustedFolder]) -> set[str]:
        """The colleges this run must look at (sql/raw/ingest_changed_schools.sql): those with a file
        not trusted from its listing, not current, or mapped with other headers than now. The
        others' raw rows, log rows and listings are exactly what reading them again would write
        (the log's `unchanged` aside, which every reader takes as `loaded`): they are left alone, so
        that a nightly costs what changed, not the province."""
        sources = [d.source_file for d in discovered] + [source for f in trusted for source in f.sources]
        schools = [d.school_code or UNSORTED for d in discovered] + [f.school for f in trusted for _ in f.sources]
        shas = [d.known_sha for d in discovered] + [sha for f in trusted for sha in f.shas]
        listing = pa.table(
            {
                "source_file": pa.array(sources, pa.string()),
                "school_code": pa.array(schools, pa.string()),
                "file_sha256": pa.array(shas, pa.string()),
            }
        )
        now = {table.code: self.fingerprint(table) for table in self.catalog.tables}
        mapping_now = pa.table({"table_code": list(now), "mapping_fingerprint": list(now.values())})
        self.conn.register("listing", listing)
        self.conn.register("mapping_now", mapping_now)
        try:
            return {school for (school,) in run_sql(self.conn, "raw/ingest_changed_schools").fetchall()}
        finally:
            self.conn.unregister("listing")
            self.conn.unregister("mapping_now")

    def current_state(self, schools: set[str]) -> dict[tuple[str, int, str], tuple[str, int]]:
        """(school, year, table_code) → (sha256, rows) of the data now in raw, for `schools`. A file
        mapped with other headers or aliases than the table's now (`fingerprint`) is not current:
        its sha is given as mapped (`sha@fingerprint`) so that the next run reads it again."""
        rows = run_sql(self.conn, "raw/ingest_current", {"schools": sorted(schools)}).fetchall()
        now = {table.code: self.fingerprint(table) for table in self.catalog.tables}
        self.stale = [
            (school, year, source, archived)
            for school, year, code, sha, _, fingerprint, source, archived in rows
            if code in now and fingerprint != now[code]
        ]
        return {
            (school, year, code): (sha if fingerprint == now[code] else f"{sha}@{fingerprint}", count)
            for school, year, code, sha, count, fingerprint, _, _ in rows
            if code in now
        }

    def held_in_raw(self, schools: set[str]) -> set[tuple[str, int, str]]:
        """(school, year, table_code) of the rows in raw, for `schools`: a college-year-table whose
        loaded file was later quarantined (a bad re-export) has no current log row, yet its rows
        must be replaced, not added to, when a good export comes back. One statement over all the
        tables (a query per table cost a nightly 35 round trips over 5.5 M rows)."""
        if not schools:
            return set()
        held = " union all ".join(
            f'select distinct school_code, year, $t{number} as table_code from raw."{table.table_name}" '
            "where school_code in (select unnest($schools))"
            for number, table in enumerate(self.catalog.tables)
        )
        codes = {f"t{number}": table.code for number, table in enumerate(self.catalog.tables)}
        return {tuple(row) for row in self.conn.execute(held, {"schools": sorted(schools), **codes}).fetchall()}

    def remap_from_archive(self, present: set[str]) -> list[Delivery]:
        """The archived originals of current files mapped with other headers or aliases than now and
        no longer in the inbox: read again from the archive, under their own name, so that a new
        alias reaches every college without a new export. (Call after `current_state`.)"""
        again = []
        for school, year, source, archived in self.stale:
            path = self.settings.home / archived if archived else None
            if source in present or path is None or not path.is_file():
                continue
            stat = path.stat()
            again.append(
                Delivery(
                    source_file=source,
                    school_code=school,
                    year=year,
                    folder=(school, str(year)),
                    path=path,
                    modified=dt.datetime.fromtimestamp(stat.st_mtime),
                    size=stat.st_size,
                )
            )
        return again

    def fingerprint(self, table: CatalogTable) -> str:
        return self.fingerprints.of(table)

    def previous_by_file(self, schools: set[str]) -> dict[tuple[str, str], list[dict]]:
        """(source_file, sha256) → that file's log rows from earlier runs, for `schools`."""
        cursor = self.conn.execute(
            f"select {', '.join(LOG_COLUMNS)} from raw.ingest_log "
            "where coalesce(school_code, $unsorted) in (select unnest($schools))",
            {"schools": sorted(schools), "unsorted": UNSORTED},
        )
        previous: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for values in cursor.fetchall():
            row = dict(zip(LOG_COLUMNS, values))
            previous[(row["source_file"], row["file_sha256"])].append(row)
        return previous

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Summary:
        """Colleges are read and typed in chunks by worker processes (in-process for a few colleges);
        the rows are written here in batches, all in one transaction: the warehouse shows a run
        whole or not at all. DuckDB writes a table's rows to the file as soon as they fill a row
        group, so memory follows the batch and the chunks, not the province."""
        try:
            return self.load_inbox()
        finally:
            if self.ahead is not None:
                self.ahead.stop()  # workers started ahead, not taken or left before their last result
            if self.pool_started:
                stop_worker_server()  # no process of the run outlives it

    def start_pool(self) -> None:
        """Start the workers' fork server (it imports in the background) unless it runs already."""
        if not self.pool_started and self.limits.workers > 1:
            self.pool_started = start_worker_server()

    def prepare_folders(self) -> None:
        for folder in (self.settings.archive, self.settings.quarantine):
            try:
                private_dirs(folder)
            except OSError as error:  # each file's copy then fails alone and its log row says so
                self.log(f"无法创建 {folder}（{error}）/ cannot create {folder}")

    def chunk_tasks(self, schools: list[SchoolWork]) -> list[ChunkTask]:
        return [
            ChunkTask(self.settings, self.catalog, self.limits, self.ingested_at, chunk)
            for chunk in chunks_by_bytes(schools, self.limits.chunk_bytes)
        ]

    def load_inbox(self) -> Summary:
        """The run itself, between the start and the end of its worker processes' fork server."""
        self.prepare_folders()
        self.prepare_warehouse()
        present, schools = self.plan()
        tasks = self.chunk_tasks(schools)
        started = self.ahead.take(tasks) if self.ahead is not None else None
        if started is not None:  # its fork server ends with this run, as one it starts
            self.pool_started = True
        elif uses_pool(tasks, self.limits):  # a run that reads little stays in this process
            self.start_pool()
        saved = self.bulk_settings()
        self.conn.execute("begin transaction")
        results = chunk_results(tasks, self.limits, self.log, started)
        try:
            for result in results:
                self.merge(result)
                if self.pending_count >= self.limits.batch_rows:
                    self.flush()
            self.flush()
            self.mark_unchanged(self.settled_files)
            withdrawn = self.forget_withdrawn_quarantines(present)
        except BaseException:
            self.conn.execute("rollback")
            raise
        finally:
            results.close()  # a failed run stops its workers now, not when the generator is collected
            self.restore_settings(saved)
        try:  # with the caller's memory limit, not the load's: it aggregates the log (1,550 colleges: OOM)
            self.update_college_year_inputs({work.school for work in schools} | withdrawn)
        except BaseException:
            self.conn.execute("rollback")
            raise
        # committed with the caller's settings: a commit this large then checkpoints straight away
        # instead of first writing everything to the WAL (0.2 s of 0.75 s). A small one (a nightly) is
        # not checkpointed here: its rows are safe in the WAL, and `publish` checkpoints the run's file.
        self.conn.execute("commit")
        return self.summary

    def plan(self) -> tuple[set[str], list[SchoolWork]]:
        """The source files in the inbox (remapped archive copies included) and the colleges to read:
        only those `changed_schools` names; the others are counted unchanged and not touched. A
        college folder trusted whole from its listing (`discover_trusting`) gets its deliveries
        only if it is read."""
        known = {} if self.limits.rehash else stamps_known(self.conn)
        if not known:  # every file will be read: the workers' imports overlap the listing
            self.start_pool()
        listing = inbox_listing(self.settings.inbox)  # the one `zhengai run` took, else a new one
        found = discover_trusting(self.settings.inbox, self.limits, listing, known)
        discovered = [delivery for group in found if isinstance(group, list) for delivery in group]
        self.trust_listings(discovered, known, listing.listed_at)
        trusted = [group for group in found if isinstance(group, TrustedFolder)]
        changed = self.changed_schools(discovered, trusted) if known else None
        by_school: dict[str, list[Delivery | TrustedFolder]] = defaultdict(list)
        for group in found:
            for item in [group] if isinstance(group, TrustedFolder) else group:
                by_school[item.school if isinstance(item, TrustedFolder) else item.school_code or UNSORTED].append(item)
        if changed is None:
            changed = set(by_school) | self.logged_schools()
        changed |= {school for school in set(by_school) - changed if not self.archived_whole(by_school[school])}
        for school in set(by_school) - changed:
            settled = [source for item in by_school.pop(school) for source in _sources(item)]
            self.settled_files += settled
            self.summary.unchanged += len(settled)
            self.summary.schools.add(school)
        present = {delivery.source_file for delivery in discovered} | {
            source for folder in trusted for source in folder.sources
        }
        deliveries = {
            school: self.deliveries_of(items, known, listing.listed_at) for school, items in by_school.items()
        }
        return present, self.school_work(changed, deliveries, present)

    def deliveries_of(
        self, items: list[Delivery | TrustedFolder], known: dict[str, tuple[Stamp, str]], listed_at: int
    ) -> list[Delivery]:
        """A college's deliveries in discovery order, those of a trusted folder made now."""
        deliveries = []
        for item in items:
            if isinstance(item, TrustedFolder):
                made = item.deliveries(self.settings.inbox, self.limits)
                self.trust_listings(made, known, listed_at)
                deliveries += made
            else:
                deliveries.append(item)
        return deliveries

    def school_work(
        self, changed: set[str], by_school: dict[str, list[Delivery]], present: set[str]
    ) -> list[SchoolWork]:
        """The colleges to read (`by_school`, with the archived originals to read again added), with
        what the warehouse holds of them. Adds the remapped copies' source files to `present`."""
        state = self.current_state(changed)
        for key in self.held_in_raw(changed):  # rows whose file's log row a later quarantine replaced
            state.setdefault(key, ("", 0))
        previous = self.previous_by_file(changed)
        self.stale += stale_subtable_siblings(self.stale, previous)
        remapped = self.remap_from_archive(present)
        for delivery in remapped:
            by_school.setdefault(delivery.school_code or UNSORTED, []).append(delivery)
        present |= {delivery.source_file for delivery in remapped}
        state_by_school: dict[str, dict] = defaultdict(dict)
        for key, value in state.items():
            state_by_school[key[0]][key] = value
        previous_by_source: dict[str, dict] = defaultdict(dict)
        for key, rows in previous.items():
            previous_by_source[key[0]][key] = rows
        schools = []
        for number, school in enumerate(sorted(by_school)):
            deliveries = by_school[school]
            known = {key: rows for d in deliveries for key, rows in previous_by_source.get(d.source_file, {}).items()}
            schools.append(
                SchoolWork(school, deliveries, state_by_school.get(school, {}), known, number * FILE_ID_STRIDE)
            )
        return schools

    def archived_whole(self, items: list[Delivery | TrustedFolder]) -> bool:
        """Whether every file's archived copy is there at its full size (a college with a copy
        missing or cut short is read, and its copy written again)."""
        root = str(self.settings.archive)
        return all(archived_whole(f"{root}/{name[:2]}/{name}", size) for name, size in _archive_copies(items))

    def logged_schools(self) -> set[str]:
        """Every college in the log (a run that trusts no listing looks at them all)."""
        found = self.conn.execute("select distinct school_code from raw.ingest_log where school_code is not null")
        return {school for (school,) in found.fetchall()}

    def update_college_year_inputs(self, schools: set[str]) -> None:
        """`raw.college_year_inputs` of the colleges this run wrote (all of them the first time)."""
        exists = self.conn.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'college_year_inputs'"
        ).fetchone()[0]
        run_sql(self.conn, "raw/college_year_inputs", {"every": not exists, "schools": sorted(schools)})

    def mark_unchanged(self, sources: list[str]) -> None:
        """The log rows of the files of the colleges left alone say `unchanged`, as reading them
        again would have written (only a file loaded by the last run still says `loaded`)."""
        settled_files = pa.table({"source_file": pa.array(sources, pa.string())})  # noqa: F841 (read by DuckDB)
        self.conn.execute(
            "update raw.ingest_log set status = 'unchanged' where status = 'loaded' "
            "and source_file in (select source_file from settled_files)"
        )

    def forget_withdrawn_quarantines(self, present: set[str]) -> set[str]:
        """A refused file the college has taken out of the inbox is no longer its problem: its
        quarantine rows leave the log, as a rebuild from the same inbox would never have logged them
        (a file that had loaded keeps its rows: the archive is the record of what was delivered)."""
        quarantined = self.conn.execute("select distinct source_file from raw.ingest_log where status = 'quarantined'")
        # the few quarantined files looked up in `present`, not the inbox's 48,500 files handed to DuckDB
        withdrawn = sorted(source for (source,) in quarantined.fetchall() if source not in present)
        if not withdrawn:
            return set()
        deleted = self.conn.execute(
            "delete from raw.ingest_log where status = 'quarantined' "
            "and source_file in (select unnest($withdrawn)) returning school_code",
            {"withdrawn": withdrawn},
        ).fetchall()
        return {school for (school,) in deleted if school is not None}

    BULK_SETTINGS: ClassVar[dict[str, object]] = {
        "threads": 1,
        "preserve_insertion_order": False,
        "checkpoint_threshold": "16 GiB",
    }

    def bulk_settings(self) -> dict[str, object]:
        """Settings for the load, returning the ones they replace (restored after the run).

        The batches are many small appends to some 30 tables: one DuckDB thread does them fastest
        (the workers have the other CPUs), and nothing is checkpointed before the final commit.
        DuckDB's memory is capped (ZHENGAI_INGEST_MEMORY_LIMIT): the rows it has written to the
        file stay cached otherwise, and the process would grow with the province.
        """
        saved = {}
        for name, value in {**self.BULK_SETTINGS, "memory_limit": self.limits.memory_limit}.items():
            saved[name] = self.conn.execute("select current_setting($name)", {"name": name}).fetchone()[0]
            self.conn.execute(f"set {name} = $value", {"value": value})
        return saved

    def restore_settings(self, saved: dict[str, object]) -> None:
        for name, value in saved.items():
            self.conn.execute(f"set {name} = $value", {"value": value})

    def merge(self, result: ChunkResult) -> None:
        pid, cpu, peak = result.process
        self.summary.processes[pid] = (cpu, peak)  # cumulative per process: the last report holds
        self.summary.chunks_read[pid] += 1
        self.summary.files_read += result.files_read
        for school, rows in result.schools:
            for row in rows:
                self.record(row)
            self.summary.schools.add(school)
            counts = {status: sum(row.status == status for row in rows) for status in STATUSES}
            self.log(
                f"{school}: {counts['loaded']} loaded, {counts['unchanged']} unchanged, "
                f"{counts['quarantined']} quarantined"
            )
        for table_name, typed in result.typed.items():
            self.pending_typed[table_name].append(typed)
            self.summary.rows_loaded[table_name] += typed.num_rows
            self.pending_count += typed.num_rows
        self.pending_replace.extend(result.replace)

    def flush(self) -> None:
        """Write the batch inside the run's transaction: delete replaced rows, insert rows and log."""
        if not self.pending_rows:
            return
        log = log_table(self.pending_rows)
        conn = self.conn
        for table_name, school, year in self.pending_replace:
            conn.execute(
                f'delete from raw."{table_name}" where school_code = $school and year = $year',
                {"school": school, "year": year},
            )
        for table_name, parts in self.pending_typed.items():
            # a replacement scan, not register(): a registered table stayed in memory after unregister
            ingest_batch = pa.concat_tables(parts)  # noqa: F841 (read by name by DuckDB's replacement scan)
            conn.execute(f'insert into raw."{table_name}" by name select * from ingest_batch')
        ingest_log_batch = log  # noqa: F841 (read by name by DuckDB's replacement scan)
        conn.execute("delete from raw.ingest_log where source_file in (select source_file from ingest_log_batch)")
        conn.execute("insert into raw.ingest_log by name select * from ingest_log_batch")
        record_stamps(conn, self.pending_rows, self.listings, self.ingested_at)
        self.reset_pending()

    def reset_pending(self) -> None:
        self.pending_rows: list[LogRow] = []
        self.pending_typed: dict[str, list[pa.Table]] = defaultdict(list)
        self.pending_replace: list[tuple[str, str, int]] = []
        self.pending_count = 0

    def record(self, row: LogRow) -> None:
        self.pending_rows.append(row)
        self.summary.count(row)


def ingest_catalog(catalog: Catalog | None = None) -> Catalog:
    """The catalog an ingest reads with: `catalog` (default the platform's) with the header aliases a data
    officer accepted (reference/header_aliases.csv)."""
    return with_header_aliases(catalog or load_catalog(), load_header_aliases(strict=False))


def ingest_inbox(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: Catalog | None = None,
    log: Callable[[str], None] | None = None,
    limits: IngestLimits | None = None,
    ingested_at: dt.datetime | None = None,
) -> Summary:
    """Ingest everything in `settings.inbox` into `conn`; see the module docstring for the rules.
    The header aliases a data officer accepted (reference/header_aliases.csv) join the catalog's
    headers for this run."""
    catalog = ingest_catalog(catalog)
    ahead = claim_read_ahead(settings)  # `zhengai run`'s workers started on a cold run (pipelines/ingest/ahead.py)
    if ahead is not None and ingested_at is None:  # the time its tasks carry: the run records one
        ingested_at = ahead.ingested_at
    ingest = Ingest(conn, settings, catalog, log, limits, ingested_at)
    ingest.ahead = ahead
    return ingest.run()


def _sources(item: Delivery | TrustedFolder) -> list[str]:
    return item.sources if isinstance(item, TrustedFolder) else [item.source_file]


def _archive_copies(items: list[Delivery | TrustedFolder]) -> Iterator[tuple[str, int]]:
    """(name in the archive, size) of the items' files trusted from their listing."""
    for item in items:
        if isinstance(item, TrustedFolder):
            yield from zip(item.archived, item.sizes)
        elif item.known_sha:
            yield item.known_sha + item.suffix, item.size
