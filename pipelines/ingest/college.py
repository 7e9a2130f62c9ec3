"""Ingest of status-data exports from `$ZHENGAI_HOME/inbox` into `raw.<table>` and `raw.ingest_log`.

Layout: `inbox/<school_code>/<year>/<files>` or `inbox/<school_code>_<year>.zip` (files directly in
the zip or in one folder); `<year>` is the collection year. A file's table comes from its name
(`表6.1 校内专任教师.xlsx`, `6-1 校内专任教师.csv`) or, for a workbook whose sheets are named by
table, from each sheet's name. Headers are found below any title rows, two-level merged headers
are flattened to `上级/下级`, and columns are mapped by normalised header text through the catalog
(`reference/platform_columns.csv`), never by position.

Choices a data officer should know:

- Inbox files are **left in place**: the inbox sensor fingerprints the inbox, and a college's
  delivery stays where it put it. Every run hashes each file; a file whose bytes (sha256) are
  already the current data of its college, year and table is `unchanged` and is not parsed again.
- Every original file is copied to `archive/<sha256[:2]>/<sha256><ext>` (zip deliveries: the zip
  and each member). A file that cannot be used is copied to `quarantine/<school>/<year>/` with a
  `<name>.reason.txt` in Chinese and English, and logged `quarantined`; data loaded earlier for
  that college, year and table stays as it was. With ZHENGAI_ARCHIVE_HARDLINK=1 a plain inbox
  file is hard-linked into the archive instead of copied (much cheaper: creating ~4,400 files costs
  seconds on some disks); only safe where deliveries are never rewritten in place (a new export is
  a new file or replaces the old by rename), since a link shares the bytes of the inbox file.
- A new export of a table replaces that college-year-table's rows; other colleges' rows are never
  touched. A run is one transaction: if it fails part-way, the warehouse is as it was before it. Two files in one delivery for the same table: the newer export
  (core-properties `created`, else file time) is used, the other is quarantined as superseded.
- Values that cannot be read as their column's type become null (the quality layer flags them);
  their number is kept in `raw.ingest_log.coercion_failures`.
- Headers match loosely (`loose_header`): full-/half-width, spaces and line breaks, bracketed units
  and notes, 最高/最后 wording (reference/header_words.csv); synonyms are the catalog's headers plus
  the aliases a data officer accepted (reference/header_aliases.csv, `zhengai catalog map`). A unit
  in a header or a `单位：…` title row other than the catalog's (亩 vs 平方米, 元 vs 万元;
  reference/unit_conversions.csv) is converted and logged in `raw.ingest_log.conversions`.
- Partial loading: a file loads when its table is identified and its rows can be placed (one row
  per college, or at least one key column found). A catalog column the file lacks is NULL and
  listed in `raw.ingest_log.missing_columns` (the quality layer judges what it costs). Unknown
  columns are kept per row in `raw.<table>.extra` (header → text) and listed with sample values and
  a likely column in `raw.ingest_log.extra_columns` / `unmapped_headers`. A file whose table's
  headers or aliases changed since it was loaded (`mapping_fingerprint`) is read again.
- A newer platform's sub-tables of one V2 table (online 6.1 教职工基本信息, 6.2 个人其他信息, 6.3
  授课情况 → V2 6.1, reference/platform_crosswalk.csv) are read each with its own shape's headers,
  joined on the V2 table's key (教工号) per college-year in the worker, before typing, per-course
  rows summed per teacher (`join_subtables`); each file is logged under the V2 code with a
  `子表合并` note. A sub-table not delivered or not readable leaves its columns NULL (missing).
- .xlsx, .xls (BIFF, older exports and WPS) and .csv (UTF-8 with or without BOM, GBK, GB18030)
  are read; a workbook may hold several tables as sheets named by table.
- `exported_at` is the workbook's core-properties `created` as written (the platform writes local
  Asia/Shanghai time); CSV files have none.
- One file never costs the run (`pipelines.ingest_guard`): whatever fails while a file is listed,
  read, identified, typed or quarantined quarantines that file with its reason; a college that
  fails as a whole is quarantined, the others load; a worker process that dies is replaced and its
  colleges are read in this process. The run fails only when the warehouse cannot be written.
- Nothing in the inbox is followed: a symlink (file or folder), FIFO or device is quarantined as
  such (a reason file only), never opened or copied. Workbooks are checked like zip deliveries
  before they are opened, CSV lines and cells are capped, CSV quoting is read strictly (a quote
  left open is named by its line), and formula cells without a calculated value are named in the
  file's log row (`reason`, status still `loaded`).

Settings (environment): ZHENGAI_ZIP_MAX_BYTES (512 MB), ZHENGAI_ZIP_MAX_RATIO (200),
ZHENGAI_ZIP_MAX_MEMBERS (2000) refuse absurd zips; ZHENGAI_FILE_MAX_BYTES (64 MiB),
ZHENGAI_WORKBOOK_MAX_BYTES (64 MiB), ZHENGAI_WORKBOOK_MAX_RATIO (200), ZHENGAI_CSV_MAX_LINE_BYTES
(65536) and ZHENGAI_CSV_MAX_CELLS (1,000,000) bound the memory one file may take;
ZHENGAI_INGEST_WORKERS (min(4, CPUs)) worker processes, forked from a fork server, read and type
colleges in parallel once there are ZHENGAI_INGEST_POOL_MIN_SCHOOLS (3) colleges, in tasks of
consecutive colleges holding about ZHENGAI_INGEST_CHUNK_BYTES (4 MiB) of files each (a worker's
memory follows its task); about ZHENGAI_INGEST_BATCH_ROWS (100000) rows are written at a time, all
in one transaction per run, with DuckDB's memory capped at ZHENGAI_INGEST_MEMORY_LIMIT (128MB)
meanwhile; ZHENGAI_ARCHIVE_HARDLINK (0) as above.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import multiprocessing
import multiprocessing.forkserver
import os
import re
import resource
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path, PurePosixPath

import duckdb
import fastexcel
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.catalog import (BASE_VERSION, LINEAGE_COLUMNS, Catalog, CatalogColumn, CatalogTable, create_raw_tables, load_catalog,
                               raw_table_columns)
from pipelines.catalog import (CrosswalkEntry, load_crosswalk, load_header_aliases, load_header_words,
                               load_unit_conversions, mapping_fingerprint, unit_factor, with_header_aliases)
from pipelines.ingest.guard import (Problem, bounded_name, check_workbook, csv_line_count, csv_rows, formula_problem,
                                    guard_worker, open_regular, private_dirs, read_regular, special_kind, special_problem,
                                    stop_pool, stop_worker_server, too_large, uncomputed_formulas, unexpected,
                                    write_private)
from pipelines.settings import IngestLimits, Settings, now_local
from pipelines.sql import run_sql

READABLE = {".xlsx", ".xls", ".csv"}  # .xls: BIFF (older exports, WPS), read by calamine like .xlsx
SPREADSHEET_LIKE = {".xlsx", ".csv", ".xls", ".xlsm", ".xlsb", ".ods", ".et", ".txt"}
WORKBOOK_SUFFIXES = SPREADSHEET_LIKE - {".csv", ".txt"}  # checked like zip deliveries before they are opened
IGNORED_NAMES = {"manifest.json", ".ds_store", "thumbs.db", "desktop.ini"}
HEADER_SCAN_ROWS = 20
SERIAL_COLUMN = "序号"
LABEL_COLUMNS = 3  # the 序号 cell and the first cells of a row, where 合计/小计 rows say so
TOTAL_RE = re.compile(r"^\s*(合\s*计|小\s*计|总\s*计|共\s*计)")  # a label starting 合计/小计/总计/共计, spaces allowed
BLANKS = ("", "无", "-", "--", "—", "——", "–", "/", "N/A", "n/a", "NULL", "null")
TRUE_WORDS = ("是", "Y", "YES", "TRUE", "1", "√", "✓")
FALSE_WORDS = ("否", "N", "NO", "FALSE", "0", "×", "✗")
PERIOD_RE = re.compile(r"(\d{4})\s*[-~～—–至到]\s*(\d{4})\s*学年")
# the online 采集与管理系统 titles its exports with the collection window instead of the 学年, e.g.
# “采集时段：2022-09-01至2023-08-31”: a window ending on 31 August names the 学年 ending that year
WINDOW_RE = re.compile(r"\d{4}\s*[-./年]\s*\d{1,2}\s*[-./月]\s*\d{1,2}\s*日?\s*[-~～—–至到]+\s*"
                       r"(\d{4})\s*[-./年]\s*0?8\s*[-./月]\s*31")
CODE_IN_NAME_RE = re.compile(r"表\s*(\d{1,2}(?:\s*[.\-_]\s*\d{1,2}){0,2})(?!\d)")
LEADING_CODE_RE = re.compile(r"^\s*(\d{1,2}(?:\s*[.\-_]\s*\d{1,2}){0,2})(?![\d年])")
SCHOOL_RE = re.compile(r"^\d{5}$")
SUBTABLE_NOTE = "子表合并"  # starts the log note of a sub-table's file (see `Ingest.load_subtables`)
ZIP_NAME_RE = re.compile(r"^(\d{5})[_\-](\d{4})$")
EXCEL_EPOCH = dt.date(1899, 12, 30)

# ---------------------------------------------------------------------------------------------
# Text normalisation and table identification


BRACKETS = str.maketrans({"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")", "{": "(", "}": ")",
                          "〈": "(", "〉": ")", "《": "(", "》": ")", "＜": "(", "＞": ")"})
SPACES = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def normalise_header(text: str | None) -> str:
    """Header text for matching: NFKC (full-width → half-width), no spaces, brackets unified, no `*`."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text)).translate(BRACKETS)
    return SPACES.sub("", value).strip("*").lower()


BRACKET_GROUP_RE = re.compile(r"\(([^()]*)\)")
LEVEL_SPLIT_RE = re.compile(r"/(?![^()]*\))")  # the `/` between levels, not one inside brackets (A/B/C)
UNIT_LABEL_RE = re.compile(r"^(?:计量)?单位[:：]?")
TITLE_UNIT_RE = re.compile(r"单位\s*[:：]\s*([^\s,，;；()（）]+)")


@lru_cache(maxsize=1)
def _header_words() -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    words = load_header_words()
    return words, frozenset(word for pair in words for word in pair if word and not word.endswith(":"))


def _loose_level(level: str) -> str:
    words, qualifiers = _header_words()
    groups = BRACKET_GROUP_RE.findall(level)
    # 专业技术职务（最高） reads as 最高专业技术职务; any other bracket (a unit, A/B/C, 是/否) is a note
    text = "".join(group for group in groups if group in qualifiers) + BRACKET_GROUP_RE.sub("", level)
    for word, same_as in words:
        text = text.replace(word.lower(), same_as.lower())
    return text.strip(":")


@lru_cache(maxsize=65536)
def loose_header(key: str) -> str:
    """A normalised header (`normalise_header`) with its wording relaxed, per level of `上级/下级`:
    bracketed units and notes left out, a bracketed qualifier (最高) put in front, the words of
    reference/header_words.csv made one (最后 → 最高). Matching falls back to it when the exact
    text is unknown."""
    return "/".join(_loose_level(level) for level in LEVEL_SPLIT_RE.split(key))


@lru_cache(maxsize=65536)
def header_unit(text: str) -> str | None:
    """The unit a header cell states in brackets (`占地面积（亩）`, `金额(单位:万元)`), if it is one of
    reference/unit_conversions.csv."""
    units = load_unit_conversions()
    for group in reversed(BRACKET_GROUP_RE.findall(normalise_header(text))):
        unit = UNIT_LABEL_RE.sub("", group)
        if unit in units:
            return unit
    return None


@lru_cache(maxsize=4096)
def title_unit(title: str) -> str | None:
    """A table-wide unit stated in a title or note row (`单位：万元`)."""
    found = TITLE_UNIT_RE.search(unicodedata.normalize("NFKC", title or ""))
    return found.group(1) if found and found.group(1) in load_unit_conversions() else None


def _clean_cell(value: object) -> str:
    return SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip() if value is not None else ""


def _code(raw: str) -> str:
    return ".".join(part for part in re.split(r"\s*[.\-_]\s*", raw.strip()) if part)


@dataclass(frozen=True)
class TableHeaders:
    """A catalog table's header texts, normalised once: exact lookup, loose lookup (`loose_header`;
    a loose text two columns share is left out) and the tokens a header row holds."""

    index: dict[str, str]
    tokens: frozenset[str]
    loose: dict[str, str] = field(default_factory=dict)


_HEADERS: dict[int, tuple[CatalogTable, TableHeaders]] = {}
_NAMES: dict[int, tuple[Catalog, list[tuple[str, CatalogTable]]]] = {}


def table_headers(table: CatalogTable) -> TableHeaders:
    cached = _HEADERS.get(id(table))
    if cached is None or cached[0] is not table:
        index: dict[str, str] = {}
        loose: dict[str, str | None] = {}
        tokens = {normalise_header(SERIAL_COLUMN)}
        for column in table.columns:
            for header in column.headers:
                key = normalise_header(header)
                index.setdefault(key, column.name)
                tokens.add(key)
                tokens.update(normalise_header(part) for part in header.split("/"))
                relaxed = loose_header(key)
                loose[relaxed] = column.name if loose.get(relaxed, column.name) == column.name else None
                tokens.add(relaxed)
                tokens.update(LEVEL_SPLIT_RE.split(relaxed))
        unique = {key: name for key, name in loose.items() if name is not None}
        tokens.discard("")
        cached = _HEADERS[id(table)] = (table, TableHeaders(index, frozenset(tokens), unique))
    return cached[1]


def _catalog_names(catalog: Catalog) -> list[tuple[str, CatalogTable]]:
    cached = _NAMES.get(id(catalog))
    if cached is None or cached[0] is not catalog:
        cached = _NAMES[id(catalog)] = (catalog, [(normalise_header(t.name_zh), t) for t in catalog.tables])
    return cached[1]


def by_crosswalk(code: str | None, stem: str, crosswalk: tuple[CrosswalkEntry, ...]) -> tuple[CrosswalkEntry | None, bool]:
    """The newer platform's table named in `stem` (its code, if given, must be that version's code
    for the name), from reference/platform_crosswalk.csv, and whether it lands alone in its V2
    table (sub-tables joined into one V2 table, online 6.1–6.3, need that join first)."""
    landing: dict[tuple[str, str], int] = defaultdict(int)
    for entry in crosswalk:
        landing[(entry.platform_version, entry.v2_table_code)] += 1
    found = [(len(entry.table_name_zh), entry) for entry in crosswalk
             if entry.platform_version != "V2" and entry.table_name_zh
             and normalise_header(entry.table_name_zh) in stem and (code is None or code == entry.table_code)]
    if not found:
        return None, False
    entry = max(found, key=lambda pair: pair[0])[1]
    return entry, landing[(entry.platform_version, entry.v2_table_code)] == 1


def identify_table(label: str, catalog: Catalog,
                   crosswalk: tuple[CrosswalkEntry, ...] = ()) -> tuple[CatalogTable | None, str]:
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
        code = _code(match.group(1))
        by_code = next((t for t in catalog.tables if t.code == code), None)
    names = [(len(name), t) for name, t in _catalog_names(catalog) if name in stem]
    by_name = max(names, key=lambda pair: pair[0])[1] if names else None
    if crosswalk and (by_name is None or (by_code is not None and by_code.code != by_name.code)):
        entry, alone = by_crosswalk(_code(match.group(1)) if match else None, stem, crosswalk)
        if entry is not None and alone and entry.v2_table_code in catalog.codes:
            return catalog.by_code(entry.v2_table_code), ""
        if entry is not None:
            return None, (f"“{entry.table_name_zh}”是 {entry.platform_version} 平台的表{entry.table_code}，"
                          f"须与同版本的其他子表合并为表{entry.v2_table_code}，暂不能单独载入")
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
    entry, alone = by_crosswalk(_code(match.group(1)) if match else None, normalise_header(text), crosswalk)
    if entry is None or alone:
        return None
    return next((shape for shape in catalog.shapes if (shape.platform_version, shape.code)
                 == (entry.platform_version, entry.table_code)), None)


# ---------------------------------------------------------------------------------------------
# Reading: a sheet becomes a grid of text cells plus the sheet row number of its first row


@dataclass
class Grid:
    columns: list[pa.Array]  # every cell as text, one array per sheet column
    first_row: int  # 1-based sheet row number of row 0
    sheet: str

    @property
    def height(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def head(self, rows: int) -> list[tuple]:
        return list(zip(*(column.slice(0, rows).to_pylist() for column in self.columns)))


CREATED_RE = re.compile(r"<dcterms:created[^>]*>([^<]+)</dcterms:created>")


CORE_XML = b"docProps/core.xml"
CORE_XML_MAX = 1 << 20  # a few hundred bytes in any real workbook: never inflated beyond this


def _core_xml(data: bytes) -> bytes | None:
    """docProps/core.xml straight from its central-directory entry (a plain deflated or stored
    member, as every exporter writes it); None when that shortcut does not apply."""
    at = data.rfind(b"PK\x01\x02", 0, max(data.rfind(CORE_XML), 0))
    if at < 0 or data[at + 46:at + 46 + len(CORE_XML)] != CORE_XML:
        return None
    flags, method = struct.unpack_from("<HH", data, at + 8)
    size, name_length = struct.unpack_from("<I", data, at + 20)[0], struct.unpack_from("<H", data, at + 28)[0]
    offset = struct.unpack_from("<I", data, at + 42)[0]
    if name_length != len(CORE_XML) or flags & 1 or method not in (0, 8) or data[offset:offset + 4] != b"PK\x03\x04":
        return None
    start = offset + 30 + sum(struct.unpack_from("<HH", data, offset + 26))
    raw = data[start:start + size]
    return raw[:CORE_XML_MAX] if method == 0 else zlib.decompressobj(-15).decompress(raw, CORE_XML_MAX)


def read_xlsx_exported_at(data: bytes) -> dt.datetime | None:
    """exported_at: the workbook's core-properties `created` (docProps/core.xml), as written."""
    try:
        core = _core_xml(data)
    except (struct.error, zlib.error):
        core = None
    if core is None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            try:
                core = archive.read("docProps/core.xml")
            except KeyError:
                return None
    found = CREATED_RE.search(core.decode("utf-8", "replace"))
    return _parse_w3c(found.group(1)) if found else None


def _parse_w3c(text: str) -> dt.datetime | None:
    text = text.strip().rstrip("Z")
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def read_xlsx_grid(reader: fastexcel.ExcelReader, sheet: str) -> Grid:
    """The sheet from its first non-empty row. `skip_rows=0` keeps the leading empty rows that
    calamine would otherwise drop, so the row numbers are the sheet's own without reading its XML."""
    batch = reader.load_sheet(sheet, header_row=None, dtypes="string", eager=True, skip_rows=0)
    columns = list(batch.columns)
    skip = 0
    while skip < batch.num_rows and not any(column[skip].is_valid for column in columns):
        skip += 1
    return Grid(columns=[column.slice(skip) for column in columns], first_row=skip + 1, sheet=sheet)


def decode_csv(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, else GBK, else GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise Problem(
        "无法识别文件编码（应为 UTF-8、GBK 或 GB18030）：请用 Excel 另存为“CSV UTF-8”或 xlsx 后重新提交",
        "cannot decode the file as UTF-8, GBK or GB18030: save it as 'CSV UTF-8' or .xlsx and deliver again",
    )


def read_csv_grid(data: bytes, limits: IngestLimits) -> Grid:
    """The CSV as a grid; a line or a grid beyond the limits, or a quote that breaks the rows,
    is a Problem naming the line (see `ingest_guard.csv_rows`)."""
    lines = csv_line_count(data, limits)
    text, _ = decode_csv(data)
    rows = csv_rows(text, lines, limits)
    width = max((len(row) for row in rows), default=0)
    columns = [pa.array([row[j] if j < len(row) and row[j] != "" else None for row in rows], pa.string())
               for j in range(width)]
    return Grid(columns=columns, first_row=1, sheet="")


# ---------------------------------------------------------------------------------------------
# Header block: find, flatten, map


@dataclass
class HeaderMap:
    title: str
    data_start: int  # grid row index of the first data row
    columns: dict[int, str]  # grid column position → catalog column name
    serial_position: int | None
    extras: list[str]
    names: list[str]  # flattened header text per position
    data_end: int | None = None  # grid row index after the last data row (None: the grid's end)
    missing: list[str] = field(default_factory=list)  # catalog columns the file does not have
    scales: dict[str, tuple[str, float]] = field(default_factory=dict)  # column → (unit found, factor to the catalog's)

    @property
    def extra_positions(self) -> list[tuple[int, str]]:
        """(position, header) of the unrecognised columns that have a header, headers made unique."""
        mapped, found, seen = set(self.columns), [], set()
        for position, name in enumerate(self.names):
            if not name or position in mapped or position == self.serial_position:
                continue
            key, n = name, 1
            while key in seen:
                n += 1
                key = f"{name}#{n}"
            seen.add(key)
            found.append((position, key))
        return found

    @property
    def conversions(self) -> list[str]:
        return [f"{name}: {unit} ×{factor:g}" for name, (unit, factor) in self.scales.items()]


def flatten_two_level(top: list[str], bottom: list[str]) -> list[str]:
    """`上级/下级` per column; a merged upper cell (text only in its leftmost cell) is carried right."""
    names, carry = [], ""
    for upper, lower in zip(top, bottom):
        if upper:
            carry = upper if lower else ""
        elif lower and carry:
            upper = carry
        names.append(f"{upper}/{lower}" if upper and lower else (upper or lower))
    return names


def _lower_level(key: str) -> str | None:
    levels = LEVEL_SPLIT_RE.split(key)
    return levels[-1] if len(levels) > 1 else None


def map_columns(names: list[str], table: CatalogTable) -> tuple[dict[int, str], int | None, list[str]]:
    """Catalog column per position, trying in turn for every position: the exact `上级/下级` text,
    the lower header alone, then both loosely (`loose_header`: units, qualifiers, wording). An
    earlier way wins over a later one, and a column is taken once."""
    headers = table_headers(table)
    index, loose = headers.index, headers.loose
    mapped: dict[int, str] = {}
    serial = None
    serial_key = normalise_header(SERIAL_COLUMN)
    keys = [normalise_header(name) for name in names]
    lowers = [_lower_level(key) for key in keys]
    ways = (
        lambda key, lower: index.get(key),
        lambda key, lower: index.get(lower) if lower else None,
        lambda key, lower: loose.get(loose_header(key)),
        lambda key, lower: loose.get(loose_header(lower)) if lower else None,
    )
    for position, key in enumerate(keys):
        if key == serial_key:
            serial = position
            break
    for way in ways:
        taken = set(mapped.values())
        if len(taken) == len(table.columns):
            break  # every column found: the looser ways cannot add one
        for position, key in enumerate(keys):
            if position in mapped or position == serial or not key:
                continue
            target = way(key, lowers[position])
            if target and target not in taken:
                mapped[position] = target
                taken.add(target)
    extras = [name for position, name in enumerate(names) if name and position not in mapped and position != serial]
    return mapped, serial, extras


NOTE_RE = re.compile(r"^(填报说明|填表说明|(说明|注|备注|注释|(计量)?单位)\s*\d*\s*[:：])")
NOTE_SCAN_ROWS = 30  # rows from the bottom of a sheet searched for notes
NOTE_TOP_ROWS = 5  # rows right below the header searched for notes


def _note_row(cells: list) -> bool | None:
    """True for a note row (one filled cell, 填报说明/注：/单位：…), None for an empty row, else False."""
    filled = [text for text in (_clean_cell(cell) for cell in cells) if text]
    if not filled:
        return None
    return len(filled) == 1 and NOTE_RE.match(filled[0]) is not None


def data_bounds(grid: Grid, start: int, head: list[tuple]) -> tuple[int, int]:
    """(first, end) grid rows of the data: note rows right below the header and note (or empty)
    rows at the bottom of the sheet are left out. `head` is the grid's first rows, as read."""
    below = head[start:start + NOTE_TOP_ROWS] if start + NOTE_TOP_ROWS <= len(head) else list(
        zip(*(column.slice(start, NOTE_TOP_ROWS).to_pylist() for column in grid.columns)))
    for cells in below:
        if not _note_row(list(cells)):
            break
        start += 1
    end = grid.height
    floor = max(start, end - NOTE_SCAN_ROWS)
    while end > floor:
        cells = [column[end - 1] for column in grid.columns]
        filled = [cell for cell in cells if cell.is_valid]
        # a data row has several cells: only a row with at most one is read as text
        if len(filled) > 1 or (filled and _note_row([filled[0].as_py()]) is False):
            break
        end -= 1
    return start, end


def unit_scales(names: list[str], mapped: dict[int, str], table: CatalogTable, title: str) -> dict[str, tuple[str, float]]:
    """Numeric columns whose header (or the title's `单位：…`) states another unit than the catalog's,
    with the factor that converts them (亩 → 平方米 ×666.67; 元 → 万元 ×0.0001)."""
    default = title_unit(title)
    scales = {}
    for position, name in mapped.items():
        column = table.column(name)
        unit = header_unit(names[position]) or default
        if column.type not in ("integer", "number") or not column.unit or not unit or unit == column.unit:
            continue
        factor = unit_factor(unit, column.unit)
        if factor is not None and factor != 1:
            scales[name] = (unit, factor)
    return scales


def continues_header(row: tuple, tokens: frozenset[str]) -> bool:
    """Whether every filled cell of a row is header text of the table (a header's lower level)."""
    keys = [normalise_header(cell) for cell in row if cell is not None and str(cell).strip()]
    return bool(keys) and all(key in tokens or loose_header(key) in tokens for key in keys)


def find_header(grid: Grid, table: CatalogTable) -> HeaderMap:
    raw_head = grid.head(HEADER_SCAN_ROWS)
    tokens = table_headers(table).tokens
    serial_key = normalise_header(SERIAL_COLUMN)
    header_row, best = None, 0
    for i, row in enumerate(raw_head):
        keys = [normalise_header(cell) for cell in row if cell is not None]
        if serial_key in keys:
            header_row = i
            break
        # the loose form only for a cell with brackets: the head's data cells would each miss the cache
        score = sum(key in tokens or ("(" in key and loose_header(key) in tokens) for key in keys)
        if score > best and score >= min(2, len(table.columns)):
            header_row, best = i, score
    if header_row is None:
        examples = "、".join(column.headers[0] for column in table.columns[:4])
        raise Problem(
            f"前 {HEADER_SCAN_ROWS} 行中找不到表头（应有“序号”列或本表的列名，如 {examples}）：请保留平台导出的表头行",
            f"no header row in the first {HEADER_SCAN_ROWS} rows (expected a 序号 column or this table's headers "
            f"such as {examples}): keep the header row of the platform export",
        )
    top = [_clean_cell(cell) for cell in raw_head[header_row]]
    chosen = map_columns(top, table)
    names, data_start = top, header_row + 1
    below = raw_head[header_row + 1] if header_row + 1 < len(raw_head) else None
    # a lower level under a few columns only (the online system's 专业技术职务/等级) leaves every column
    # found on the upper row alone: the row below is then header text, not the first data row
    continued = below is not None and continues_header(below, tokens)
    if below is not None and (len(chosen[0]) < len(table.columns) or continued):
        two_names = flatten_two_level(top, [_clean_cell(cell) for cell in below])
        two_level = map_columns(two_names, table)
        if len(two_level[0]) > len(chosen[0]) or (continued and len(two_level[0]) == len(chosen[0])):
            chosen, names, data_start = two_level, two_names, header_row + 2
    if data_start == header_row + 1 and header_row > 0 and serial_key not in map(normalise_header, top):
        # the best-scoring row may be the lower level of a two-level header (no 序号 to anchor it)
        upper = flatten_two_level([_clean_cell(cell) for cell in raw_head[header_row - 1]], top)
        two_level = map_columns(upper, table)
        if len(two_level[0]) > len(chosen[0]):
            chosen, names, header_row = two_level, upper, header_row - 1
    title_rows = [next((str(c).strip() for c in row if c is not None and str(c).strip()), "")
                  for row in raw_head[:header_row]]
    mapped, serial, extras = chosen
    title = " ".join(cell for cell in title_rows if cell)
    data_start, data_end = data_bounds(grid, data_start, raw_head)
    return HeaderMap(
        title=title,
        data_start=data_start,
        columns=mapped,
        serial_position=serial,
        extras=extras,
        names=names,
        data_end=data_end,
        missing=[column.name for column in table.columns if column.name not in mapped.values()],
        scales=unit_scales(names, mapped, table, title),
    )


def period_year(title: str) -> int | None:
    text = unicodedata.normalize("NFKC", title or "")
    found = PERIOD_RE.search(text)
    if found:
        return int(found.group(2))
    window = WINDOW_RE.search(text)
    return int(window.group(1)) if window else None


def check_placeable(header: HeaderMap, table: CatalogTable) -> None:
    """A file's rows can be placed when its table has one row per college (grain `school`) or at
    least one of the table's key columns was recognised; the other catalog columns may be absent
    (they load as NULL and the quality layer says which). The message names what the file has."""
    keys = [table.column(name) for name in table.key_columns]
    if not keys or any(column.name in header.columns.values() for column in keys):
        return
    found = "、".join(header.extras) or "无"
    recognised = "、".join(table.column(name).headers[0] for name in header.columns.values()) or "无"
    raise Problem(
        f"文件中没有区分各行记录的列（{'、'.join(c.headers[0] for c in keys)}），各行无法对应到记录，未载入。"
        f"已识别的列：{recognised}；未识别的表头：{found}。数据管理员可在 reference/header_aliases.csv "
        "中登记未识别表头对应的列（zhengai catalog map），下次运行即重新读取",
        f"no column identifies the rows ({', '.join(c.name for c in keys)}), so they cannot be placed; not loaded. "
        f"Recognised: {', '.join(header.columns.values()) or 'none'}; unrecognised headers: "
        f"{', '.join(header.extras) or 'none'}. A data officer can map a header in reference/header_aliases.csv "
        "(zhengai catalog map); the next run reads the file again",
    )


UNMAPPED_SAMPLES = 3


def unmapped_headers(grid: Grid, header: HeaderMap, table: CatalogTable) -> list[dict]:
    """Each unrecognised header with a few of its values and the catalog column it most likely is
    (the most similar loose header text among the columns the file lacks, if similar enough)."""
    import difflib

    found = []
    end = header.data_end if header.data_end is not None else grid.height
    for position, name in header.extra_positions:
        cells = pc.utf8_trim_whitespace(grid.columns[position].slice(header.data_start, min(end - header.data_start, 200)))
        values = [v for v in pc.unique(cells.drop_null()).to_pylist() if v not in BLANKS][:UNMAPPED_SAMPLES]
        key = loose_header(normalise_header(name))
        best, score = "", 0.5
        for column in (table.column(missing) for missing in header.missing):
            for text in column.headers:
                ratio = difflib.SequenceMatcher(None, key, loose_header(normalise_header(text))).ratio()
                if ratio > score:
                    best, score = column.name, ratio
        found.append({"header": name, "likely_column": best, "samples": values})
    return found


def extract(grid: Grid, header: HeaderMap, file_id: int) -> pa.Table:
    """The data rows as text: mapped columns under catalog names, row labels, row number and file id.

    Only slicing here (cheap per file); filtering and typing run once per chunk in `type_chunk`.
    """
    start = header.data_start
    end = header.data_end if header.data_end is not None else grid.height
    count = max(end - start, 0)
    arrays, names = [], []
    for position, name in header.columns.items():
        arrays.append(grid.columns[position].slice(start, count))
        names.append(name)
    label_positions = [header.serial_position] if header.serial_position is not None else []
    label_positions += [p for p in range(min(3, len(grid.columns))) if p not in label_positions]
    for number in range(LABEL_COLUMNS):
        present = number < len(label_positions)
        arrays.append(grid.columns[label_positions[number]].slice(start, count) if present else pa.nulls(count, pa.string()))
        names.append(f"__label{number}")
    first = grid.first_row + start
    arrays += [pa.array(np.arange(first, first + count, dtype=np.int32)), pa.array(np.full(count, file_id, dtype=np.int32))]
    names += ["row_no", "__file"]
    extra = extra_cells(grid, header.extra_positions, start, count)
    if extra is not None:
        arrays.append(extra)
        names.append(EXTRA)
    for name, (_, factor) in header.scales.items():
        arrays.append(pa.array(np.full(count, factor, dtype=np.float64)))
        names.append(SCALE + name)
    return pa.Table.from_arrays(arrays, names=names)


EXTRA = "__extra"
SCALE = "__scale:"
EXTRA_TYPE = pa.map_(pa.string(), pa.string())


def extra_cells(grid: Grid, positions: list[tuple[int, str]], start: int, count: int) -> pa.Array | None:
    """Per row, header → cell text of the unrecognised columns (a MAP), so that a header mapped
    later can be read from what was stored; None when the file has no such column."""
    if not positions or count == 0:
        return None
    width = len(positions)
    cells = pa.concat_arrays([grid.columns[position].slice(start, count) for position, _ in positions])
    row_major = (np.arange(width)[None, :] * count + np.arange(count)[:, None]).ravel()
    keys = pa.array([name for _, name in positions] * count, pa.string())
    offsets = pa.array(np.arange(0, count * width + 1, width, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, keys, cells.take(pa.array(row_major)))


# ---------------------------------------------------------------------------------------------
# Coercion: Arrow kernels trim and find blanks; each distinct text is parsed once (in Python, by the
# cached parsers below) and the results are taken back by dictionary index. No query planning per
# call, so typing a few colleges at a time costs little more than typing the province at once.


SEPARATED_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*(?:[-/.]?\s*(\d{1,2})\s*日?)?(?:[ T].*)?$")
COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
SERIAL_DATE_RE = re.compile(r"^(\d{5})(?:\.\d+)?$")
NUMBER_NOISE_RE = re.compile(r"[,\s]")

# Each parser sees one distinct cleaned text (never blank); values repeat a lot, so every column is
# parsed once per distinct text and taken back (see `coerce`).


@lru_cache(maxsize=200_000)
def parse_number(text: str) -> float | None:
    """`1234.5`, `1,234.5`, full-width `１２３４．５`; None for anything else."""
    value = NUMBER_NOISE_RE.sub("", unicodedata.normalize("NFKC", text))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value):
        return None
    return float(value)


@lru_cache(maxsize=200_000)
def parse_integer(text: str) -> int | None:
    """A number with no fractional part (`12`, `12.0`, `１２`); `12.5` is not an integer."""
    number = parse_number(text)
    return int(number) if number is not None and number.is_integer() and abs(number) < 2**62 else None


@lru_cache(maxsize=200_000)
def parse_date(text: str) -> dt.date | None:
    """`1985-07-12`, `1985.07`, `1985/7/12`, `1985年7月`, `198507`, `19850712`, `1985`, Excel serial
    `31240`; first of the month (or year) when the day (or month) is missing; None otherwise."""
    value = unicodedata.normalize("NFKC", text).strip()
    found = SEPARATED_DATE_RE.match(value) or COMPACT_DATE_RE.match(value)
    try:
        if found:
            return dt.date(int(found.group(1)), int(found.group(2)), int(found.group(3) or 1))
        if re.fullmatch(r"(19|20)\d{2}", value):
            return dt.date(int(value), 1, 1)
        serial = SERIAL_DATE_RE.match(value)
        if serial:
            return EXCEL_EPOCH + dt.timedelta(days=int(serial.group(1)))
    except ValueError:
        return None
    return None


@lru_cache(maxsize=1024)
def parse_boolean(text: str) -> bool | None:
    word = unicodedata.normalize("NFKC", text).strip().upper()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


@lru_cache(maxsize=65536)
def parse_category(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


PARSERS = {
    "integer": parse_integer,
    "number": parse_number,
    "date": parse_date,
    "boolean": parse_boolean,
    "category": parse_category,
}


ARROW_TYPES = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "integer": pa.int32(),
    "timestamp": pa.timestamp("us"),
}


def blank_words(column: CatalogColumn) -> tuple[str, ...]:
    """The blank conventions for a column, less any the column allows as a value (e.g. 无 as a degree)."""
    return tuple(b for b in BLANKS if b not in column.allowed_values)


def _blanks(column: CatalogColumn) -> pa.Array:
    return _blanks_array(blank_words(column))


@lru_cache(maxsize=None)
def _blanks_array(words: tuple[str, ...]) -> pa.Array:  # built once, not per column and chunk
    return pa.array(words, pa.string())


def coerce(text: pa.Array, column: CatalogColumn) -> tuple[pa.Array, pa.Array]:
    """(typed value, whether a value was given) for one column of text cells.

    Cells are trimmed; a blank convention is null and not given; a given value its parser cannot
    read is null (counted as a coercion failure by the caller).
    """
    return coerce_trimmed(pc.utf8_trim_whitespace(text), column)


def coerce_trimmed(trimmed: pa.Array, column: CatalogColumn) -> tuple[pa.Array, pa.Array]:
    blank = pc.or_(pc.is_null(trimmed), pc.is_in(trimmed, value_set=_blanks(column)))
    kind = ARROW_TYPES[column.duckdb_type]
    cleaned = pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)
    if column.type not in PARSERS:
        return cleaned.cast(kind), pc.invert(blank)
    parser = PARSERS[column.type]
    encoded = pc.dictionary_encode(cleaned)
    parsed = pa.array([parser(value) for value in encoded.dictionary.to_pylist()], kind)
    return parsed.take(encoded.indices), pc.invert(blank)


TOTAL_FIRST = pa.array(["合", "小", "总", "共"])


def total_rows(labels: pa.Array) -> np.ndarray:
    """Cells that start 合计/小计/总计/共计: a cheap first-character test, then the regex on the
    few cells that pass it."""
    trimmed = pc.utf8_trim_whitespace(labels)
    first = pc.utf8_slice_codeunits(trimmed, 0, 1)
    candidates = np.flatnonzero(pc.fill_null(pc.is_in(first, value_set=TOTAL_FIRST), False).to_numpy(zero_copy_only=False))
    total = np.zeros(len(labels), dtype=bool)
    for row, text in zip(candidates, trimmed.take(pa.array(candidates, pa.int64())).to_pylist()):
        total[row] = TOTAL_RE.match(text) is not None
    return total


def coercion_group(column: CatalogColumn) -> tuple:
    """Columns coerced alike (same parser, type and blank conventions) share one pass."""
    return column.type, column.duckdb_type, blank_words(column)


def _end_to_end(arrays: list[pa.ChunkedArray]) -> pa.Array:
    chunks = [chunk for array in arrays for chunk in array.chunks]
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


@dataclass
class CoercedCells:
    value: pa.Array  # typed, null for blanks and for what the parser could not read
    empty: np.ndarray  # the cell is null or only spaces (for blank-row detection)
    failed: np.ndarray  # a value was given and could not be read


def coerce_chunk(texts: dict[str, pa.Table], catalog: Catalog) -> dict[tuple[str, str], CoercedCells]:
    """Every catalogued cell of a chunk, (table, column) → coerced cells.

    The columns of all tables are put end to end by coercion group and coerced in one pass per
    group: the Arrow calls cost the same for a few rows as for many, and a chunk holds some 300
    columns but only a handful of groups (7 in a demo chunk).
    """
    groups: dict[tuple, list[tuple[str, CatalogColumn]]] = defaultdict(list)
    for name, text in texts.items():
        for column in catalog.by_name(name).columns:
            if column.name in text.column_names:
                groups[coercion_group(column)].append((name, column))
    cells: dict[tuple[str, str], CoercedCells] = {}
    for members in groups.values():
        parts = [texts[name].column(column.name) for name, column in members]
        trimmed = pc.utf8_trim_whitespace(_end_to_end(parts))
        empty = pc.fill_null(pc.equal(trimmed, ""), True).to_numpy(zero_copy_only=False)
        value, given = coerce_trimmed(trimmed, members[0][1])
        failed = given.to_numpy(zero_copy_only=False) & value.is_null().to_numpy(zero_copy_only=False)
        start = 0
        for (name, column), part in zip(members, parts):
            end = start + len(part)
            cells[(name, column.name)] = CoercedCells(value.slice(start, end - start), empty[start:end], failed[start:end])
            start = end
    return cells


def type_chunk(extracted: dict[str, list[pa.Table]], catalog: Catalog,
               files: dict[int, tuple]) -> tuple[dict[str, pa.Table], dict[int, tuple[int, int]]]:
    """Typed rows of `raw.<table>` per table name for a chunk of extracted files, and per file id
    (rows, coercion failures).

    `files` maps a file id to its lineage (school_code, year, source_file, file_sha256, ingested_at).
    Dropped here: blank rows (every catalogued cell empty, even if a template numbered them) and
    total rows (合计/小计/总计/共计 in the 序号 or first cells).
    """
    texts = {name: pa.concat_tables(parts, promote_options="default") for name, parts in extracted.items()}
    cells = coerce_chunk(texts, catalog)
    totals = total_rows(_end_to_end([text.column(f"__label{n}") for text in texts.values()
                                     for n in range(LABEL_COLUMNS)]))
    typed, stats = {}, {}
    start = 0
    for name, text in texts.items():
        # the label cells are end to end: this table's LABEL_COLUMNS columns, one after another
        labels = totals[start:start + LABEL_COLUMNS * text.num_rows].reshape(LABEL_COLUMNS, text.num_rows)
        start += LABEL_COLUMNS * text.num_rows
        typed[name], per_file = typed_table(catalog.by_name(name), text, cells, labels.any(axis=0), files)
        stats.update(per_file)
    return typed, stats


def typed_table(table: CatalogTable, text: pa.Table, cells: dict[tuple[str, str], CoercedCells], total: np.ndarray,
                files: dict[int, tuple]) -> tuple[pa.Table, dict[int, tuple[int, int]]]:
    """One table's typed rows without its blank and total rows, and (rows, failures) per file id."""
    height = text.num_rows
    coerced = {c.name: cells.get((table.table_name, c.name)) for c in table.columns}  # None: column not delivered
    present = [cell for cell in coerced.values() if cell is not None]
    empty = np.logical_and.reduce([c.empty for c in present]) if present else np.ones(height, dtype=bool)
    failed = np.add.reduce([c.failed.astype(np.int64) for c in present]) if present else np.zeros(height, np.int64)
    keep = ~empty & ~total
    values = [scaled(coerced[c.name].value, text, c) if coerced[c.name] is not None
              else pa.nulls(height, ARROW_TYPES[c.duckdb_type]) for c in table.columns]
    extra = (text.column(EXTRA).combine_chunks() if EXTRA in text.column_names else pa.nulls(height, EXTRA_TYPE))
    # one Arrow chunk per column (row_no comes in one per file): DuckDB and pickle pay per chunk
    kept = pa.Table.from_arrays(values + [text.column("row_no").combine_chunks(), extra],
                                names=[c.name for c in table.columns] + ["row_no", EXTRA]).filter(pa.array(keep))
    file_ids = text.column("__file").to_numpy()[keep]
    ids = np.unique(file_ids)
    position = np.searchsorted(ids, file_ids)
    rows = np.bincount(position, minlength=len(ids))
    failures = np.bincount(position, weights=failed[keep], minlength=len(ids)).astype(np.int64)
    stats = {int(file_id): (int(count), int(fail)) for file_id, count, fail in zip(ids, rows, failures)}
    lineage = [files[int(file_id)] for file_id in ids]
    take = pa.array(position.astype(np.int32))
    arrays = [kept.column(c.name) for c in table.columns]
    for index, (_, kind) in enumerate(LINEAGE_COLUMNS[:5]):
        per_file = pa.array([row[index] for row in lineage], ARROW_TYPES[kind])
        # text lineage (file name, hash) as a dictionary: half the bytes sent from the workers
        arrays.append(pa.DictionaryArray.from_arrays(take, per_file) if kind == "varchar" else per_file.take(take))
    arrays += [kept.column("row_no"), kept.column(EXTRA)]
    return pa.table(arrays, names=[column_name for column_name, _ in raw_table_columns(table)]), stats


def scaled(value: pa.Array, text: pa.Table, column: CatalogColumn) -> pa.Array:
    """A numeric column in the catalog's unit: the values of files whose header stated another unit
    are multiplied by that file's factor (an integer column is rounded back)."""
    if SCALE + column.name not in text.column_names:
        return value
    factor = pc.fill_null(text.column(SCALE + column.name).combine_chunks(), 1.0)
    product = pc.multiply(value.cast(pa.float64()), factor)
    return pc.round(product).cast(value.type) if pa.types.is_integer(value.type) else product.cast(value.type)


# ---------------------------------------------------------------------------------------------
# Sub-tables: a newer platform's tables that together make one V2 table (online 6.1 教职工基本信息,
# 6.2 个人其他信息 and 6.3 授课情况 → V2 6.1 校内专任教师), joined on the V2 table's key as text,
# before typing, inside the worker that read them.


def same_table(one: CatalogTable, other: CatalogTable) -> bool:
    return (one.platform_version, one.code) == (other.platform_version, other.code)


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
    those of the key's first row. Rows without a key (a 合计 row) are left out; so are the unknown
    columns (课程名称 and the like describe one course, not the teacher)."""
    keys = row_keys(text, key_columns)
    text = text.filter(pc.is_valid(keys))
    keys = keys.filter(pc.is_valid(keys))
    summed = [c for c in shape.columns if c.name in text.column_names and c.name not in key_columns
              and c.type in ("integer", "number")]
    firsts = [name for name in text.column_names if name not in {c.name for c in summed} and name != EXTRA
              and not name.startswith(SCALE)]
    columns = {"__key": keys}
    for column in summed:
        value, _ = coerce(text.column(column.name).combine_chunks(), column)
        columns[column.name] = scaled(value, text, column).cast(pa.float64())
    columns.update({name: text.column(name).combine_chunks() for name in firsts})
    grouped = pa.table(columns).group_by("__key", use_threads=False).aggregate(
        [(c.name, "sum") for c in summed] + [(name, "first") for name in firsts])
    out = {name: grouped.column(f"{name}_first") for name in firsts}
    for column in summed:
        total = grouped.column(f"{column.name}_sum")
        total = pc.round(total).cast(pa.int64()) if column.type == "integer" else total
        out[column.name] = total.cast(pa.string())
    return pa.table(out)


def join_subtables(table: CatalogTable, parts: list[tuple[CatalogTable, pa.Table]]) -> pa.Table:
    """One V2 table's text rows from its sub-tables (each as `extract` gave it, in the catalog's
    order): the first sub-table delivered gives the rows (one per key) and the row lineage; each
    later one adds, by key, the catalog columns not yet there. Where two sub-tables carry the same
    column (姓名), the earlier wins: online 6.1 is the person's verified basic record, 6.2 and 6.3
    repeat the name only to be readable. A sub-table with another grain than the V2 table's
    (授课情况, per course) is summed per key first (`per_key`)."""
    keyed = [(shape, per_key(shape, text, table.key_columns) if shape.grain != table.grain else text)
             for shape, text in parts]
    _, joined = keyed[0]
    keys = row_keys(joined, table.key_columns)
    have = {name for name in joined.column_names}
    for shape, text in keyed[1:]:
        at = pc.index_in(keys, value_set=row_keys(text, table.key_columns), skip_nulls=True)
        for column in shape.columns:
            if column.name in have or column.name not in text.column_names:
                continue
            joined = joined.append_column(column.name, text.column(column.name).combine_chunks().take(at))
            if SCALE + column.name in text.column_names:
                joined = joined.append_column(SCALE + column.name, text.column(SCALE + column.name).combine_chunks().take(at))
            have.add(column.name)
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
                    found.append((sibling["school_code"], sibling["year"], sibling["source_file"], sibling["archived_path"]))
    return found


# ---------------------------------------------------------------------------------------------
# Discovery: the inbox as a list of deliveries (one per file, zip members included)


@dataclass
class Delivery:
    source_file: str  # path relative to the inbox (zip members: `<zip>/<member>`)
    school_code: str | None
    year: int | None
    folder: tuple[str, str]  # quarantine sub-folders (school, year) as found
    path: Path  # the file in the inbox (for a zip member: the zip)
    modified: dt.datetime
    problem: Problem | None = None
    zip_parent: str | None = None
    member: str | None = None  # name inside the zip, as stored
    size: int = 0  # bytes to read (a zip member: uncompressed), to size the worker tasks
    readable: bool = True  # False: never opened nor copied (a symlink, FIFO, device, a file over the size limit)

    def read(self, limits: IngestLimits) -> bytes:
        return self.read_with_stat(limits)[0]

    def read_with_stat(self, limits: IngestLimits) -> tuple[bytes, os.stat_result | None]:
        """The bytes, and for a plain file the stat of what was read (to hard-link it safely).
        Only a regular file is opened, never through a symlink (see `ingest_guard.open_regular`)."""
        if self.member is None:
            return read_regular(self.path, self.name, limits)
        with open_regular(self.path, self.name) as stream, zipfile.ZipFile(stream) as archive:
            return archive.read(self.member), None

    @cached_property
    def name(self) -> str:
        return PurePosixPath(self.source_file).name

    @cached_property
    def suffix(self) -> str:
        return PurePosixPath(self.source_file).suffix.lower()


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.lstat().st_mtime)


def _relative(inbox: Path, path: Path) -> str:
    """The path as logged: relative to the inbox, bytes that are not UTF-8 shown as �."""
    return path.relative_to(inbox).as_posix().encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ignored(name: str) -> bool:
    return name.lower() in IGNORED_NAMES or name.startswith((".", "~$"))


def discover(inbox: Path, limits: IngestLimits) -> list[Delivery]:
    """Every file in the inbox as a delivery; unparseable folders and unsafe zips carry a problem.

    Entries are looked at with lstat and never followed: a symlink (to a file or a folder, a
    college folder included), a FIFO or a device is a delivery that is only described, never
    opened. An entry that fails to be listed is a delivery with that failure; the others go on.
    """
    deliveries: list[Delivery] = []
    if not inbox.is_dir():
        return deliveries
    for entry in _entries(inbox):
        try:
            info = entry.lstat()
            kind = special_kind(info.st_mode)
            if kind is not None:
                deliveries.append(_special(inbox, entry, info, (entry.name, "unknown"), kind))
            elif stat.S_ISDIR(info.st_mode):
                deliveries.extend(_discover_school(inbox, entry, limits))
            elif entry.suffix.lower() == ".zip":
                deliveries.extend(_discover_zip(inbox, entry, limits))
            elif entry.suffix.lower() in SPREADSHEET_LIKE:
                deliveries.append(_misplaced(inbox, entry, ("unsorted", "unknown")))
        except Exception as error:  # one entry never stops the listing of the others
            deliveries.append(_unlisted(inbox, entry, unexpected(_relative(inbox, entry), error)))
    return deliveries


def _entries(folder: Path) -> list[Path]:
    return sorted(Path(entry.path) for entry in os.scandir(folder) if not _ignored(entry.name))


def _walk(folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every entry below `folder` that is not a directory, with its lstat, in path order; a
    symlinked folder is such an entry, never followed."""
    for path in _entries(folder):
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(path)
        else:
            yield path, info


def _place(name: str) -> str:
    return name if SCHOOL_RE.match(name) else "unsorted"


def _special(inbox: Path, path: Path, info: os.stat_result, folder: tuple[str, str], kind: tuple[str, str]) -> Delivery:
    """A symlink, FIFO or device: quarantined as such (a reason file only)."""
    return Delivery(_relative(inbox, path), folder[0] if SCHOOL_RE.match(folder[0]) else None, _year(folder[1]),
                    (_place(folder[0]), folder[1]), path, dt.datetime.fromtimestamp(info.st_mtime),
                    problem=special_problem(_relative(inbox, path), kind), readable=False)


def _unlisted(inbox: Path, path: Path, problem: Problem) -> Delivery:
    return Delivery(_relative(inbox, path), None, None, ("unsorted", "unknown"), path, dt.datetime.now(),
                    problem=problem, readable=False)


def _misplaced(inbox: Path, path: Path, folder: tuple[str, str]) -> Delivery:
    relative = _relative(inbox, path)
    return Delivery(
        source_file=relative,
        school_code=folder[0] if SCHOOL_RE.match(folder[0]) else None,
        year=None,
        folder=folder,
        path=path,
        modified=_mtime(path),
        problem=Problem(
            f"文件位置不符合约定：{relative}。应放在 inbox/<学校代码>/<采集年份>/ 下（如 inbox/13829/2024/），"
            "或打包为 inbox/<学校代码>_<采集年份>.zip",
            f"file is not where the inbox layout expects it: {relative}. Put it under "
            "inbox/<school_code>/<collection year>/ (e.g. inbox/13829/2024/) or deliver inbox/<school_code>_<year>.zip",
        ),
    )


def _year(text: str) -> int | None:
    return int(text) if re.fullmatch(r"(19|20)\d{2}", text) else None


def _discover_school(inbox: Path, folder: Path, limits: IngestLimits) -> list[Delivery]:
    deliveries = []
    for path, info in _walk(folder):
        parts = path.relative_to(folder).parts
        year = _year(parts[0]) if len(parts) > 1 else None
        kind = special_kind(info.st_mode)
        if kind is not None:
            deliveries.append(_special(inbox, path, info, (folder.name, parts[0] if len(parts) > 1 else "unknown"), kind))
            continue
        if not SCHOOL_RE.match(folder.name) or year is None:
            deliveries.append(_misplaced(inbox, path, (folder.name, parts[0] if len(parts) > 1 else "unknown")))
            continue
        too_big = info.st_size > limits.file_max_bytes
        deliveries.append(
            Delivery(
                source_file=_relative(inbox, path),
                school_code=folder.name,
                year=year,
                folder=(folder.name, str(year)),
                path=path,
                modified=dt.datetime.fromtimestamp(info.st_mtime),
                size=info.st_size,
                problem=too_large(path.name, info.st_size, limits) if too_big else None,
                readable=not too_big,
            )
        )
    return deliveries


def _zip_time(info: zipfile.ZipInfo, path: Path) -> dt.datetime:
    try:
        return dt.datetime(*info.date_time)
    except ValueError:  # a packer that wrote no valid date
        return _mtime(path)


def _member_name(info: zipfile.ZipInfo) -> str:
    """Member name, re-decoded as GBK when the zip (made on Chinese Windows) lacks the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    return posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) is not None or ".." in posix.split("/")


def _discover_zip(inbox: Path, path: Path, limits: IngestLimits) -> list[Delivery]:
    relative = _relative(inbox, path)
    match = ZIP_NAME_RE.match(path.stem)
    school, year = (match.group(1), _year(match.group(2))) if match else (None, None)
    folder = (school or "unsorted", str(year) if year else "unknown")

    def refused(zh: str, en: str) -> list[Delivery]:
        return [
            Delivery(relative, school, year, folder, path, _mtime(path), problem=Problem(zh, en))
        ]

    if school is None or year is None:
        return refused(
            f"压缩包名称应为 <学校代码>_<采集年份>.zip（如 13829_2024.zip），实际为 {path.name}",
            f"a zip delivery must be named <school_code>_<year>.zip (e.g. 13829_2024.zip), got {path.name}",
        )
    stream = open_regular(path, path.name)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        stream.close()
        return refused(
            f"压缩包 {path.name} 已损坏，无法打开：请重新打包后提交",
            f"zip {path.name} is corrupt and cannot be opened ({error}): pack it again and deliver",
        )
    with stream, archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        names = {info.filename: _member_name(info) for info in infos}
        unsafe = [names[i.filename] for i in infos if _unsafe(names[i.filename])]
        if unsafe:
            return refused(
                f"压缩包 {path.name} 中的文件 {unsafe[0]} 会解压到文件夹之外（含“..”或绝对路径），已拒收：请只打包表格文件",
                f"zip {path.name} member {unsafe[0]} would land outside its folder ('..' or absolute path); "
                "refused: pack only the table files",
            )
        total = sum(info.file_size for info in infos)
        packed = sum(info.compress_size for info in infos) or 1
        worst = max((info.file_size / max(info.compress_size, 1) for info in infos), default=0)
        if len(infos) > limits.zip_max_members or total > limits.zip_max_bytes or max(worst, total / packed) > limits.zip_max_ratio:
            return refused(
                f"压缩包 {path.name} 解压后过大（{len(infos)} 个文件，共 {total} 字节，压缩比 {worst:.0f}），"
                f"超过上限（{limits.zip_max_members} 个文件、{limits.zip_max_bytes} 字节、压缩比 {limits.zip_max_ratio}），"
                "已拒收：请只打包本校本年度的表格文件",
                f"zip {path.name} expands too far ({len(infos)} members, {total} bytes, ratio {worst:.0f}; limits "
                f"{limits.zip_max_members} members, {limits.zip_max_bytes} bytes, ratio {limits.zip_max_ratio}); refused",
            )
        members = [(info, names[info.filename].replace("\\", "/")) for info in infos]
        members = [(info, name) for info, name in members if not _ignored(PurePosixPath(name).name)
                   and not name.startswith("__MACOSX/")]
        tops = {name.split("/", 1)[0] for _, name in members if "/" in name}
        strip = len(tops) == 1 and all("/" in name for _, name in members)
        deliveries = []
        for info, name in members:
            inner = name.split("/", 1)[1] if strip else name
            too_big = info.file_size > limits.file_max_bytes
            deliveries.append(
                Delivery(
                    source_file=f"{relative}/{inner}",
                    school_code=school,
                    year=year,
                    folder=folder,
                    path=path,
                    modified=_zip_time(info, path),
                    zip_parent=relative,
                    member=info.filename,
                    size=info.file_size,
                    problem=too_large(PurePosixPath(inner).name, info.file_size, limits) if too_big else None,
                    readable=not too_big,
                )
            )
        return deliveries


# ---------------------------------------------------------------------------------------------
# The ingest run


@dataclass
class LogRow:
    source_file: str
    file_sha256: str | None
    archived_path: str | None
    school_code: str | None
    year: int | None
    table_code: str | None
    status: str
    rows: int
    reason: str | None
    reason_en: str | None
    title: str | None
    period_year: int | None
    exported_at: dt.datetime | None
    ingested_at: dt.datetime
    extra_columns: list[str]
    coercion_failures: int
    missing_columns: list[str] = field(default_factory=list)  # catalog columns the file lacks (NULL in raw)
    conversions: list[str] = field(default_factory=list)  # `column: unit ×factor` applied to the values
    unmapped_headers: list[dict] = field(default_factory=list)  # header, likely_column, samples
    mapping_fingerprint: str | None = None  # the table's headers and aliases the file was mapped with

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, name) for name in LOG_COLUMNS)


LOG_COLUMNS = (
    "source_file", "file_sha256", "archived_path", "school_code", "year", "table_code", "status", "rows",
    "reason", "reason_en", "title", "period_year", "exported_at", "ingested_at", "extra_columns",
    "coercion_failures", "missing_columns", "conversions", "unmapped_headers", "mapping_fingerprint",
)


@dataclass
class Summary:
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    rows_loaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    schools: set[str] = field(default_factory=set)
    processes: dict[int, tuple[float, int]] = field(default_factory=dict)  # pid → CPU seconds, peak RSS (KiB)

    def count(self, row: LogRow) -> None:
        setattr(self, row.status, getattr(self, row.status) + 1)


@dataclass
class Candidate:
    """One table found in a delivery: a whole file, or one sheet of a workbook."""

    delivery: Delivery
    sha: str
    table: CatalogTable
    sheet: str | None  # None: CSV or the file's only table



class Ingest:
    """One run over the inbox. `run()` returns a Summary; the warehouse holds the result."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog | None = None,
                 log: Callable[[str], None] | None = None, limits: IngestLimits | None = None,
                 ingested_at: dt.datetime | None = None):
        self.conn = conn
        self.settings = settings
        self.catalog = catalog or load_catalog()
        self.log = log or (lambda message: None)
        self.limits = limits or IngestLimits.from_env()
        self.ingested_at = ingested_at or now_local()
        self.summary = Summary()
        self.readers: dict[str, fastexcel.ExcelReader] = {}
        self.archived: set[str] = set()
        self.within_limits: set[str] = set()  # sha256 of the workbooks checked against the limits
        self.archive_dir = settings.archive.relative_to(settings.home).as_posix()  # as logged in archived_path
        self.writes: list[Future] = []
        # one writer thread: the copies are file-system work, and more threads only contend for it
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-io")
        self.file_base = 0  # ids of a college's files start here (see FILE_ID_STRIDE)
        self.next_file_id = 0
        self.fingerprints: dict[str, str] = {}
        self.stale: list[tuple] = []  # current files mapped with other headers than now (see current_state)
        self.crosswalk = load_crosswalk()  # newer platforms' table codes and names → V2 tables
        self.shaped: dict[tuple[str, str], CatalogTable] = {}  # sub-table shapes with their V2 table's headers
        self.reset_pending()

    # -- state ---------------------------------------------------------------------------------

    def prepare_warehouse(self) -> None:
        create_raw_tables(self.conn, self.catalog)
        run_sql(self.conn, "raw/ingest_log")

    def current_state(self) -> dict[tuple[str, int, str], tuple[str, int]]:
        """(school, year, table_code) → (sha256, rows) of the data now in raw. A file mapped with
        other headers or aliases than the table's now (`fingerprint`) is not current: its sha is
        given as mapped (`sha@fingerprint`) so that the next run reads it again."""
        rows = run_sql(self.conn, "raw/ingest_current").fetchall()
        self.stale = [(school, year, source, archived) for school, year, code, sha, _, fingerprint, source, archived
                      in rows if code in self.catalog.codes and fingerprint != self.fingerprint(self.catalog.by_code(code))]
        return {(school, year, code): (sha if fingerprint == self.fingerprint(self.catalog.by_code(code))
                                       else f"{sha}@{fingerprint}", count)
                for school, year, code, sha, count, fingerprint, _, _ in rows if code in self.catalog.codes}

    def remap_from_archive(self, discovered: list[Delivery]) -> list[Delivery]:
        """The archived originals of current files mapped with other headers or aliases than now and
        no longer in the inbox: read again from the archive, under their own name, so that a new
        alias reaches every college without a new export. (Call after `current_state`.)"""
        present = {delivery.source_file for delivery in discovered}
        again = []
        for school, year, source, archived in self.stale:
            path = self.settings.home / archived if archived else None
            if source in present or path is None or not path.is_file():
                continue
            stat = path.stat()
            again.append(Delivery(source_file=source, school_code=school, year=year, folder=(school, str(year)),
                                  path=path, modified=dt.datetime.fromtimestamp(stat.st_mtime), size=stat.st_size))
        return again

    def fingerprint(self, table: CatalogTable) -> str:
        """The mapping fingerprint of `table` (catalog headers, aliases, words and units, this code)."""
        if table.code not in self.fingerprints:
            # the newer platforms' sub-tables landing in the table are mapped with their own headers
            shapes = [(s.platform_version, s.code, [(c.name, c.headers) for c in s.columns])
                      for s in self.catalog.shapes if s.table_name == table.table_name]
            self.fingerprints[table.code] = mapping_fingerprint(table, mapping_version() + (repr(shapes) if shapes else ""))
        return self.fingerprints[table.code]

    def previous_by_file(self) -> dict[tuple[str, str], list[dict]]:
        """(source_file, sha256) → that file's log rows from earlier runs."""
        cursor = self.conn.execute(f"select {', '.join(LOG_COLUMNS)} from raw.ingest_log")
        previous: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for values in cursor.fetchall():
            row = dict(zip(LOG_COLUMNS, values))
            previous[(row["source_file"], row["file_sha256"])].append(row)
        return previous

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
        text = (f"文件：{delivery.source_file}\n表格：{what}\n原因：{problem.zh}\n\n"
                f"File: {delivery.source_file}\nTable: {table or 'not identified'}\nReason: {problem.en}\n")
        write_private(folder / bounded_name(name, ".reason.txt"), text.encode("utf-8", "replace"))

    # -- outcomes ------------------------------------------------------------------------------

    def record(self, row: LogRow) -> None:
        self.pending_rows.append(row)
        self.summary.count(row)

    def quarantined(self, delivery: Delivery, sha: str | None, archived: str | None, data: bytes | None,
                    problem: Problem, table: CatalogTable | None = None, title: str | None = None,
                    exported_at: dt.datetime | None = None) -> None:
        label = f"{table.code} {table.name_zh}" if table else None
        if table is not None and table.platform_version != BASE_VERSION:  # a sub-table: logged as its V2 table
            label = f"{table.platform_version} {label}（并入表{self.catalog.by_name(table.table_name).code}）"
            table = self.catalog.by_name(table.table_name)
        try:
            self.quarantine(delivery, data, problem, label)
        except OSError as error:  # the copy is a convenience: the log row below still says why
            problem = Problem(f"{problem.zh}（隔离副本未能写入：{error}）", f"{problem.en} (quarantine copy not written: {error})")
        self.record(LogRow(delivery.source_file, sha, archived, delivery.school_code, delivery.year,
                           table.code if table else None, "quarantined", 0, problem.zh, problem.en, title,
                           period_year(title or ""), exported_at, self.ingested_at, [], 0))

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Summary:
        """Colleges are read and typed in chunks by worker processes (in-process for a few colleges);
        the rows are written here in batches, all in one transaction: the warehouse shows a run
        whole or not at all. DuckDB writes a table's rows to the file as soon as they fill a row
        group, so memory follows the batch and the chunks, not the province."""
        started = self.limits.workers > 1 and start_worker_server()  # imports in the background while the inbox is listed
        try:
            return self.load_inbox()
        finally:
            if started:
                stop_worker_server()  # no process of the run outlives it

    def load_inbox(self) -> Summary:
        """The run itself, between the start and the end of its worker processes' fork server."""
        for folder in (self.settings.archive, self.settings.quarantine):
            try:
                private_dirs(folder)
            except OSError as error:  # each file's copy then fails alone and its log row says so
                self.log(f"无法创建 {folder}（{error}）/ cannot create {folder}")
        self.prepare_warehouse()
        state = self.current_state()
        previous = self.previous_by_file()
        self.stale += stale_subtable_siblings(self.stale, previous)
        by_school: dict[str, list[Delivery]] = defaultdict(list)
        discovered = discover(self.settings.inbox, self.limits)
        for delivery in discovered + self.remap_from_archive(discovered):
            by_school[delivery.school_code or "unsorted"].append(delivery)
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
            schools.append(SchoolWork(school, deliveries, state_by_school.get(school, {}), known,
                                      number * FILE_ID_STRIDE))
        tasks = [ChunkTask(self.settings, self.catalog, self.limits, self.ingested_at, chunk)
                 for chunk in chunks_by_bytes(schools, self.limits.chunk_bytes)]
        saved = self.bulk_settings()
        self.conn.execute("begin transaction")
        results = self.results(tasks)
        try:
            for result in results:
                self.merge(result)
                if self.pending_count >= self.limits.batch_rows:
                    self.flush()
            self.flush()
        except BaseException:
            self.conn.execute("rollback")
            raise
        finally:
            results.close()  # a failed run stops its workers now, not when the generator is collected
            self.io.shutdown(wait=True)
            self.restore_settings(saved)
        # committed with the caller's settings: a commit this large then checkpoints straight away
        # instead of first writing everything to the WAL (0.2 s of 0.75 s)
        self.conn.execute("commit")
        self.conn.execute("checkpoint")  # when the commit was too small to checkpoint by itself
        return self.summary

    BULK_SETTINGS = {"threads": 1, "preserve_insertion_order": False, "checkpoint_threshold": "16 GiB"}

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

    def results(self, tasks: list[ChunkTask]) -> Iterator[ChunkResult]:
        """Chunk results in order; at most two chunks per worker in flight, so memory stays flat.
        A pool whose worker died is replaced for the chunks not yet started."""
        workers = min(self.limits.workers, len(tasks))
        if workers <= 1 or sum(len(task.schools) for task in tasks) < self.limits.pool_min_schools:
            yield from map(ingest_chunk, tasks)
            return
        queued = deque(tasks)
        while queued:
            yield from self.pool_results(queued, workers)

    def pool_results(self, queued: deque[ChunkTask], workers: int) -> Iterator[ChunkResult]:
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
            if not pending:  # the pool broke before taking anything: one chunk in process, then a new pool
                yield ingest_chunk(queued.popleft())
            while pending:
                task, future = pending.popleft()
                try:
                    result = future.result()
                except Exception as error:  # BrokenProcessPool when the worker died; whatever it raised otherwise
                    broken = broken or isinstance(error, BrokenProcessPool)
                    self.log(f"工作进程未能读取 {', '.join(work.school for work in task.schools)}（{type(error).__name__}），"
                             "改在主进程中读取 / the worker failed, reading these colleges in process")
                    result = ingest_chunk(task)
                if queued and not broken:
                    broken = not submit()
                yield result
            finished = not broken
        finally:
            stop_pool(pool, graceful=finished)

    def merge(self, result: ChunkResult) -> None:
        pid, cpu, peak = result.process
        self.summary.processes[pid] = (cpu, peak)  # cumulative per process: the last report holds
        for school, rows in result.schools:
            for row in rows:
                self.record(row)
            self.summary.schools.add(school)
            counts = {status: sum(row.status == status for row in rows) for status in STATUSES}
            self.log(f"{school}: {counts['loaded']} loaded, {counts['unchanged']} unchanged, "
                     f"{counts['quarantined']} quarantined")
        for table_name, typed in result.typed.items():
            self.pending_typed[table_name].append(typed)
            self.summary.rows_loaded[table_name] += typed.num_rows
            self.pending_count += typed.num_rows
        self.pending_replace.extend(result.replace)

    def ingest_school(self, deliveries: list[Delivery], state, previous) -> None:
        """Hash, archive, identify and read one college's deliveries into the pending batch. Any
        failure while one file is read, identified or loaded quarantines that file with its reason;
        the college's other files go on."""
        candidates: list[Candidate] = []
        blobs: dict[str, bytes] = {}
        seen_zips: set[str] = set()
        self.readers = {}
        for delivery in deliveries:
            mark = self.pending_mark()
            try:
                found = self.identify(delivery, previous, seen_zips)
            except Exception as error:
                self.pending_rollback(mark)
                self.quarantined(delivery, None, None, None, unexpected(delivery.name, error))
                continue
            if found is not None:
                sha, data, tables = found
                blobs[sha] = data
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
                    self.quarantined(candidate.delivery, candidate.sha, self.archive_path(candidate), blobs[candidate.sha],
                                     Problem(problem.zh + self.kept_note(key in state), problem.en + self.kept_note_en(key in state)),
                                     candidate.table)
                else:
                    self.load(candidate, blobs[candidate.sha], replace=key in state)
                    state[key] = (candidate.sha, 0)
            except Exception as error:
                self.pending_rollback(mark)
                self.quarantined(candidate.delivery, candidate.sha, self.archive_path(candidate), None,
                                 unexpected(candidate.delivery.name, error), candidate.table)
        self.load_subtable_groups(chosen, state, previous, blobs)
        self.readers = {}
        self.wait_for_writes()

    def identify(self, delivery: Delivery, previous, seen_zips: set[str]) -> tuple[str, bytes, list] | None:
        """Read, hash and archive one delivery, check it against the limits and find its tables:
        (sha256, bytes, [(table, sheet)]), or None when it was quarantined."""
        if not delivery.readable:  # a symlink, FIFO, device or a file over the size limit: never opened
            self.quarantined(delivery, None, None, None, delivery.problem)
            return None
        try:
            data, stat = delivery.read_with_stat(self.limits)
        except Problem as problem:  # it stopped being a regular file, or grew, since it was listed
            self.quarantined(delivery, None, None, None, problem)
            return None
        except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as error:
            self.quarantined(delivery, None, None, None, Problem(
                f"无法读取文件 {delivery.name}（压缩包成员损坏，或文件在读取时被移动或删除）：请重新提交",
                f"cannot read {delivery.name} ({type(error).__name__}: {error}): deliver it again",
            ))
            return None
        sha = hashlib.sha256(data).hexdigest()
        if delivery.zip_parent and delivery.zip_parent not in seen_zips:
            seen_zips.add(delivery.zip_parent)
            with open_regular(delivery.path, delivery.zip_parent) as stream:
                zip_bytes = stream.read()
            self.archive(zip_bytes, hashlib.sha256(zip_bytes).hexdigest(), ".zip")
        archived = self.archive(data, sha, delivery.suffix, (delivery.path, stat) if stat else None)
        if delivery.problem:
            self.quarantined(delivery, sha, archived, data, delivery.problem)
            return None
        known = previous.get((delivery.source_file, sha), [])
        if known and all(row["status"] != "quarantined" and row["table_code"] in self.catalog.codes
                         for row in known) and not self.holds_subtable(delivery, known):  # identified in an earlier run; sheets looked up only to read
            tables = [(self.catalog.by_code(row["table_code"]), None) for row in known]
        else:
            tables = self.over_limits(delivery, sha, data) or self.tables_of(delivery, data, sha)
        if isinstance(tables, Problem):
            self.quarantined(delivery, sha, archived, data, tables)
            return None
        return sha, data, tables

    def over_limits(self, delivery: Delivery, sha: str, data: bytes) -> Problem | None:
        """Why a workbook must not be opened (see `ingest_guard.check_workbook`), checked once per
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
        return (len(self.pending_rows), len(self.pending_files), {name: len(parts) for name, parts in self.pending_text.items()},
                len(self.pending_replace), self.pending_count, set(self.pending_loaded))

    def pending_rollback(self, mark: tuple) -> None:
        rows, files, texts, replace, count, loaded = mark
        for row in self.pending_rows[rows:]:
            setattr(self.summary, row.status, getattr(self.summary, row.status) - 1)
        del self.pending_rows[rows:]
        del self.pending_files[files:]
        for name, parts in self.pending_text.items():
            del parts[texts.get(name, 0):]
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
        files = {file_id: (school, year, source, sha, self.ingested_at)
                 for file_id, school, year, source, sha in self.pending_files}
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
            try:
                self.quarantine(delivery, None, problem, row.table_code)
            except OSError:
                pass  # the log row says why

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

    def resolve_duplicates(self, candidates: list[Candidate], blobs: dict[str, bytes]) -> list[Candidate]:
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
                    other.delivery, other.sha, self.archive_path(other), blobs[other.sha],
                    Problem(
                        f"同一学校、年份的表 {other.table.code} 提交了多份，已采用较新的 {group[0].delivery.source_file}；"
                        "请从 inbox 中删除这份旧文件",
                        f"table {other.table.code} was delivered more than once for this college and year; the newer "
                        f"{group[0].delivery.source_file} was used: remove this older file from the inbox",
                    ),
                    other.table,
                )
        return chosen

    def unchanged(self, candidate: Candidate, previous, rows: int) -> None:
        delivery = candidate.delivery
        known = [row for row in previous.get((delivery.source_file, candidate.sha), [])
                 if row["table_code"] == candidate.table.code and row["status"] != "quarantined"]
        row = known[0] if known else {"rows": rows, "ingested_at": self.ingested_at}
        self.record(LogRow(delivery.source_file, candidate.sha, self.archive_path(candidate), delivery.school_code,
                           delivery.year, candidate.table.code, "unchanged", row["rows"], row.get("reason"), row.get("reason_en"),
                           row.get("title"), row.get("period_year"), row.get("exported_at"), row["ingested_at"],
                           list(row.get("extra_columns") or []), row.get("coercion_failures") or 0,
                           list(row.get("missing_columns") or []), list(row.get("conversions") or []),
                           list(row.get("unmapped_headers") or []), self.fingerprint(candidate.table)))

    def archive_path(self, candidate: Candidate) -> str:
        sha = candidate.sha
        return f"{self.archive_dir}/{sha[:2]}/{sha}{candidate.delivery.suffix}"

    def load(self, candidate: Candidate, data: bytes, replace: bool) -> None:
        """Read, find the header and queue the rows; typing and writing happen in `flush`."""
        read = self.read_table(candidate, data, replace)
        if read is None:
            return
        grid, header, exported_at = read
        delivery, table, archived, title = candidate.delivery, candidate.table, self.archive_path(candidate), header.title
        self.next_file_id = file_id = max(self.next_file_id, self.file_base)
        self.next_file_id += 1
        self.pending_files.append((file_id, delivery.school_code, delivery.year, delivery.source_file, candidate.sha))
        self.pending_text[table.table_name].append(extract(grid, header, file_id))
        if replace:
            self.pending_replace.append((table.table_name, delivery.school_code, delivery.year))
        self.pending_count += grid.height
        row = LogRow(delivery.source_file, candidate.sha, archived, delivery.school_code, delivery.year,
                     table.code, "loaded", 0, None, None, title, period_year(title), exported_at,
                     self.ingested_at, header.extras, 0, header.missing, header.conversions,
                     unmapped_headers(grid, header, table), self.fingerprint(table))
        self.pending_loaded[file_id] = row
        self.record(row)
        self.note_formulas(row, data, grid, header, table)

    def read_table(self, candidate: Candidate, data: bytes, replace: bool) -> tuple[Grid, HeaderMap, dt.datetime | None] | None:
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
            self.quarantined(delivery, candidate.sha, archived, data,
                             Problem(f"表 {table.code} {table.name_zh}{where}：{problem.zh}" + self.kept_note(replace),
                                     f"table {table.code}{' sheet ' + candidate.sheet if candidate.sheet else ''}: "
                                     f"{problem.en}" + self.kept_note_en(replace)),
                             table, title, exported_at)
            return None
        return grid, header, exported_at


    # -- sub-tables of a newer platform (joined into one V2 table) -------------------------------

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
            self.shaped[key] = replace(shape, columns=tuple(
                replace(column, headers=column.headers + tuple(
                    h for h in target.column(column.name).headers if h not in column.headers))
                for column in shape.columns))
        return self.shaped[key]

    def holds_subtable(self, delivery: Delivery, known: list[dict]) -> bool:
        """Whether a file identified in an earlier run holds sub-tables: logged under their V2
        table's code, they must be identified again to be read with their own shape."""
        return (identify_subtable(PurePosixPath(delivery.name).stem, self.catalog, self.crosswalk) is not None
                or any((row.get("reason") or "").startswith(SUBTABLE_NOTE) for row in known))

    def load_subtable_groups(self, chosen: list[Candidate], state, previous, blobs: dict[str, bytes]) -> None:
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
                    self.quarantined(candidate.delivery, candidate.sha, self.archive_path(candidate), None,
                                     unexpected(candidate.delivery.name, error), candidate.table)

    def superseded_subtables(self, group: list[Candidate], code: str) -> None:
        for candidate in group:
            self.quarantined(candidate.delivery, candidate.sha, self.archive_path(candidate), None, Problem(
                f"同一学校、年份已提交完整的表{code}，未再合并这份子表；请从 inbox 中删除其中一种",
                f"the whole table {code} was delivered for this college and year, so this sub-table was not "
                "joined: remove one of the two from the inbox"), candidate.table)

    def load_subtables(self, group: list[Candidate], table: CatalogTable, state, previous,
                       blobs: dict[str, bytes]) -> None:
        """Read each sub-table with its own headers, join them on the V2 table's key and queue the
        result as the V2 table's rows (typed later with the chunk). A sub-table that is missing or
        cannot be read costs its columns only (NULL, listed as missing in every member's log row);
        each member is logged under the V2 table's code, so the table counts as delivered."""
        school, year = group[0].delivery.school_code, group[0].delivery.year
        key = (school, year, table.code)
        as_table = [replace(candidate, table=table) for candidate in group]
        current = state.get(key)
        if current and current[0] in {c.sha for c in group} and all(
                any(row["table_code"] == table.code and row["status"] != "quarantined"
                    for row in previous.get((c.delivery.source_file, c.sha), [])) for c in group):
            for candidate in as_table:
                self.unchanged(candidate, previous, current[1])
            return
        read = []
        for candidate in group:
            data = blobs[candidate.sha]
            if problem := self.over_limits(candidate.delivery, candidate.sha, data):
                self.quarantined(candidate.delivery, candidate.sha, self.archive_path(candidate), data,
                                 Problem(problem.zh + self.kept_note(key in state), problem.en + self.kept_note_en(key in state)),
                                 candidate.table)
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
        missing = [column.name for column in table.columns if column.name not in joined.column_names]
        rows = []
        for candidate, grid, header, exported_at in read:
            shape = candidate.table
            row = LogRow(candidate.delivery.source_file, candidate.sha, self.archive_path(candidate), school, year,
                         table.code, "loaded", 0,
                         f"{SUBTABLE_NOTE}：{shape.platform_version} 表{shape.code} {shape.name_zh}，按"
                         f"{'、'.join(table.column(k).headers[0] for k in table.key_columns)}并入表{table.code} {table.name_zh}",
                         f"sub-table {shape.platform_version} {shape.code}, joined on {', '.join(table.key_columns)} "
                         f"into table {table.code}", header.title, period_year(header.title), exported_at,
                         self.ingested_at, header.extras, 0, missing, header.conversions,
                         unmapped_headers(grid, header, shape), self.fingerprint(table))
            self.record(row)
            rows.append(row)
        self.pending_loaded[file_id] = rows[0]
        self.pending_siblings[file_id] = rows[1:]

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

    def sheet_of(self, candidate: Candidate, data: bytes) -> str:
        tables = self.tables_of(candidate.delivery, data, candidate.sha)
        if isinstance(tables, Problem):
            raise tables
        sheets = [sheet for table, sheet in tables if same_table(table, candidate.table)]
        if not sheets:
            raise self.unknown_table(candidate.delivery, f"工作簿中没有表 {candidate.table.code}")
        return sheets[0] or self.reader(candidate.sha, data).sheet_names[0]

    @staticmethod
    def kept_note(replace: bool) -> str:
        return "。此前已载入的该表数据保持不变" if replace else ""

    @staticmethod
    def kept_note_en(replace: bool) -> str:
        return ". The data loaded earlier for this table is kept unchanged" if replace else ""

    def type_pending(self) -> dict[str, pa.Table]:
        """Type the queued text rows; sets each loaded file's row and failure counts."""
        files = {file_id: (school, year, source, sha, self.ingested_at)
                 for file_id, school, year, source, sha in self.pending_files}
        typed, stats = type_chunk(self.pending_text, self.catalog, files)
        for file_id, (count, failures) in stats.items():
            self.pending_loaded[file_id].rows = count
            self.pending_loaded[file_id].coercion_failures = failures
        return typed

    def flush(self) -> None:
        """Write the batch inside the run's transaction: delete replaced rows, insert rows and log."""
        if not self.pending_rows:
            return
        columns = zip(*(row.as_tuple() for row in self.pending_rows))
        log = pa.table(dict(zip(LOG_COLUMNS, map(list, columns))), schema=LOG_SCHEMA)
        conn = self.conn
        for table_name, school, year in self.pending_replace:
            conn.execute(f'delete from raw."{table_name}" where school_code = $school and year = $year',
                         {"school": school, "year": year})
        for table_name, parts in self.pending_typed.items():
            # a replacement scan, not register(): a registered table stayed in memory after unregister
            ingest_batch = pa.concat_tables(parts)  # noqa: F841 (read by name by DuckDB's replacement scan)
            conn.execute(f'insert into raw."{table_name}" by name select * from ingest_batch')
        ingest_log_batch = log  # noqa: F841 (read by name by DuckDB's replacement scan)
        conn.execute("delete from raw.ingest_log where source_file in (select source_file from ingest_log_batch)")
        conn.execute("insert into raw.ingest_log by name select * from ingest_log_batch")
        self.reset_pending()

    def reset_pending(self) -> None:
        self.pending_rows: list[LogRow] = []
        self.pending_loaded: dict[int, LogRow] = {}
        self.pending_files: list[tuple] = []
        self.pending_text: dict[str, list[pa.Table]] = defaultdict(list)
        self.pending_typed: dict[str, list[pa.Table]] = defaultdict(list)
        self.pending_replace: list[tuple[str, str, int]] = []
        self.pending_count = 0
        self.pending_siblings: dict[int, list[LogRow]] = {}  # joined file id → its other sub-tables' log rows


STATUSES = ("loaded", "unchanged", "quarantined")
FILE_ID_STRIDE = 100_000  # file ids are <college number> * stride + n, unique across workers


@dataclass
class SchoolWork:
    school: str
    deliveries: list[Delivery]
    state: dict  # (school, year, table_code) → (sha256, rows) now in raw
    previous: dict  # (source_file, sha256) → earlier log rows
    file_base: int

    @property
    def size(self) -> int:
        return sum(delivery.size for delivery in self.deliveries)


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


def worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported this module once: each worker starts in
    milliseconds instead of re-importing pyarrow, fastexcel and the rest, and none inherits the
    caller's threads (DuckDB's, Dagster's) as a plain fork would."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows: spawned workers
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
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
    ingest = Ingest(None, task.settings, task.catalog, limits=task.limits, ingested_at=task.ingested_at)
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
    return ChunkResult(schools, typed, ingest.pending_replace,
                       (os.getpid(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss))


def _write_once(target: Path, data: bytes, link: tuple[Path, os.stat_result] | None = None) -> None:
    """Write `data` to `target` unless it exists; or hard-link `link`'s file when it is still the
    file the bytes were read from (same inode, size and mtime), else fall back to writing."""
    if target.exists():
        return
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if link is not None:
        source, read = link
        try:
            os.link(source, target)
        except FileExistsError:
            return
        except OSError:
            pass  # another file system, or no hard links: copy
        else:
            now = os.stat(target)
            if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) == (read.st_dev, read.st_ino, read.st_size,
                                                                          read.st_mtime_ns):
                return
            os.unlink(target)  # the inbox file was replaced after it was read: keep the bytes read
    staging = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    write_private(staging, data)
    os.replace(staging, target)


LOG_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("file_sha256", pa.string()), ("archived_path", pa.string()),
    ("school_code", pa.string()), ("year", pa.int32()), ("table_code", pa.string()), ("status", pa.string()),
    ("rows", pa.int64()), ("reason", pa.string()), ("reason_en", pa.string()), ("title", pa.string()),
    ("period_year", pa.int32()), ("exported_at", pa.timestamp("us")), ("ingested_at", pa.timestamp("us")),
    ("extra_columns", pa.list_(pa.string())), ("coercion_failures", pa.int64()),
    ("missing_columns", pa.list_(pa.string())), ("conversions", pa.list_(pa.string())),
    ("unmapped_headers", pa.list_(pa.struct([("header", pa.string()), ("likely_column", pa.string()),
                                             ("samples", pa.list_(pa.string()))]))),
    ("mapping_fingerprint", pa.string()),
])


def ingest_inbox(conn: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog | None = None,
                 log: Callable[[str], None] | None = None, limits: IngestLimits | None = None,
                 ingested_at: dt.datetime | None = None) -> Summary:
    """Ingest everything in `settings.inbox` into `conn`; see the module docstring for the rules.
    The header aliases a data officer accepted (reference/header_aliases.csv) join the catalog's
    headers for this run."""
    catalog = with_header_aliases(catalog or load_catalog(), load_header_aliases(strict=False))
    return Ingest(conn, settings, catalog, log, limits, ingested_at).run()


MAPPING_CODE_VERSION = "2"  # raise when the header matching changes how an existing file maps


@lru_cache(maxsize=1)
def mapping_version() -> str:
    """The code version and the matching's own reference data (header words, units) in one text."""
    return f"{MAPPING_CODE_VERSION}:{load_header_words()!r}:{sorted(load_unit_conversions().items())!r}"
