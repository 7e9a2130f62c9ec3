"""Headers: find the header block below any title rows, flatten two-level headers to `上级/下级`, map
each column by normalised (then loosened) header text to the catalog, find the unit a header or
title states, and cut the data rows out as text under catalog names (`extract`). Reading side: no
warehouse here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.catalog import (
    Catalog,
    CatalogTable,
    load_header_words,
    load_unit_conversions,
    mapping_fingerprint,
    unit_factor,
)
from pipelines.ingest.guard import Problem
from pipelines.ingest.read import Grid

HEADER_SCAN_ROWS = 20
SERIAL_COLUMN = "序号"
LABEL_COLUMNS = 3  # the 序号 cell and the first cells of a row, where 合计/小计 rows say so
BLANKS = ("", "无", "-", "--", "—", "——", "–", "/", "N/A", "n/a", "NULL", "null")
PERIOD_RE = re.compile(r"(\d{4})\s*[-~～—–至到]\s*(\d{4})\s*学年")
# the online 采集与管理系统 titles its exports with the collection window instead of the 学年, e.g.
# “采集时段：2022-09-01至2023-08-31”: a window ending on 31 August names the 学年 ending that year
WINDOW_RE = re.compile(
    r"\d{4}\s*[-./年]\s*\d{1,2}\s*[-./月]\s*\d{1,2}\s*日?\s*[-~～—–至到]+\s*"
    r"(\d{4})\s*[-./年]\s*0?8\s*[-./月]\s*31"
)


BRACKETS = str.maketrans(
    {
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "〈": "(",
        "〉": ")",
        "《": "(",
        "》": ")",
        "＜": "(",
        "＞": ")",
    }
)
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


def code_text(raw: str) -> str:
    return ".".join(part for part in re.split(r"\s*[.\-_]\s*", raw.strip()) if part)


@dataclass(frozen=True)
class TableHeaders:
    """A catalog table's header texts, normalised once: exact lookup, loose lookup (`loose_header`;
    a loose text two columns share is left out) and the tokens a header row holds."""

    index: dict[str, str]
    tokens: frozenset[str]
    loose: dict[str, str] = field(default_factory=dict)


_HEADERS: dict[int, tuple[CatalogTable, TableHeaders]] = {}


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
    below = (
        head[start : start + NOTE_TOP_ROWS]
        if start + NOTE_TOP_ROWS <= len(head)
        else list(zip(*(column.slice(start, NOTE_TOP_ROWS).to_pylist() for column in grid.columns)))
    )
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


def unit_scales(
    names: list[str], mapped: dict[int, str], table: CatalogTable, title: str
) -> dict[str, tuple[str, float]]:
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
    title_rows = [
        next((str(c).strip() for c in row if c is not None and str(c).strip()), "") for row in raw_head[:header_row]
    ]
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
        cells = pc.utf8_trim_whitespace(
            grid.columns[position].slice(header.data_start, min(end - header.data_start, 200))
        )
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
        arrays.append(
            grid.columns[label_positions[number]].slice(start, count) if present else pa.nulls(count, pa.string())
        )
        names.append(f"__label{number}")
    first = grid.first_row + start
    arrays += [
        pa.array(np.arange(first, first + count, dtype=np.int32)),
        pa.array(np.full(count, file_id, dtype=np.int32)),
    ]
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


MAPPING_CODE_VERSION = "3"  # raise when the header matching changes how an existing file maps


@lru_cache(maxsize=1)
def mapping_version() -> str:
    """The code version and the matching's own reference data (header words, units) in one text."""
    return f"{MAPPING_CODE_VERSION}:{load_header_words()!r}:{sorted(load_unit_conversions().items())!r}"


class Fingerprints:
    """The mapping fingerprint of each table of a catalog (its headers and aliases, the newer
    platforms' sub-table shapes landing in it, the header words and units, this code's version):
    a file mapped with another fingerprint than its table's now is read again."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.known: dict[str, str] = {}

    def of(self, table: CatalogTable) -> str:
        if table.code not in self.known:
            # the newer platforms' sub-tables landing in the table are mapped with their own headers
            shapes = [
                (s.platform_version, s.code, [(c.name, c.headers) for c in s.columns])
                for s in self.catalog.shapes
                if s.table_name == table.table_name
            ]
            self.known[table.code] = mapping_fingerprint(table, mapping_version() + (repr(shapes) if shapes else ""))
        return self.known[table.code]
