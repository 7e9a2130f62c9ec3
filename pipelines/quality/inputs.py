"""What the checks read: the temp tables of delivered tables and judged college-years
(`prepare_inputs`), and a raw table as pandas frames for Great Expectations (`table_frames`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pipelines.catalog import Catalog, CatalogTable, create_raw_tables, load_catalog
from pipelines.quality.calendar import QualityParams
from pipelines.quality.suites import DERIVED_COLUMNS
from pipelines.sql import run_sql

# pandas is imported where a frame is first used: importing it (half a second) no longer delays `zhengai`'s start-up
if TYPE_CHECKING:
    import pandas as pd

LINEAGE = ["school_code", "year", "source_file", "row_no"]


def prepare_inputs(conn: duckdb.DuckDBPyConnection, params: QualityParams, catalog: Catalog | None = None) -> None:
    """Temp tables `delivered_tables`, `table_rows` and `college_years` for this connection's checks
    (sql/quality/: one statement per file, the raw table's name and code bound, never formatted in).

    The raw tables and `raw.ingest_log` are created empty if the ingest has not made them yet, so a
    warehouse with no deliveries judges every active college's tables missing.
    """
    catalog = catalog or load_catalog()
    create_raw_tables(conn, catalog)
    run_sql(conn, "raw/ingest_log")
    run_sql(conn, "quality/delivered_tables")
    run_sql(conn, "quality/table_rows")
    for table in catalog.tables:
        run_sql(conn, "quality/table_rows_add", {"table_name": f'raw."{table.table_name}"', "code": table.code})
    run_sql(conn, "quality/delivered_tables_add")
    run_sql(conn, "quality/college_years", {"current_year": params.current_year})


def derived_columns(table: CatalogTable) -> dict[str, str]:
    """The derived columns a table's frame carries (name → DuckDB expression over its raw columns)."""
    names = {column.name for column in table.columns}
    return {name: spec.expression for name, spec in DERIVED_COLUMNS.items() if spec.source in names}


def frame_columns(table: CatalogTable) -> list[str]:
    """The columns of a table's frame, in order: catalog columns, derived columns, lineage."""
    return [column.name for column in table.columns] + list(derived_columns(table)) + LINEAGE


def frame_select(table: CatalogTable) -> list[str]:
    """The select list of a table's frame over `raw.<table>` (`frame_columns`, derived ones computed)."""
    derived = derived_columns(table)
    return [f'{derived[name]} as "{name}"' if name in derived else f'"{name}"' for name in frame_columns(table)]


def table_frames(
    conn: duckdb.DuckDBPyConnection, table: CatalogTable, max_rows: int, scope: str = "college_years"
) -> Iterator[pd.DataFrame]:
    """`raw.<table>` as pandas (catalog columns, derived columns, lineage) in a fixed row order, in
    frames of whole colleges holding about `max_rows` rows (every expectation is row-wise or within a
    college and year, so a frame never needs another college's rows), for the college-years of the
    temp table `scope` (school_code, year). Each frame is one query on a range of college codes; the
    raw tables are written college by college, so DuckDB's zone maps skip the other colleges' row
    groups and memory stays flat however many colleges there are."""
    columns = frame_select(table)
    source = f'raw."{table.table_name}" semi join {scope} using (school_code, year)'
    counts = conn.execute(f"select school_code, count(*) from {source} group by all order by 1").fetchall()
    ranges: list[tuple[str, str]] = []
    first, last, held = None, None, 0
    for code, rows in counts:
        if first is not None and held + rows > max_rows:
            ranges.append((first, last))
            first, held = None, 0
        first = code if first is None else first
        last, held = code, held + rows
    if first is not None:
        ranges.append((first, last))
    for low, high in ranges:
        table_rows = conn.execute(
            f"select {', '.join(columns)} from {source} where school_code between ? and ? "
            "order by school_code, year, source_file, row_no",
            [low, high],
        ).to_arrow_table()
        yield with_row_ids(pandas_frame(conn, table_rows))


def pandas_frame(conn: duckdb.DuckDBPyConnection, table_rows: pa.Table) -> pd.DataFrame:
    """`table_rows` as pandas: text columns as pyarrow-backed strings (`string[pyarrow]`: no Python
    object per cell, and null tests are vectorised, several times faster to build and validate than
    DuckDB's object columns), every other column as DuckDB's `.df()` types it (datetime64, nullable
    boolean, float for nullable numbers)."""
    import pandas as pd

    texts = [
        field.name
        for field in table_rows.schema
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ]
    frame = conn.from_arrow(table_rows.drop_columns(texts)).df()
    for name in texts:
        frame[name] = table_rows.column(name).to_pandas(types_mapper=lambda _: pd.StringDtype("pyarrow"))
    return frame[list(table_rows.column_names)]


def with_row_ids(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, "_rid", range(len(frame)))
    return frame
