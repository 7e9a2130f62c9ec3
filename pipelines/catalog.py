"""The platform table catalog (reference/platform_tables.csv, platform_columns.csv) as Python objects.

Shared by the demo generator, the ingest and the expectation-suite generator so that all of
them read the same editable files.

Every table and column row names its `source` (a public template, field list, notice or code),
its `confidence` (high / medium / low) and the `platform_version` whose layout it describes:
`V2` rows are the Excel-era platform whose numbering 附件2 cites, one raw table each
(`Catalog.tables`); rows of a later version (`online2017`, the online 采集与管理系统) describe
that version's shape of a table and land in the raw table of the same `table_name`
(`Catalog.shapes`). reference/platform_crosswalk.csv maps every version's table codes to the V2
codes and reference/header_aliases.csv holds the header variants a data officer accepted.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from pipelines.settings import REFERENCE_DIR, header_aliases_path

COLUMN_TYPES = ("text", "integer", "number", "date", "boolean", "category")
BASE_VERSION = "V2"
PLATFORM_VERSIONS = (BASE_VERSION, "online2017")
CONFIDENCE_LEVELS = ("high", "medium", "low")
DUCKDB_TYPES = {
    "text": "varchar",
    "category": "varchar",
    "integer": "bigint",
    "number": "double",
    "date": "date",
    "boolean": "boolean",
}


@dataclass(frozen=True)
class CatalogColumn:
    table_code: str
    name: str
    headers: tuple[str, ...]
    type: str
    unit: str
    required: bool
    allowed_values: tuple[str, ...]
    min_value: float | None
    max_value: float | None
    description_zh: str
    source: str = ""
    confidence: str = ""
    platform_version: str = BASE_VERSION

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class CatalogTable:
    code: str
    name_zh: str
    table_name: str
    grain: str
    key_columns: tuple[str, ...]
    required: bool
    confidence: str
    note: str
    columns: tuple[CatalogColumn, ...] = field(default=())
    source: str = ""
    platform_version: str = BASE_VERSION

    def column(self, name: str) -> CatalogColumn:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.code} has no column {name!r}")


@dataclass(frozen=True)
class Catalog:
    tables: tuple[CatalogTable, ...]
    shapes: tuple[CatalogTable, ...] = ()

    def shapes_of(self, platform_version: str) -> tuple[CatalogTable, ...]:
        """The tables of one platform version whose shape differs from V2 (V2: the raw tables)."""
        if platform_version == BASE_VERSION:
            return self.tables
        return tuple(shape for shape in self.shapes if shape.platform_version == platform_version)

    def by_code(self, code: str) -> CatalogTable:
        for table in self.tables:
            if table.code == code:
                return table
        raise KeyError(f"no catalogued table with code {code!r}")

    def by_name(self, table_name: str) -> CatalogTable:
        for table in self.tables:
            if table.table_name == table_name:
                return table
        raise KeyError(f"no catalogued table named {table_name!r}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(table.code for table in self.tables)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split("|") if part.strip())


def _number(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _version(row: dict) -> str:
    return (row.get("platform_version") or "").strip() or BASE_VERSION


def _confidence(file: str, line_no: int, row: dict) -> str:
    value = (row.get("confidence") or "").strip()
    if value and value not in CONFIDENCE_LEVELS:
        raise ValueError(f"{file} line {line_no}: confidence {value!r} is not one of {', '.join(CONFIDENCE_LEVELS)}")
    return value


def read_catalog(directory: Path) -> Catalog:
    """Read and validate the two catalog files in `directory`; errors name the file and row."""
    columns: dict[tuple[str, str], list[CatalogColumn]] = {}
    for line_no, row in enumerate(_read_rows(directory / "platform_columns.csv"), start=2):
        if row["type"] not in COLUMN_TYPES:
            raise ValueError(f"platform_columns.csv line {line_no}: unknown type {row['type']!r}")
        version = _version(row)
        columns.setdefault((version, row["table_code"].strip()), []).append(
            CatalogColumn(
                table_code=row["table_code"].strip(),
                name=row["column_name"].strip(),
                headers=_split(row["headers"]),
                type=row["type"],
                unit=row["unit"] or "",
                required=row["required"] == "yes",
                allowed_values=_split(row["allowed_values"]),
                min_value=_number(row["min_value"]),
                max_value=_number(row["max_value"]),
                description_zh=row["description_zh"] or "",
                source=(row.get("source") or "").strip(),
                confidence=_confidence("platform_columns.csv", line_no, row),
                platform_version=version,
            )
        )
    tables, shapes = [], []
    for line_no, row in enumerate(_read_rows(directory / "platform_tables.csv"), start=2):
        code, version = row["table_code"].strip(), _version(row)
        if (version, code) not in columns:
            raise ValueError(f"platform_tables.csv line {line_no}: table {code} ({version}) has no columns")
        table = CatalogTable(
            code=code,
            name_zh=row["name_zh"].strip(),
            table_name=row["table_name"].strip(),
            grain=row["grain"].strip(),
            key_columns=_split(row["key_columns"]),
            required=row["required"] == "yes",
            confidence=_confidence("platform_tables.csv", line_no, row),
            note=row["note"] or "",
            columns=tuple(columns.pop((version, code))),
            source=(row.get("source") or "").strip(),
            platform_version=version,
        )
        (tables if version == BASE_VERSION else shapes).append(table)
    if columns:
        raise ValueError(f"platform_columns.csv names tables missing from platform_tables.csv: {sorted(columns)}")
    _check_shapes(tables, shapes)
    return Catalog(tables=tuple(tables), shapes=tuple(shapes))


def _check_shapes(tables: list[CatalogTable], shapes: list[CatalogTable]) -> None:
    """A later version's shape must land in a V2 raw table and fill only that table's columns."""
    by_name = {table.table_name: table for table in tables}
    for shape in shapes:
        target = by_name.get(shape.table_name)
        if target is None:
            raise ValueError(
                f"platform_tables.csv: {shape.platform_version} table {shape.code} lands in "
                f"{shape.table_name!r}, which no V2 table is"
            )
        known = {column.name for column in target.columns}
        unknown = [column.name for column in shape.columns if column.name not in known]
        if unknown:
            raise ValueError(
                f"platform_columns.csv: {shape.platform_version} table {shape.code} names columns "
                f"{unknown} that V2 table {target.code} does not have"
            )


@dataclass(frozen=True)
class CrosswalkEntry:
    """One table of one platform version and the V2 code whose raw table its rows land in."""

    platform_version: str
    table_code: str
    table_name_zh: str
    v2_table_code: str
    note: str
    source: str
    confidence: str


@dataclass(frozen=True)
class HeaderAlias:
    """A header text seen in real exports, accepted as a catalog column (reference/header_aliases.csv)."""

    table_code: str
    header: str
    column_name: str
    note: str


def read_crosswalk(directory: Path) -> tuple[CrosswalkEntry, ...]:
    return read_crosswalk_file(directory / "platform_crosswalk.csv")


def read_crosswalk_file(path: Path) -> tuple[CrosswalkEntry, ...]:
    entries = []
    for line_no, row in enumerate(_read_rows(path), start=2):
        entries.append(
            CrosswalkEntry(
                platform_version=_version(row),
                table_code=row["table_code"].strip(),
                table_name_zh=(row["table_name_zh"] or "").strip(),
                v2_table_code=row["v2_table_code"].strip(),
                note=row["note"] or "",
                source=(row["source"] or "").strip(),
                confidence=_confidence(path.name, line_no, row),
            )
        )
    return tuple(entries)


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    return read_catalog(REFERENCE_DIR)


ALIAS_COLUMNS = ("table_code", "header", "column_name", "note")


def load_header_aliases(path: Path | None = None, strict: bool = True) -> list[HeaderAlias]:
    """reference/header_aliases.csv (or `path`); a missing file is no aliases. Rows naming an
    unknown table or column are refused with the file and line, or left out when not `strict`
    (the ingest: a mistyped row costs that alias, never the run)."""
    path = path or header_aliases_path()
    if not path.exists():
        return []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    catalog = load_catalog()
    aliases = []
    for line_no, row in enumerate(rows, start=2):
        alias = HeaderAlias(*((row.get(name) or "").strip() for name in ALIAS_COLUMNS))
        if not alias.header:
            continue
        if alias.table_code not in catalog.codes or alias.column_name not in {
            column.name for column in catalog.by_code(alias.table_code).columns
        }:
            if not strict:
                continue
            raise ValueError(
                f"{path.name} line {line_no}: table {alias.table_code!r} has no column {alias.column_name!r}"
            )
        aliases.append(alias)
    return aliases


def with_header_aliases(catalog: Catalog, aliases: list[HeaderAlias]) -> Catalog:
    """The catalog with each alias added to its column's accepted headers (after the catalog's own)."""
    extra: dict[tuple[str, str], list[str]] = {}
    for alias in aliases:
        extra.setdefault((alias.table_code, alias.column_name), []).append(alias.header)
    if not extra:
        return catalog
    tables = []
    for table in catalog.tables:
        columns = tuple(
            replace(
                column,
                headers=column.headers
                + tuple(h for h in extra.get((table.code, column.name), []) if h not in column.headers),
            )
            for column in table.columns
        )
        tables.append(replace(table, columns=columns))
    return Catalog(tables=tuple(tables), shapes=catalog.shapes)  # the newer platforms' shapes stay


def mapping_fingerprint(table: CatalogTable, version: str) -> str:
    """What a file's column mapping depends on: the table's columns (headers, aliases included,
    types, units) and the mapping code's `version`. A change re-reads the table's files."""
    text = repr((version, table.code, [(c.name, c.headers, c.type, c.unit) for c in table.columns]))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class UnitConversion:
    unit: str
    base_unit: str
    factor: float  # one `unit` in `base_unit`


@lru_cache(maxsize=1)
def load_unit_conversions() -> dict[str, UnitConversion]:
    """reference/unit_conversions.csv: each unit a header may carry, as a multiple of its base unit."""
    with open(REFERENCE_DIR / "unit_conversions.csv", encoding="utf-8", newline="") as handle:
        return {
            row["unit"].strip(): UnitConversion(row["unit"].strip(), row["base_unit"].strip(), float(row["factor"]))
            for row in csv.DictReader(handle)
        }


def unit_factor(found: str, catalog_unit: str) -> float | None:
    """The factor taking a value in `found` to `catalog_unit` (万元 in a 元 column: 10000); None when
    the two are not the same kind of quantity or either is unknown."""
    units = load_unit_conversions()
    source, target = units.get(found), units.get(catalog_unit)
    if source is None or target is None or source.base_unit != target.base_unit:
        return None
    return source.factor / target.factor


LINEAGE_COLUMNS = (
    ("school_code", "varchar"),
    ("year", "integer"),
    ("source_file", "varchar"),
    ("file_sha256", "varchar"),
    ("ingested_at", "timestamp"),
    ("row_no", "integer"),
)


EXTRA_COLUMN = ("extra", "map(varchar, varchar)")  # per row: unrecognised header → cell text


def raw_table_columns(table: CatalogTable) -> list[tuple[str, str]]:
    """The columns of `raw.<table_name>`: the catalog's typed columns, the lineage columns, then
    `extra` (the row's cells under headers the catalog does not know, kept for a later alias)."""
    return [(column.name, column.duckdb_type) for column in table.columns] + list(LINEAGE_COLUMNS) + [EXTRA_COLUMN]


def create_raw_table(conn, table: CatalogTable) -> None:
    """Create `raw.<table_name>` empty if it does not exist yet (identifiers come from the catalog)."""
    conn.execute("create schema if not exists raw")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in raw_table_columns(table))
    conn.execute(f'create table if not exists raw."{table.table_name}" ({columns})')
    # a warehouse made before `extra` existed gains it (empty) instead of refusing the insert
    conn.execute(f'alter table raw."{table.table_name}" add column if not exists "{EXTRA_COLUMN[0]}" {EXTRA_COLUMN[1]}')


def create_raw_tables(conn, catalog: Catalog | None = None) -> None:
    for table in (catalog or load_catalog()).tables:
        create_raw_table(conn, table)


@lru_cache(maxsize=1)
def load_header_words() -> tuple[tuple[str, str], ...]:
    """reference/header_words.csv: (word, same_as) pairs that header matching treats as one wording
    (same_as empty: the word is left out), e.g. 最后 → 最高."""
    with open(REFERENCE_DIR / "header_words.csv", encoding="utf-8", newline="") as handle:
        return tuple(
            (row["word"].strip(), (row["same_as"] or "").strip())
            for row in csv.DictReader(handle)
            if row["word"].strip()
        )


def load_crosswalk(path: Path | None = None) -> tuple[CrosswalkEntry, ...]:
    """reference/platform_crosswalk.csv (or `path`): each platform version's tables → V2 codes;
    a missing file is no crosswalk."""
    path = path or REFERENCE_DIR / "platform_crosswalk.csv"
    return read_crosswalk_file(path) if path.is_file() else ()
