"""A small warehouse for the data-quality tests: real ref tables, raw rows written by hand.

`QualityWarehouse.deliver` writes one college-year of clean rows into every catalogued raw table
(every value inside its catalogued domain, totals consistent, keys unique) plus the matching
`raw.ingest_log` rows, as the ingest would; a test then breaks exactly one thing and runs the
quality layer's builder (`run`, assets/quality.py) as of a date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from assets.quality import build_quality_tables
from assets.ref import build_reference_tables
from pipelines.catalog import CatalogColumn, CatalogTable, create_raw_tables, load_catalog
from pipelines.quality.calendar import quality_params
from pipelines.sql import run_sql
from warehouse_fixtures import empty_schools

ROWS = {"school": 1, "7.1": 12}
DEFAULT_ROWS = 3
FIRST_DATA_ROW = 4  # title row, then a two-level header
# Values that keep totals consistent: 12 majors × 500 = 6000 = 1.3.2 fulltime_total; 5.2 items sum to the total.
OVERRIDES = {
    "1.3.2": {"fulltime_total": 6000},
    "7.1": {"enrolled_students": 500},
    "5.2": {
        "expenditure_total": 700.0,
        "infrastructure": 100.0,
        "equipment_purchase": 100.0,
        "daily_teaching": 100.0,
        "teaching_reform": 100.0,
        "faculty_development": 100.0,
        "student_support": 100.0,
        "other_expenditure": 100.0,
    },
    "5.1": {
        "income_total": 400.0,
        "fiscal_appropriation": 100.0,
        "special_appropriation": 100.0,
        "tuition": 100.0,
        "social_donation": 50.0,
        "other_income": 50.0,
    },
}


def clean_value(table: CatalogTable, column: CatalogColumn, year: int, index: int):
    if column.name in OVERRIDES.get(table.code, {}):
        return OVERRIDES[table.code][column.name]
    if column.type == "text":
        return f"{column.name[:1].upper()}{index + 1:04d}"
    if column.type == "category":
        return column.allowed_values[0]
    if column.type == "boolean":
        return True
    if column.type == "date":
        return dt.date(year - 40, 5, 1) if column.name == "birth_date" else dt.date(year - 1, 6, 30)
    low = column.min_value or 0
    high = column.max_value if column.max_value is not None else low + 100
    value = low + (high - low) / 10
    return round(value) if column.type == "integer" else value


def clean_rows(table: CatalogTable, year: int, count: int | None = None) -> list[dict]:
    count = count if count is not None else ROWS.get(table.code, ROWS.get(table.grain, DEFAULT_ROWS))
    return [{column.name: clean_value(table, column, year, i) for column in table.columns} for i in range(count)]


class QualityWarehouse:
    def __init__(self, path: Path | None = None) -> None:
        self.conn = duckdb.connect(str(path) if path else ":memory:")
        self.catalog = load_catalog()
        build_reference_tables(self.conn)
        empty_schools(self.conn)
        create_raw_tables(self.conn, self.catalog)
        run_sql(self.conn, "raw/ingest_log")

    def add_school(
        self,
        code: str,
        name: str | None = None,
        active_from: int | None = 2020,
        active_to: int | None = None,
        status: str = "active",
    ) -> None:
        self.conn.execute(
            "insert into ref.schools values (?, ?, '综合', '公办', ?, [], ?, ?)",
            [code, name or f"广西{code}职业技术学院", status, active_from, active_to],
        )

    def source_file(self, code: str, year: int, table: CatalogTable) -> str:
        return f"{code}/{year}/表{table.code} {table.name_zh}.xlsx"

    def insert_rows(self, code: str, year: int, table: CatalogTable, rows: list[dict]) -> None:
        if not rows:
            return
        names = [column.name for column in table.columns]
        source = self.source_file(code, year, table)
        values = [
            [row.get(name) for name in names]
            + [code, year, source, "sha", dt.datetime(year, 10, 1), FIRST_DATA_ROW + i]
            for i, row in enumerate(rows)
        ]
        columns = ", ".join(
            f'"{name}"'
            for name in [*names, "school_code", "year", "source_file", "file_sha256", "ingested_at", "row_no"]
        )
        marks = ", ".join("?" for _ in range(len(names) + 6))
        self.conn.executemany(f'insert into raw."{table.table_name}" ({columns}) values ({marks})', values)

    def log(
        self,
        code: str,
        year: int,
        table: CatalogTable,
        *,
        status: str = "loaded",
        rows: int = 0,
        period_year: int | None = None,
        exported_at: dt.datetime | None = None,
        reason: str | None = None,
        coercion_failures: int = 0,
        extra_columns: list[str] | None = None,
        source_file: str | None = None,
    ) -> None:
        """One `raw.ingest_log` row; `period_year=0` stands for a title naming no 学年."""
        period = year if period_year is None else (period_year or None)
        title = f"广西{code}职业技术学院 表{table.code} {table.name_zh}" + (
            f"（{period - 1}-{period}学年）" if period else ""
        )
        self.conn.execute(
            "insert into raw.ingest_log (source_file, file_sha256, archived_path, school_code, year, table_code, status, "
            "rows, reason, reason_en, title, period_year, exported_at, ingested_at, extra_columns, coercion_failures) "
            "values (?, 'sha', null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source_file or self.source_file(code, year, table),
                code,
                year,
                table.code,
                status,
                rows,
                reason,
                reason and f"{reason} (en)",
                title,
                period,
                exported_at or dt.datetime(year, 9, 20, 10, 0),
                dt.datetime(year, 10, 1),
                extra_columns or [],
                coercion_failures,
            ],
        )

    def deliver(
        self, code: str, year: int, skip: tuple[str, ...] = (), rows: dict[str, list[dict]] | None = None, **log_options
    ) -> None:
        """A clean delivery of every catalogued table but `skip`; `rows` replaces a table's rows."""
        for table in self.catalog.tables:
            if table.code in skip:
                continue
            table_rows = (rows or {}).get(table.code) or clean_rows(table, year)
            self.insert_rows(code, year, table, table_rows)
            self.log(code, year, table, rows=len(table_rows), **log_options)

    def table(self, code: str) -> CatalogTable:
        return self.catalog.by_code(code)

    @staticmethod
    def catalog_table(code: str) -> CatalogTable:
        return load_catalog().by_code(code)

    def run(self, as_of: dt.date, suites: tuple[str, ...] | None = None) -> None:
        """The quality layer's builder (the assets' own functions), as of `as_of`; `suites` limits the
        expectation suites run to those table codes (every SQL check always runs), to keep the tests fast."""
        build_quality_tables(self.conn, quality_params(as_of), self.catalog, suites)

    def issues(self, **where) -> list[dict]:
        clause = " and ".join(f"{name} = ?" for name in where) or "true"
        frame = self.conn.execute(f"select * from quality.issues where {clause}", list(where.values())).pl()
        return frame.to_dicts()

    def status(self, code: str, year: int, table_code: str) -> tuple[str, str]:
        return self.conn.execute(
            "select status, reasons_zh from quality.table_status where school_code = ? and year = ? and table_code = ?",
            [code, year, table_code],
        ).fetchone()

    def element(self, code: str, year: int, element_code: str) -> tuple[str, str]:
        return self.conn.execute(
            "select status, reasons_zh from quality.element_data_status "
            "where school_code = ? and year = ? and element_code = ?",
            [code, year, element_code],
        ).fetchone()
