"""Identification: which catalogued table a file or sheet holds, by its code or Chinese name, or through
the crosswalk (a newer platform's numbering, its sub-tables); one table per college, year and table
when a delivery holds two. Reading side: no warehouse here."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

import fastexcel

from pipelines.catalog import BASE_VERSION, Catalog, CatalogTable, CrosswalkEntry
from pipelines.ingest.blobs import Blobs
from pipelines.ingest.discover import READABLE, Delivery
from pipelines.ingest.guard import Problem
from pipelines.ingest.headers import code_text, normalise_header
from pipelines.ingest.read import read_xlsx_exported_at

CODE_IN_NAME_RE = re.compile(r"表\s*(\d{1,2}(?:\s*[.\-_]\s*\d{1,2}){0,2})(?!\d)")
LEADING_CODE_RE = re.compile(r"^\s*(\d{1,2}(?:\s*[.\-_]\s*\d{1,2}){0,2})(?![\d年])")
SUBTABLE_NOTE = "子表合并"  # starts the log note of a sub-table's file (see `SubtableLoading.load_subtables`)

_NAMES: dict[int, tuple[Catalog, list[tuple[str, CatalogTable]]]] = {}


def _catalog_names(catalog: Catalog) -> list[tuple[str, CatalogTable]]:
    cached = _NAMES.get(id(catalog))
    if cached is None or cached[0] is not catalog:
        cached = _NAMES[id(catalog)] = (catalog, [(normalise_header(t.name_zh), t) for t in catalog.tables])
    return cached[1]


def by_crosswalk(
    code: str | None, stem: str, crosswalk: tuple[CrosswalkEntry, ...]
) -> tuple[CrosswalkEntry | None, bool]:
    """The newer platform's table named in `stem` (its code, if given, must be that version's code
    for the name), from reference/platform_crosswalk.csv, and whether it lands alone in its V2
    table (sub-tables joined into one V2 table, online 6.1–6.3, need that join first)."""
    landing: dict[tuple[str, str], int] = defaultdict(int)
    for entry in crosswalk:
        landing[(entry.platform_version, entry.v2_table_code)] += 1
    found = [
        (len(entry.table_name_zh), entry)
        for entry in crosswalk
        if entry.platform_version != "V2"
        and entry.table_name_zh
        and normalise_header(entry.table_name_zh) in stem
        and (code is None or code == entry.table_code)
    ]
    if not found:
        return None, False
    entry = max(found, key=lambda pair: pair[0])[1]
    return entry, landing[(entry.platform_version, entry.v2_table_code)] == 1


def identify_table(
    label: str, catalog: Catalog, crosswalk: tuple[CrosswalkEntry, ...] = ()
) -> tuple[CatalogTable | None, str]:
    """The table a file or sheet name designates, or (None, why not) — by code, else by Chinese name.

    `表6.1 校内专任教师`, `6-1 校内专任教师`, `1.3.1 当年招生计划` and `校内专任教师` all work; a
    catalogued code whose name names another table is refused as ambiguous, unless the crosswalk
    says it is a newer platform's numbering (online 表6.4 校内兼课人员 = V2 6.2).
    """
    text = unicodedata.normalize("NFKC", label)
    stem = normalise_header(text)
    match = CODE_IN_NAME_RE.search(text) or LEADING_CODE_RE.search(text)
    by_code = None
    if match:
        code = code_text(match.group(1))
        by_code = next((t for t in catalog.tables if t.code == code), None)
    names = [(len(name), t) for name, t in _catalog_names(catalog) if name in stem]
    by_name = max(names, key=lambda pair: pair[0])[1] if names else None
    if crosswalk and (by_name is None or (by_code is not None and by_code.code != by_name.code)):
        entry, alone = by_crosswalk(code_text(match.group(1)) if match else None, stem, crosswalk)
        if entry is not None and alone and entry.v2_table_code in catalog.codes:
            return catalog.by_code(entry.v2_table_code), ""
        if entry is not None:
            return None, (
                f"“{entry.table_name_zh}”是 {entry.platform_version} 平台的表{entry.table_code}，"
                f"须与同版本的其他子表合并为表{entry.v2_table_code}，暂不能单独载入"
            )
    if by_code and by_name and by_code.code != by_name.code:
        return None, f"表号 {by_code.code}（{by_code.name_zh}）与表名“{by_name.name_zh}”（表{by_name.code}）不一致"
    table = by_code or by_name
    return table, "" if table else "名称中没有可识别的表号或表名"


def identify_subtable(label: str, catalog: Catalog, crosswalk: tuple[CrosswalkEntry, ...]) -> CatalogTable | None:
    """The newer platform's shape (`catalog.shapes`) a file or sheet name designates when that table
    is one of several sub-tables joined into one V2 table (online 6.1 教职工基本信息, 6.2 个人其他信息
    and 6.3 授课情况 → V2 6.1 on 教工号); None for anything else. Ask `identify_table` first."""
    text = unicodedata.normalize("NFKC", label)
    match = CODE_IN_NAME_RE.search(text) or LEADING_CODE_RE.search(text)
    entry, alone = by_crosswalk(code_text(match.group(1)) if match else None, normalise_header(text), crosswalk)
    if entry is None or alone:
        return None
    return next(
        (
            shape
            for shape in catalog.shapes
            if (shape.platform_version, shape.code) == (entry.platform_version, entry.table_code)
        ),
        None,
    )


def same_table(one: CatalogTable, other: CatalogTable) -> bool:
    return (one.platform_version, one.code) == (other.platform_version, other.code)


@dataclass
class Candidate:
    """One table found in a delivery: a whole file, or one sheet of a workbook."""

    delivery: Delivery
    sha: str
    table: CatalogTable
    sheet: str | None  # None: CSV or the file's only table


class Identifying:
    """The identification steps of `CollegeReader` (see pipelines/ingest/college.py)."""

    def reader(self, sha: str, data: bytes) -> fastexcel.ExcelReader:
        if sha not in self.readers:
            self.readers[sha] = fastexcel.read_excel(data)
        return self.readers[sha]

    def tables_of(self, delivery: Delivery, data: bytes, sha: str) -> list[tuple[CatalogTable, str | None]] | Problem:
        """The table(s) a delivery holds: from its file name, or from its sheets' names."""
        if delivery.suffix not in READABLE:
            return Problem(
                f"不支持的文件格式 {delivery.suffix or '（无扩展名）'}：可读取 .xlsx、.xls 和 .csv，请另存为其中一种后重新提交",
                f"unsupported file type {delivery.suffix or '(none)'}: .xlsx, .xls and .csv are read; save the table as "
                "one of them and deliver again",
            )
        by_file, why = self.identify_label(PurePosixPath(delivery.name).stem)
        if delivery.suffix == ".csv":
            return [(by_file, None)] if by_file else self.unknown_table(delivery, why)
        try:
            sheets = self.reader(sha, data).sheet_names
        except Exception as error:  # calamine raises several error types for unreadable workbooks
            # named after its table: quarantined as that table's damaged export when read
            return [(by_file, None)] if by_file else self.corrupt(delivery, error)
        if by_file is not None and len(sheets) == 1:
            return [(by_file, sheets[0])]
        by_sheet = {name: self.identify_label(name)[0] for name in sheets}
        named = [(table, name) for name, table in by_sheet.items() if table is not None]
        if len({table.code for table, _ in named}) > 1 or (named and by_file is None):
            return named
        if by_file is None:
            return self.unknown_table(delivery, why)
        same = [name for table, name in named if same_table(table, by_file)]
        return [(by_file, same[0] if same else sheets[0])]

    def unknown_table(self, delivery: Delivery, why: str) -> Problem:
        return Problem(
            f"无法识别文件 {delivery.name} 属于哪张表（{why}）：文件名应以表号和表名开头，"
            "如“表6.1 校内专任教师.xlsx”或“6-1 校内专任教师.csv”；或让工作簿的工作表以表名命名",
            f"cannot tell which table file {delivery.name} holds: name it by table code and name, e.g. "
            "'表6.1 校内专任教师.xlsx' or '6-1 校内专任教师.csv', or name the workbook's sheets by table",
        )

    def corrupt(self, delivery: Delivery, error: Exception) -> Problem:
        return Problem(
            f"文件 {delivery.name} 已损坏或不是有效的 xlsx 工作簿，无法打开：请从平台重新导出后提交",
            f"file {delivery.name} is damaged or not a valid .xlsx workbook ({type(error).__name__}: {error}); "
            "export it again from the platform",
        )

    def resolve_duplicates(self, candidates: list[Candidate], blobs: Blobs) -> list[Candidate]:
        """One candidate per college, year and table: the newest export; the others are quarantined."""
        groups: dict[tuple, list[Candidate]] = defaultdict(list)
        for candidate in candidates:
            groups[(candidate.delivery.year, candidate.table.platform_version, candidate.table.code)].append(candidate)
        chosen = []
        for group in groups.values():
            if len(group) == 1:
                chosen.append(group[0])
                continue

            def newest(candidate: Candidate):
                stamp = None
                if candidate.delivery.suffix == ".xlsx":
                    try:
                        stamp = read_xlsx_exported_at(blobs[candidate.sha])
                    except Exception:  # a damaged workbook: its file time decides, the file is judged when read
                        stamp = None
                return (stamp or candidate.delivery.modified, candidate.delivery.source_file)

            group.sort(key=newest, reverse=True)
            chosen.append(group[0])
            for other in group[1:]:
                self.quarantined(
                    other.delivery,
                    other.sha,
                    self.archive_path(other),
                    blobs.available(other.sha),
                    Problem(
                        f"同一学校、年份的表 {other.table.code} 提交了多份，已采用较新的 {group[0].delivery.source_file}；"
                        "请从 inbox 中删除这份旧文件",
                        f"table {other.table.code} was delivered more than once for this college and year; the newer "
                        f"{group[0].delivery.source_file} was used: remove this older file from the inbox",
                    ),
                    other.table,
                )
        return chosen

    def identify_label(self, label: str) -> tuple[CatalogTable | None, str]:
        """`identify_table`, else the newer platform's sub-table shape the label names (its headers
        are the shape's, then the V2 table's and their aliases: an alias a data officer accepted for
        the V2 column reaches the sub-table too)."""
        table, why = identify_table(label, self.catalog, self.crosswalk)
        if table is not None:
            return table, why
        shape = identify_subtable(label, self.catalog, self.crosswalk)
        return (self.subtable_shape(shape), "") if shape is not None else (None, why)

    def subtable_shape(self, shape: CatalogTable) -> CatalogTable:
        key = (shape.platform_version, shape.code)
        if key not in self.shaped:  # one object per run: header lookups are cached by identity
            target = self.catalog.by_name(shape.table_name)
            self.shaped[key] = replace(
                shape,
                columns=tuple(
                    replace(
                        column,
                        headers=column.headers
                        + tuple(h for h in target.column(column.name).headers if h not in column.headers),
                    )
                    for column in shape.columns
                ),
            )
        return self.shaped[key]

    def holds_subtable(self, delivery: Delivery, known: list[dict]) -> bool:
        """Whether a file identified in an earlier run holds sub-tables: logged under their V2
        table's code, they must be identified again to be read with their own shape."""
        stem = delivery.stem
        if stem not in self.subtables_named:  # file names repeat across colleges: looked up once per run
            self.subtables_named[stem] = identify_subtable(stem, self.catalog, self.crosswalk)
        return self.subtables_named[stem] is not None or any(
            (row.get("reason") or "").startswith(SUBTABLE_NOTE) for row in known
        )

    def known_subtable(self, delivery: Delivery, known: list[dict]) -> CatalogTable | None:
        """The sub-table shape a file is named after, when an earlier run loaded that file (same
        sha256) as that one table: it need not be opened again to be found (`tables_of` gives the
        file's own name precedence whenever it yields one table)."""
        if len(known) != 1 or known[0]["status"] == "quarantined":
            return None
        table, _ = self.identify_label(PurePosixPath(delivery.name).stem)
        if table is None or table.platform_version == BASE_VERSION:
            return None
        return table if self.catalog.by_name(table.table_name).code == known[0]["table_code"] else None

    def sheet_of(self, candidate: Candidate, data: bytes) -> str:
        tables = self.tables_of(candidate.delivery, data, candidate.sha)
        if isinstance(tables, Problem):
            raise tables
        sheets = [sheet for table, sheet in tables if same_table(table, candidate.table)]
        if not sheets:
            raise self.unknown_table(candidate.delivery, f"工作簿中没有表 {candidate.table.code}")
        return sheets[0] or self.reader(candidate.sha, data).sheet_names[0]
