"""Sub-tables: a newer platform's tables that together make one V2 table (online 6.1 教职工基本信息,
6.2 个人其他信息 and 6.3 授课情况 → V2 6.1 校内专任教师, reference/platform_crosswalk.csv), joined on
the V2 table's key as text, before typing, inside the worker that read them. Reading side: no
warehouse here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.catalog import BASE_VERSION, CatalogTable
from pipelines.ingest.blobs import Blobs
from pipelines.ingest.coerce import coerce, scaled
from pipelines.ingest.guard import Problem
from pipelines.ingest.headers import EXTRA, EXTRA_TYPE, SCALE, extract, period_year, unmapped_headers
from pipelines.ingest.identify import SUBTABLE_NOTE, Candidate
from pipelines.ingest.log import LogRow


def row_keys(text: pa.Table, key_columns: tuple[str, ...]) -> pa.Array:
    """Each row's key (the key columns' trimmed text, joined); null where a key cell is empty."""
    cells = []
    for name in key_columns:
        if name not in text.column_names:
            return pa.nulls(text.num_rows, pa.string())
        trimmed = pc.utf8_trim_whitespace(text.column(name).combine_chunks())
        cells.append(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed))
    return cells[0] if len(cells) == 1 else pc.binary_join_element_wise(*cells, "\x1f")


def per_key(shape: CatalogTable, text: pa.Table, key_columns: tuple[str, ...]) -> pa.Table:
    """A sub-table with several rows per key (online 授课情况: one per teacher and course) as one row
    per key: its numeric columns summed (in the catalog's unit, as text again), its other cells
    those of the key's first row. Rows without a key (a 合计 row) are left out. The unknown columns
    (课程名称 and the like) describe one course, not the teacher: each is kept in the key's `extra`
    as its distinct values joined by “；” (`details_per_key`)."""
    keys = row_keys(text, key_columns)
    text = text.filter(pc.is_valid(keys))
    keys = keys.filter(pc.is_valid(keys))
    summed = [
        c
        for c in shape.columns
        if c.name in text.column_names and c.name not in key_columns and c.type in ("integer", "number")
    ]
    firsts = [
        name
        for name in text.column_names
        if name not in {c.name for c in summed} and name != EXTRA and not name.startswith(SCALE)
    ]
    columns = {"__key": keys}
    for column in summed:
        value, _ = coerce(text.column(column.name).combine_chunks(), column)
        columns[column.name] = scaled(value, text, column).cast(pa.float64())
    columns.update({name: text.column(name).combine_chunks() for name in firsts})
    grouped = (
        pa.table(columns)
        .group_by("__key", use_threads=False)
        .aggregate([(c.name, "sum") for c in summed] + [(name, "first") for name in firsts])
    )
    out = {name: grouped.column(f"{name}_first") for name in firsts}
    if EXTRA in text.column_names:
        out[EXTRA] = details_per_key(keys, text.column(EXTRA).combine_chunks(), grouped.column("__key"))
    for column in summed:
        total = grouped.column(f"{column.name}_sum")
        total = pc.round(total).cast(pa.int64()) if column.type == "integer" else total
        out[column.name] = total.cast(pa.string())
    return pa.table(out)


def details_per_key(keys: pa.Array, extra: pa.Array, order: pa.Array) -> pa.Array:
    """Per key in `order`, each header of the rows' `extra` maps with its distinct values in row
    order, joined by “；” (a teacher's courses: `课程名称` → `高等数学；线性代数`)."""
    values: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for key, cells in zip(keys.to_pylist(), extra.to_pylist()):
        for header, value in cells or ():
            seen = values[key].setdefault(header, [])
            if value is not None and value.strip() and value.strip() not in seen:
                seen.append(value.strip())
    return pa.array(
        [[(header, "；".join(found) or None) for header, found in values[key].items()] for key in order.to_pylist()],
        EXTRA_TYPE,
    )


def merged_extra(first: pa.Array | None, later: pa.Array | None) -> pa.Array | None:
    """Row by row, the unknown cells of both (a header both have keeps the first's cell)."""
    if first is None or later is None:
        return first if later is None else later
    merged = []
    for one, other in zip(first.to_pylist(), later.to_pylist()):
        cells = dict(one or ())
        for header, value in other or ():
            cells.setdefault(header, value)
        merged.append(list(cells.items()) if one is not None or other is not None else None)
    return pa.array(merged, EXTRA_TYPE)


def join_subtables(table: CatalogTable, parts: list[tuple[CatalogTable, pa.Table]]) -> pa.Table:
    """One V2 table's text rows from its sub-tables (each as `extract` gave it, in the catalog's
    order): the first sub-table delivered gives the rows (one per key) and the row lineage; each
    later one adds, by key, the catalog columns not yet there. Where two sub-tables carry the same
    column (姓名), the earlier wins: online 6.1 is the person's verified basic record, 6.2 and 6.3
    repeat the name only to be readable. A sub-table with another grain than the V2 table's
    (授课情况, per course) is summed per key first (`per_key`). Every sub-table's unknown columns
    are kept in the joined row's `extra`."""
    keyed = [
        (shape, per_key(shape, text, table.key_columns) if shape.grain != table.grain else text)
        for shape, text in parts
    ]
    _, joined = keyed[0]
    keys = row_keys(joined, table.key_columns)
    have = set(joined.column_names)
    for shape, text in keyed[1:]:
        at = pc.index_in(keys, value_set=row_keys(text, table.key_columns), skip_nulls=True)
        for column in shape.columns:
            if column.name in have or column.name not in text.column_names:
                continue
            joined = joined.append_column(column.name, text.column(column.name).combine_chunks().take(at))
            if SCALE + column.name in text.column_names:
                joined = joined.append_column(
                    SCALE + column.name, text.column(SCALE + column.name).combine_chunks().take(at)
                )
            have.add(column.name)
        if EXTRA in text.column_names:  # the later sub-table's unknown columns join the row's own
            first = joined.column(EXTRA).combine_chunks() if EXTRA in joined.column_names else None
            extra = merged_extra(first, text.column(EXTRA).combine_chunks().take(at))
            joined = joined.drop_columns([EXTRA]) if first is not None else joined
            joined = joined.append_column(EXTRA, extra)
    return joined


def stale_subtable_siblings(stale: list[tuple], previous: dict[tuple[str, str], list[dict]]) -> list[tuple]:
    """The other sub-table files joined with a stale one (same college, year, V2 table and run):
    read again from the archive together, since the join needs them all."""
    subtables: dict[tuple, list[dict]] = defaultdict(list)
    by_source: dict[str, list[dict]] = defaultdict(list)
    for rows in previous.values():
        for row in rows:
            if row["status"] != "quarantined" and (row.get("reason") or "").startswith(SUBTABLE_NOTE):
                subtables[(row["school_code"], row["year"], row["table_code"], row["ingested_at"])].append(row)
                by_source[row["source_file"]].append(row)
    known = {entry[2] for entry in stale}
    found = []
    for _, _, source, _ in stale:
        for row in by_source.get(source, []):
            for sibling in subtables[(row["school_code"], row["year"], row["table_code"], row["ingested_at"])]:
                if sibling["source_file"] not in known:
                    known.add(sibling["source_file"])
                    found.append(
                        (sibling["school_code"], sibling["year"], sibling["source_file"], sibling["archived_path"])
                    )
    return found


class SubtableLoading:
    """The sub-table steps of `CollegeReader` (see pipelines/ingest/college.py)."""

    def load_subtable_groups(self, chosen: list[Candidate], state, previous, blobs: Blobs) -> None:
        """Each college-year's sub-tables of one V2 table loaded together (`load_subtables`); a group
        that fails is quarantined file by file with the reason, the college's other tables go on."""
        whole = {(c.delivery.year, c.table.code) for c in chosen if c.table.platform_version == BASE_VERSION}
        order = {(shape.platform_version, shape.code): n for n, shape in enumerate(self.catalog.shapes)}
        groups: dict[tuple[int, str], list[Candidate]] = defaultdict(list)
        for candidate in chosen:
            if candidate.table.platform_version != BASE_VERSION:
                target = self.catalog.by_name(candidate.table.table_name)
                groups[(candidate.delivery.year, target.code)].append(candidate)
        for (year, code), group in groups.items():
            group.sort(key=lambda c: order.get((c.table.platform_version, c.table.code), len(order)))
            mark = self.pending_mark()
            try:
                if (year, code) in whole:
                    self.superseded_subtables(group, code)
                else:
                    self.load_subtables(group, self.catalog.by_code(code), state, previous, blobs)
            except Exception as error:
                self.pending_rollback(mark)
                for candidate in group:
                    self.quarantined_unexpected(candidate, error)

    def superseded_subtables(self, group: list[Candidate], code: str) -> None:
        for candidate in group:
            self.quarantined(
                candidate.delivery,
                candidate.sha,
                self.archive_path(candidate),
                None,
                Problem(
                    f"同一学校、年份已提交完整的表{code}，未再合并这份子表；请从 inbox 中删除其中一种",
                    f"the whole table {code} was delivered for this college and year, so this sub-table was not "
                    "joined: remove one of the two from the inbox",
                ),
                candidate.table,
            )

    def load_subtables(self, group: list[Candidate], table: CatalogTable, state, previous, blobs: Blobs) -> None:
        """Read each sub-table with its own headers, join them on the V2 table's key and queue the
        result as the V2 table's rows (typed later with the chunk). A sub-table that is missing or
        cannot be read costs its columns only (NULL, listed as missing in every member's log row);
        each member is logged under the V2 table's code, so the table counts as delivered."""
        school, year = group[0].delivery.school_code, group[0].delivery.year
        key = (school, year, table.code)
        as_table = [replace(candidate, table=table) for candidate in group]
        current = state.get(key)
        if (
            current
            and current[0] in {c.sha for c in group}
            and all(
                any(
                    row["table_code"] == table.code and row["status"] != "quarantined"
                    for row in previous.get((c.delivery.source_file, c.sha), [])
                )
                for c in group
            )
        ):
            for candidate in as_table:
                self.unchanged(candidate, previous, current[1])
            return
        read = []
        for candidate in group:
            data = blobs[candidate.sha]
            if problem := self.over_limits(candidate.delivery, candidate.sha, data):
                self.quarantined(
                    candidate.delivery,
                    candidate.sha,
                    self.archive_path(candidate),
                    data,
                    Problem(problem.zh + self.kept_note(key in state), problem.en + self.kept_note_en(key in state)),
                    candidate.table,
                )
                continue
            found = self.read_table(candidate, data, key in state)
            if found is not None:
                read.append((candidate, *found))
        if not read:
            return
        self.next_file_id = file_id = max(self.next_file_id, self.file_base)
        self.next_file_id += 1
        joined = join_subtables(table, [(c.table, extract(grid, header, file_id)) for c, grid, header, _ in read])
        first = read[0][0]
        self.pending_files.append((file_id, school, year, first.delivery.source_file, first.sha))
        self.pending_text[table.table_name].append(joined)
        if key in state:
            self.pending_replace.append((table.table_name, school, year))
        state[key] = (first.sha, 0)
        self.pending_count += joined.num_rows
        rows = self.subtable_log_rows(table, read, joined)
        self.pending_loaded[file_id] = rows[0]
        self.pending_siblings[file_id] = rows[1:]

    def subtable_log_rows(self, table: CatalogTable, read: list[tuple], joined: pa.Table) -> list[LogRow]:
        """One loaded log row per sub-table file, under the V2 table's code. A V2 column that no
        sub-table of the file's platform version has (catalog.shapes) is not the college's omission:
        it is logged as not exported, apart from the columns a delivered sub-table lacked."""
        version = read[0][0].table.platform_version
        exported = {
            column.name
            for shape in self.catalog.shapes_of(version)
            if shape.table_name == table.table_name
            for column in shape.columns
        }
        absent = [column.name for column in table.columns if column.name not in joined.column_names]
        missing = [name for name in absent if name in exported]
        not_exported = [name for name in absent if name not in exported]
        keys = "、".join(table.column(k).headers[0] for k in table.key_columns)
        rows = []
        for candidate, grid, header, exported_at in read:
            shape, delivery = candidate.table, candidate.delivery
            details = shape.grain != table.grain and header.extras  # per-row details of a finer grain
            note = f"；每行（{shape.grain}）的列 {'、'.join(header.extras)} 随所并入的行保存" if details else ""
            row = LogRow(
                delivery.source_file,
                candidate.sha,
                self.archive_path(candidate),
                delivery.school_code,
                delivery.year,
                table.code,
                "loaded",
                0,
                f"{SUBTABLE_NOTE}：{shape.platform_version} 表{shape.code} {shape.name_zh}，按{keys}并入表"
                f"{table.code} {table.name_zh}{note}",
                f"sub-table {shape.platform_version} {shape.code}, joined on {', '.join(table.key_columns)} "
                f"into table {table.code}",
                header.title,
                period_year(header.title),
                exported_at,
                self.ingested_at,
                [] if details else header.extras,
                0,
                missing,
                header.conversions,
                [] if details else unmapped_headers(grid, header, shape),
                self.fingerprint(table),
                not_exported,
            )
            self.record(row)
            rows.append(row)
        return rows

    def share_subtable_counts(self) -> None:
        """The joined table's row count, failures and outcome, typed under its first sub-table's
        file, given to the other sub-tables' log rows too."""
        for file_id, siblings in self.pending_siblings.items():
            first = self.pending_loaded.get(file_id)
            if first is None:
                continue
            for row in siblings:
                row.rows, row.coercion_failures = first.rows, first.coercion_failures
                if first.status == "quarantined":
                    row.status, row.reason, row.reason_en = first.status, first.reason, first.reason_en
