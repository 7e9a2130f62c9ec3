"""The platform table catalog (reference/platform_tables.csv, platform_columns.csv) as Python objects.

Shared by the demo generator, the ingest and the expectation-suite generator so that all of
them read the same editable files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipelines.settings import REFERENCE_DIR

COLUMN_TYPES = ("text", "integer", "number", "date", "boolean", "category")
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

    def column(self, name: str) -> CatalogColumn:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.code} has no column {name!r}")


@dataclass(frozen=True)
class Catalog:
    tables: tuple[CatalogTable, ...]

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


def read_catalog(directory: Path) -> Catalog:
    """Read and validate the two catalog files in `directory`; errors name the file and row."""
    with open(directory / "platform_columns.csv", encoding="utf-8", newline="") as handle:
        column_rows = list(csv.DictReader(handle))
    columns: dict[str, list[CatalogColumn]] = {}
    for line_no, row in enumerate(column_rows, start=2):
        if row["type"] not in COLUMN_TYPES:
            raise ValueError(f"platform_columns.csv line {line_no}: unknown type {row['type']!r}")
        columns.setdefault(row["table_code"].strip(), []).append(
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
            )
        )
    with open(directory / "platform_tables.csv", encoding="utf-8", newline="") as handle:
        table_rows = list(csv.DictReader(handle))
    tables = []
    for line_no, row in enumerate(table_rows, start=2):
        code = row["table_code"].strip()
        if code not in columns:
            raise ValueError(f"platform_tables.csv line {line_no}: table {code} has no columns")
        tables.append(
            CatalogTable(
                code=code,
                name_zh=row["name_zh"].strip(),
                table_name=row["table_name"].strip(),
                grain=row["grain"].strip(),
                key_columns=_split(row["key_columns"]),
                required=row["required"] == "yes",
                confidence=row["confidence"],
                note=row["note"] or "",
                columns=tuple(columns.pop(code)),
            )
        )
    if columns:
        raise ValueError(f"platform_columns.csv names tables missing from platform_tables.csv: {sorted(columns)}")
    return Catalog(tables=tuple(tables))


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    return read_catalog(REFERENCE_DIR)


LINEAGE_COLUMNS = (
    ("school_code", "varchar"),
    ("year", "integer"),
    ("source_file", "varchar"),
    ("file_sha256", "varchar"),
    ("ingested_at", "timestamp"),
    ("row_no", "integer"),
)


def raw_table_columns(table: CatalogTable) -> list[tuple[str, str]]:
    """The columns of `raw.<table_name>`: the catalog's typed columns, then the lineage columns."""
    return [(column.name, column.duckdb_type) for column in table.columns] + list(LINEAGE_COLUMNS)


def create_raw_table(conn, table: CatalogTable) -> None:
    """Create `raw.<table_name>` empty if it does not exist yet (identifiers come from the catalog)."""
    conn.execute("create schema if not exists raw")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in raw_table_columns(table))
    conn.execute(f'create table if not exists raw."{table.table_name}" ({columns})')


def create_raw_tables(conn, catalog: Catalog | None = None) -> None:
    for table in (catalog or load_catalog()).tables:
        create_raw_table(conn, table)
