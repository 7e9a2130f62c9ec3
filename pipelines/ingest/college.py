"""The reading half of the ingest: one college's deliveries hashed, archived, identified, read, mapped
and typed, in a worker process (pipelines/ingest/pool.py) or in the writer's process for a few
colleges. Nothing here opens the warehouse (tests/test_ingest_package.py checks that no module of
this half imports duckdb): the typed rows and log rows go back to pipelines/ingest/write.py, which
owns the connection and the transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import zipfile
import zlib
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import fastexcel
import pyarrow as pa

from pipelines.catalog import BASE_VERSION, Catalog, CatalogTable, load_crosswalk
from pipelines.ingest.blobs import Blobs, _write_once, archived_whole, changed_while_read
from pipelines.ingest.coerce import type_chunk
from pipelines.ingest.discover import WORKBOOK_SUFFIXES, Delivery
from pipelines.ingest.guard import (
    Problem,
    bounded_name,
    check_workbook,
    formula_problem,
    open_regular,
    private_dirs,
    uncomputed_formulas,
    unexpected,
    write_private,
)
from pipelines.ingest.headers import (
    Fingerprints,
    HeaderMap,
    check_placeable,
    extract,
    find_header,
    period_year,
    unmapped_headers,
)
from pipelines.ingest.identify import Candidate, Identifying
from pipelines.ingest.log import LogRow, Summary
from pipelines.ingest.read import Grid, read_csv_grid, read_xlsx_exported_at, read_xlsx_grid
from pipelines.ingest.subtables import SubtableLoading
from pipelines.settings import IngestLimits, Settings


@dataclass
class SchoolWork:
    school: str
    deliveries: list[Delivery]
    state: dict  # (school, year, table_code) → (sha256, rows) now in raw
    previous: dict  # (source_file, sha256) → earlier log rows
    file_base: int

    @property
    def size(self) -> int:
        """Bytes to read: a file trusted by its listing counts nothing (it is read only if needed)."""
        return sum(delivery.size for delivery in self.deliveries if delivery.known_sha is None)


class CollegeReader(Identifying, SubtableLoading):
    """Reads colleges' deliveries into typed Arrow rows and log rows, in a worker process or in
    the writer's: hashes, archives, identifies, reads, maps headers and types; quarantines a file
    that cannot be used. It never touches the warehouse: what it queues (`pending_*`) goes back
    to the writer in a `ChunkResult` (pipelines/ingest/pool.py)."""

    def __init__(self, settings: Settings, catalog: Catalog, limits: IngestLimits, ingested_at: dt.datetime):
        self.settings = settings
        self.catalog = catalog
        self.limits = limits
        self.ingested_at = ingested_at
        self.summary = Summary()
        self.readers: dict[str, fastexcel.ExcelReader] = {}
        self.archived: set[str] = set()
        self.within_limits: set[str] = set()  # sha256 of the workbooks checked against the limits
        self.archive_dir = settings.archive.relative_to(settings.home).as_posix()  # as logged in archived_path
        self.archive_root = str(settings.archive)
        self.writes: list[Future] = []
        # one writer thread: the copies are file-system work, and more threads only contend for it
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-io")
        self.file_base = 0  # ids of a college's files start here (see pool.FILE_ID_STRIDE)
        self.next_file_id = 0
        self.files_read = 0  # inbox files whose bytes this reader read (a trusted unchanged file is not)
        self.seen_zips: set[str] = set()  # zips archived while reading this college
        self.fingerprints = Fingerprints(catalog)
        self.table_codes = frozenset(catalog.codes)
        self.subtables_named: dict[str, CatalogTable | None] = {}  # file stem → the sub-table it names
        self.crosswalk = load_crosswalk()  # newer platforms' table codes and names → V2 tables
        self.shaped: dict[tuple[str, str], CatalogTable] = {}  # sub-table shapes with their V2 table's headers
        self.reset_pending()

    def fingerprint(self, table: CatalogTable) -> str:
        return self.fingerprints.of(table)

    # -- archive and quarantine ----------------------------------------------------------------

    def archive(self, data: bytes, sha: str, suffix: str, source: tuple[Path, os.stat_result] | None = None) -> str:
        """Copy to `archive/<sha[:2]>/<sha><ext>` (once; written in the background, awaited per college).

        With ZHENGAI_ARCHIVE_HARDLINK=1 a plain inbox file is hard-linked instead of copied.
        """
        relative = f"{sha[:2]}/{sha}{suffix}"
        if relative not in self.archived:
            self.archived.add(relative)
            link = source if self.limits.archive_hardlink else None
            self.writes.append(self.io.submit(_write_once, self.settings.archive / relative, data, link))
        return f"{self.archive_dir}/{relative}"

    def wait_for_writes(self) -> None:
        writes, self.writes = self.writes, []
        for write in writes:
            write.result()

    def quarantine(self, delivery: Delivery, data: bytes | None, problem: Problem, table: str | None) -> None:
        """Copy to `quarantine/<school>/<year>/` beside a `<name>.reason.txt` in Chinese and English
        (names cut to the file system's limit, files private to the pipeline's user)."""
        folder = private_dirs(self.settings.quarantine, *(bounded_name(part) for part in delivery.folder))
        name = delivery.name
        if data is not None:
            write_private(folder / bounded_name(name), data)
        what = f"表 {table}" if table else "未识别的表"
        text = (
            f"文件：{delivery.source_file}\n表格：{what}\n原因：{problem.zh}\n\n"
            f"File: {delivery.source_file}\nTable: {table or 'not identified'}\nReason: {problem.en}\n"
        )
        write_private(folder / bounded_name(name, ".reason.txt"), text.encode("utf-8", "replace"))

    # -- outcomes ------------------------------------------------------------------------------

    def record(self, row: LogRow) -> None:
        self.pending_rows.append(row)
        self.summary.count(row)

    def quarantined_unexpected(self, candidate: Candidate, error: Exception) -> None:
        """A file whose loading failed in a way no check foresaw: quarantined alone, the error named."""
        self.quarantined(
            candidate.delivery,
            candidate.sha,
            self.archive_path(candidate),
            None,
            unexpected(candidate.delivery.name, error),
            candidate.table,
        )

    def quarantined(
        self,
        delivery: Delivery,
        sha: str | None,
        archived: str | None,
        data: bytes | None,
        problem: Problem,
        table: CatalogTable | None = None,
        title: str | None = None,
        exported_at: dt.datetime | None = None,
    ) -> None:
        label = f"{table.code} {table.name_zh}" if table else None
        if table is not None and table.platform_version != BASE_VERSION:  # a sub-table: logged as its V2 table
            label = f"{table.platform_version} {label}（并入表{self.catalog.by_name(table.table_name).code}）"
            table = self.catalog.by_name(table.table_name)
        try:
            self.quarantine(delivery, data, problem, label)
        except OSError as error:  # the copy is a convenience: the log row below still says why
            problem = Problem(
                f"{problem.zh}（隔离副本未能写入：{error}）", f"{problem.en} (quarantine copy not written: {error})"
            )
        self.record(
            LogRow(
                delivery.source_file,
                sha,
                archived,
                delivery.school_code,
                delivery.year,
                table.code if table else None,
                "quarantined",
                0,
                problem.zh,
                problem.en,
                title,
                period_year(title or ""),
                exported_at,
                self.ingested_at,
                [],
                0,
            )
        )

    # -- one college ---------------------------------------------------------------------------

    def ingest_school(self, deliveries: list[Delivery], state, previous) -> None:
        """Hash, archive, identify and read one college's deliveries into the pending batch. Any
        failure while one file is read, identified or loaded quarantines that file with its reason;
        the college's other files go on."""
        candidates: list[Candidate] = []
        blobs = Blobs(self.read_deferred)
        self.seen_zips: set[str] = set()
        self.readers = {}
        for delivery in deliveries:
            mark = self.pending_mark()
            try:
                found = self.identify(delivery, previous, blobs)
            except Exception as error:
                self.pending_rollback(mark)
                self.quarantined(delivery, None, None, None, unexpected(delivery.name, error))
                continue
            if found is not None:
                sha, tables = found
                candidates.extend(Candidate(delivery, sha, table, sheet) for table, sheet in tables)
        chosen = self.resolve_duplicates(candidates, blobs)
        for candidate in [candidate for candidate in chosen if candidate.table.platform_version == BASE_VERSION]:
            mark = self.pending_mark()
            try:
                key = (candidate.delivery.school_code, candidate.delivery.year, candidate.table.code)
                current = state.get(key)
                if current and current[0] == candidate.sha:
                    self.unchanged(candidate, previous, current[1])
                elif problem := self.over_limits(candidate.delivery, candidate.sha, blobs[candidate.sha]):
                    self.quarantined(
                        candidate.delivery,
                        candidate.sha,
                        self.archive_path(candidate),
                        blobs[candidate.sha],
                        Problem(
                            problem.zh + self.kept_note(key in state), problem.en + self.kept_note_en(key in state)
                        ),
                        candidate.table,
                    )
                else:
                    self.load(candidate, blobs[candidate.sha], replace=key in state)
                    state[key] = (candidate.sha, 0)
            except Exception as error:
                self.pending_rollback(mark)
                self.quarantined_unexpected(candidate, error)
        self.load_subtable_groups(chosen, state, previous, blobs)
        self.readers = {}
        self.wait_for_writes()

    def identify(self, delivery: Delivery, previous, blobs: Blobs) -> tuple[str, list] | None:
        """Hash (or trust the recorded sha256 of an unchanged listing), archive, check against the
        limits and find the tables of one delivery: (sha256, [(table, sheet)]), or None when it was
        quarantined. A trusted file's bytes stay unread unless a step below needs them (`Blobs`)."""
        if not delivery.readable:  # a symlink, FIFO, device or a file over the size limit: never opened
            self.quarantined(delivery, None, None, None, delivery.problem)
            return None
        if delivery.known_sha is not None:
            sha, stat = delivery.known_sha, None
            blobs.defer(sha, delivery)
        else:
            try:
                data, stat = self.read_delivery(delivery)
            except Problem as problem:
                self.quarantined(delivery, None, None, None, problem)
                return None
            sha = blobs.hashed(data)
        archived = self.archive_once(delivery, sha, blobs, (delivery.path, stat) if stat else None)
        if delivery.problem:
            self.quarantined(delivery, sha, archived, blobs.available(sha), delivery.problem)
            return None
        known = previous.get((delivery.source_file, sha), [])
        if (
            known
            and all(row["status"] != "quarantined" and row["table_code"] in self.table_codes for row in known)
            and not self.holds_subtable(delivery, known)
        ):  # identified in an earlier run; sheets looked up only to read
            tables = [(self.catalog.by_code(row["table_code"]), None) for row in known]
        elif subtable := self.known_subtable(delivery, known):
            tables = [(subtable, None)]
        else:
            tables = self.over_limits(delivery, sha, blobs[sha]) or self.tables_of(delivery, blobs[sha], sha)
        if isinstance(tables, Problem):
            self.quarantined(delivery, sha, archived, blobs[sha], tables)
            return None
        return sha, tables

    def read_delivery(self, delivery: Delivery) -> tuple[bytes, os.stat_result | None]:
        """The delivery's bytes (and the stat of what was read); a zip member's zip is archived
        with the first member read. A file that cannot be read is a Problem saying so."""
        try:
            data, stat = delivery.read_with_stat(self.limits)
        except Problem:  # it stopped being a regular file, or grew, since it was listed
            raise
        except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as error:
            raise Problem(
                f"无法读取文件 {delivery.name}（压缩包成员损坏，或文件在读取时被移动或删除）：请重新提交",
                f"cannot read {delivery.name} ({type(error).__name__}: {error}): deliver it again",
            ) from error
        self.files_read += 1
        if delivery.zip_parent and delivery.zip_parent not in self.seen_zips:
            self.seen_zips.add(delivery.zip_parent)
            with open_regular(delivery.path, delivery.zip_parent) as stream:
                zip_bytes = stream.read()
            self.archive(zip_bytes, hashlib.sha256(zip_bytes).hexdigest(), ".zip")
        return data, stat

    def read_deferred(self, delivery: Delivery) -> bytes:
        """A trusted file's bytes, read when a step needs them: they must still be the recorded ones."""
        data, _ = self.read_delivery(delivery)
        if hashlib.sha256(data).hexdigest() != delivery.known_sha:
            raise changed_while_read(delivery)
        return data

    def archive_once(
        self, delivery: Delivery, sha: str, blobs: Blobs, source: tuple[Path, os.stat_result] | None
    ) -> str:
        """The archived copy's path; a trusted file is read only when its copy is missing."""
        relative = f"{sha[:2]}/{sha}{delivery.suffix}"
        if sha in blobs.deferred and (
            relative in self.archived or archived_whole(f"{self.archive_root}/{relative}", delivery.size)
        ):
            self.archived.add(relative)
            return f"{self.archive_dir}/{relative}"
        return self.archive(blobs[sha], sha, delivery.suffix, source)

    def over_limits(self, delivery: Delivery, sha: str, data: bytes) -> Problem | None:
        """Why a workbook must not be opened (see `guard.check_workbook`), checked once per
        file and only before it is opened: an unchanged file is not opened again."""
        if delivery.suffix not in WORKBOOK_SUFFIXES or sha in self.within_limits:
            return None
        try:
            check_workbook(delivery.name, data, self.limits)
        except Problem as problem:
            return problem
        self.within_limits.add(sha)
        return None

    def pending_mark(self) -> tuple:
        """Where the pending batch stands, to forget what a file that failed half-way queued."""
        return (
            len(self.pending_rows),
            len(self.pending_files),
            {name: len(parts) for name, parts in self.pending_text.items()},
            len(self.pending_replace),
            self.pending_count,
            set(self.pending_loaded),
        )

    def pending_rollback(self, mark: tuple) -> None:
        rows, files, texts, replace, count, loaded = mark
        for row in self.pending_rows[rows:]:
            setattr(self.summary, row.status, getattr(self.summary, row.status) - 1)
        del self.pending_rows[rows:]
        del self.pending_files[files:]
        for name, parts in self.pending_text.items():
            del parts[texts.get(name, 0) :]
        del self.pending_replace[replace:]
        self.pending_count = count
        for file_id in set(self.pending_loaded) - loaded:
            del self.pending_loaded[file_id]

    def ingest_college(self, work: SchoolWork) -> None:
        """One college, guarded: should anything fail beyond one file (its archive copies, its
        duplicates), every file of the college is quarantined with the reason and the other
        colleges go on."""
        self.file_base = work.file_base
        mark = self.pending_mark()
        try:
            self.ingest_school(work.deliveries, dict(work.state), work.previous)
        except Exception as error:
            self.pending_rollback(mark)
            self.drain_writes()
            self.readers = {}
            for delivery in work.deliveries:
                self.quarantined(delivery, None, None, None, unexpected(delivery.name, error))

    def drain_writes(self) -> None:
        """Wait for the archive copies in flight, their failures already reported."""
        writes, self.writes = self.writes, []
        for write in writes:
            write.exception()

    def type_guarded(self, deliveries: dict[str, Delivery]) -> dict[str, pa.Table]:
        """`type_pending`, or, should typing the chunk fail, each file typed alone: a file that
        fails alone is quarantined with the reason (its earlier data kept), the others load."""
        try:
            return self.type_pending()
        except Exception:
            pass
        files = {
            file_id: (school, year, source, sha, self.ingested_at)
            for file_id, school, year, source, sha in self.pending_files
        }
        order: dict[str, list[int]] = defaultdict(list)
        for file_id, *_ in self.pending_files:
            order[self.catalog.by_code(self.pending_loaded[file_id].table_code).table_name].append(file_id)
        typed: dict[str, list[pa.Table]] = defaultdict(list)
        for name, parts in self.pending_text.items():
            for file_id, part in zip(order[name], parts):
                try:
                    tables, stats = type_chunk({name: [part]}, self.catalog, files)
                except Exception as error:
                    self.untyped(deliveries, self.pending_loaded[file_id], name, error)
                    continue
                for count_failures in stats.values():
                    self.pending_loaded[file_id].rows, self.pending_loaded[file_id].coercion_failures = count_failures
                typed[name].append(tables[name])
        return {name: pa.concat_tables(parts) for name, parts in typed.items()}

    def untyped(self, deliveries: dict[str, Delivery], row: LogRow, table_name: str, error: Exception) -> None:
        """A loaded file whose rows could not be typed: quarantined, the data loaded earlier kept."""
        problem = unexpected(PurePosixPath(row.source_file).name, error)
        row.status, row.rows, row.reason, row.reason_en = "quarantined", 0, problem.zh, problem.en
        replaced = (table_name, row.school_code, row.year)
        if replaced in self.pending_replace:
            self.pending_replace.remove(replaced)
        delivery = deliveries.get(row.source_file)
        if delivery is not None:
            with contextlib.suppress(OSError):  # the log row says why
                self.quarantine(delivery, None, problem, row.table_code)

    def unchanged(self, candidate: Candidate, previous, rows: int) -> None:
        delivery = candidate.delivery
        known = [
            row
            for row in previous.get((delivery.source_file, candidate.sha), [])
            if row["table_code"] == candidate.table.code and row["status"] != "quarantined"
        ]
        logged = known[0] if known else {"rows": rows, "ingested_at": self.ingested_at}
        self.record(
            LogRow.from_logged(
                logged,
                source_file=delivery.source_file,
                file_sha256=candidate.sha,
                archived_path=self.archive_path(candidate),
                school_code=delivery.school_code,
                year=delivery.year,
                table_code=candidate.table.code,
                status="unchanged",
                mapping_fingerprint=self.fingerprint(candidate.table),
            )
        )

    def archive_path(self, candidate: Candidate) -> str:
        sha = candidate.sha
        return f"{self.archive_dir}/{sha[:2]}/{sha}{candidate.delivery.suffix}"

    def load(self, candidate: Candidate, data: bytes, replace: bool) -> None:
        """Read, find the header and queue the rows; typing and writing happen in `flush`."""
        read = self.read_table(candidate, data, replace)
        if read is None:
            return
        grid, header, exported_at = read
        delivery, table, archived, title = (
            candidate.delivery,
            candidate.table,
            self.archive_path(candidate),
            header.title,
        )
        self.next_file_id = file_id = max(self.next_file_id, self.file_base)
        self.next_file_id += 1
        self.pending_files.append((file_id, delivery.school_code, delivery.year, delivery.source_file, candidate.sha))
        self.pending_text[table.table_name].append(extract(grid, header, file_id))
        if replace:
            self.pending_replace.append((table.table_name, delivery.school_code, delivery.year))
        self.pending_count += grid.height
        row = LogRow(
            delivery.source_file,
            candidate.sha,
            archived,
            delivery.school_code,
            delivery.year,
            table.code,
            "loaded",
            0,
            None,
            None,
            title,
            period_year(title),
            exported_at,
            self.ingested_at,
            header.extras,
            0,
            header.missing,
            header.conversions,
            unmapped_headers(grid, header, table),
            self.fingerprint(table),
        )
        self.pending_loaded[file_id] = row
        self.record(row)
        self.note_formulas(row, data, grid, header, table)

    def read_table(
        self, candidate: Candidate, data: bytes, replace: bool
    ) -> tuple[Grid, HeaderMap, dt.datetime | None] | None:
        """The candidate's grid, its header and export time; None when it was quarantined (its reason said)."""
        delivery, table = candidate.delivery, candidate.table
        archived = self.archive_path(candidate)
        exported_at, title = None, None
        try:
            if delivery.suffix == ".csv":
                grid = read_csv_grid(data, self.limits)
            else:
                try:
                    reader = self.reader(candidate.sha, data)
                    sheet = candidate.sheet or self.sheet_of(candidate, data)
                    exported_at = read_xlsx_exported_at(data) if delivery.suffix == ".xlsx" else None
                    grid = read_xlsx_grid(reader, sheet)
                except Problem:
                    raise
                except Exception as error:
                    raise self.corrupt(delivery, error) from error
            header = find_header(grid, table)
            title = header.title
            check_placeable(header, table)
        except Problem as problem:
            where = f"（工作表“{candidate.sheet}”）" if candidate.sheet else ""
            self.quarantined(
                delivery,
                candidate.sha,
                archived,
                data,
                Problem(
                    f"表 {table.code} {table.name_zh}{where}：{problem.zh}" + self.kept_note(replace),
                    f"table {table.code}{' sheet ' + candidate.sheet if candidate.sheet else ''}: "
                    f"{problem.en}" + self.kept_note_en(replace),
                ),
                table,
                title,
                exported_at,
            )
            return None
        return grid, header, exported_at

    # -- what a loaded file's log row says -----------------------------------------------------

    FORMULA_TYPES = ("integer", "number", "date", "boolean", "category")

    def note_formulas(self, row: LogRow, data: bytes, grid: Grid, header: HeaderMap, table: CatalogTable) -> None:
        """Name, in a loaded file's log row, the formula cells that have no cached value (a workbook
        written by a program and never opened in Excel): they were read as empty, and the college
        must recalculate them, not fill them in."""
        if not grid.sheet or not self.may_hide_formulas(grid, header, table):
            return
        try:
            cells = uncomputed_formulas(data, grid.sheet)
        except Exception:  # a note about the file, never a reason to refuse it
            return
        if cells:
            problem = formula_problem(grid.sheet, cells)
            row.reason, row.reason_en = problem.zh, problem.en

    def may_hide_formulas(self, grid: Grid, header: HeaderMap, table: CatalogTable) -> bool:
        """Whether the sheet's XML is worth inflating a second time to look for formulas: a
        required column has an empty cell (it would be reported 为空), or a typed column is at least
        half empty (a computed column). Scanning every sheet with any empty cell would cost some 7%
        of the ingest's CPU on the demo province, where 1,856 of 4,406 files have one."""
        for position, name in header.columns.items():
            column = table.column(name)
            cells = grid.columns[position].slice(header.data_start)
            empty = cells.null_count
            if empty and (column.required or (column.type in self.FORMULA_TYPES and 2 * empty >= len(cells))):
                return True
        return False

    @staticmethod
    def kept_note(replace: bool) -> str:
        return "。此前已载入的该表数据保持不变" if replace else ""

    @staticmethod
    def kept_note_en(replace: bool) -> str:
        return ". The data loaded earlier for this table is kept unchanged" if replace else ""

    def type_pending(self) -> dict[str, pa.Table]:
        """Type the queued text rows; sets each loaded file's row and failure counts."""
        files = {
            file_id: (school, year, source, sha, self.ingested_at)
            for file_id, school, year, source, sha in self.pending_files
        }
        typed, stats = type_chunk(self.pending_text, self.catalog, files)
        for file_id, (count, failures) in stats.items():
            self.pending_loaded[file_id].rows = count
            self.pending_loaded[file_id].coercion_failures = failures
        return typed

    def reset_pending(self) -> None:
        self.pending_rows: list[LogRow] = []
        self.pending_loaded: dict[int, LogRow] = {}
        self.pending_files: list[tuple] = []
        self.pending_text: dict[str, list[pa.Table]] = defaultdict(list)
        self.pending_typed: dict[str, list[pa.Table]] = defaultdict(list)
        self.pending_replace: list[tuple[str, str, int]] = []
        self.pending_count = 0
        self.pending_siblings: dict[int, list[LogRow]] = {}  # joined file id → its other sub-tables' log rows
