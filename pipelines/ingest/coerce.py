"""Coercion: text cells typed by their catalog column, blank and total rows dropped, units converted,
lineage added: the rows of `raw.<table>` as Arrow tables. Reading side: no warehouse here."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.catalog import LINEAGE_COLUMNS, Catalog, CatalogColumn, CatalogTable, raw_table_columns
from pipelines.ingest.headers import BLANKS, EXTRA, EXTRA_TYPE, LABEL_COLUMNS, SCALE

TOTAL_RE = re.compile(r"^\s*(合\s*计|小\s*计|总\s*计|共\s*计)")  # a label starting 合计/小计/总计/共计, spaces allowed
TRUE_WORDS = ("是", "Y", "YES", "TRUE", "1", "√", "✓")
FALSE_WORDS = ("否", "N", "NO", "FALSE", "0", "×", "✗")
EXCEL_EPOCH = dt.date(1899, 12, 30)


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


@cache
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


@cache
def total_first() -> pa.Array:
    # built on first use: pa.array imports pandas, half a second that `zhengai`'s start-up then skips
    return pa.array(["合", "小", "总", "共"])


def total_rows(labels: pa.Array) -> np.ndarray:
    """Cells that start 合计/小计/总计/共计: a cheap first-character test, then the regex on the
    few cells that pass it."""
    trimmed = pc.utf8_trim_whitespace(labels)
    first = pc.utf8_slice_codeunits(trimmed, 0, 1)
    candidates = np.flatnonzero(
        pc.fill_null(pc.is_in(first, value_set=total_first()), False).to_numpy(zero_copy_only=False)
    )
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
            cells[(name, column.name)] = CoercedCells(
                value.slice(start, end - start), empty[start:end], failed[start:end]
            )
            start = end
    return cells


def type_chunk(
    extracted: dict[str, list[pa.Table]], catalog: Catalog, files: dict[int, tuple]
) -> tuple[dict[str, pa.Table], dict[int, tuple[int, int]]]:
    """Typed rows of `raw.<table>` per table name for a chunk of extracted files, and per file id
    (rows, coercion failures).

    `files` maps a file id to its lineage (school_code, year, source_file, file_sha256, ingested_at).
    Dropped here: blank rows (every catalogued cell empty, even if a template numbered them) and
    total rows (合计/小计/总计/共计 in the 序号 or first cells).
    """
    texts = {name: pa.concat_tables(parts, promote_options="default") for name, parts in extracted.items()}
    cells = coerce_chunk(texts, catalog)
    totals = total_rows(
        _end_to_end([text.column(f"__label{n}") for text in texts.values() for n in range(LABEL_COLUMNS)])
    )
    typed, stats = {}, {}
    start = 0
    for name, text in texts.items():
        # the label cells are end to end: this table's LABEL_COLUMNS columns, one after another
        labels = totals[start : start + LABEL_COLUMNS * text.num_rows].reshape(LABEL_COLUMNS, text.num_rows)
        start += LABEL_COLUMNS * text.num_rows
        typed[name], per_file = typed_table(catalog.by_name(name), text, cells, labels.any(axis=0), files)
        stats.update(per_file)
    return typed, stats


def typed_table(
    table: CatalogTable,
    text: pa.Table,
    cells: dict[tuple[str, str], CoercedCells],
    total: np.ndarray,
    files: dict[int, tuple],
) -> tuple[pa.Table, dict[int, tuple[int, int]]]:
    """One table's typed rows without its blank and total rows, and (rows, failures) per file id."""
    height = text.num_rows
    coerced = {c.name: cells.get((table.table_name, c.name)) for c in table.columns}  # None: column not delivered
    present = [cell for cell in coerced.values() if cell is not None]
    empty = np.logical_and.reduce([c.empty for c in present]) if present else np.ones(height, dtype=bool)
    failed = np.add.reduce([c.failed.astype(np.int64) for c in present]) if present else np.zeros(height, np.int64)
    keep = ~empty & ~total
    values = [
        scaled(coerced[c.name].value, text, c)
        if coerced[c.name] is not None
        else pa.nulls(height, ARROW_TYPES[c.duckdb_type])
        for c in table.columns
    ]
    extra = text.column(EXTRA).combine_chunks() if EXTRA in text.column_names else pa.nulls(height, EXTRA_TYPE)
    # one Arrow chunk per column (row_no comes in one per file): DuckDB and pickle pay per chunk
    kept = pa.Table.from_arrays(
        [*values, text.column("row_no").combine_chunks(), extra],
        names=[c.name for c in table.columns] + ["row_no", EXTRA],
    ).filter(pa.array(keep))
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
