"""Export files shaped like the platform's, for the ingest tests.

`write_xlsx` writes the brief's shape: a merged title row `<学校> 表<code> <name>（<Y-1>-<Y>学年）`,
a one- or two-level header (two-level where a header is written `上级/下级`, upper cells merged),
a 序号 column, the data rows, optionally a final 合计 row; the export time goes into the
workbook's core properties. `write_csv` writes the same table as CSV in any encoding. The last
builders write what a clumsy or hostile sender might: a shared-strings bomb, formulas without
calculated values, a CSV with a quote left open.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import struct
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter

from pipelines.catalog import CatalogTable, load_catalog
from pipelines.ingest import ingest_inbox
from pipelines.settings import get_settings

SCHOOL_NAME = "广西测试职业技术学院"
EXPORTED_AT = dt.datetime(2024, 10, 12, 9, 30, 0)


def headers_for(table: CatalogTable, variant: int = 0, columns: list[str] | None = None) -> list[tuple[str, str]]:
    """(catalog column, header text) for the columns written; `variant` picks alternative headers."""
    names = columns or [column.name for column in table.columns]
    return [(name, table.column(name).headers[variant % len(table.column(name).headers)]) for name in names]


def title_for(table: CatalogTable, year: int) -> str:
    return f"{SCHOOL_NAME} 表{table.code} {table.name_zh}（{year - 1}-{year}学年）"


def write_xlsx(
    path: Path,
    table: CatalogTable,
    rows: list[dict],
    *,
    year: int = 2024,
    variant: int = 0,
    columns: list[str] | None = None,
    extra_headers: tuple[str, ...] = (),
    total: dict | None = None,
    created: dt.datetime = EXPORTED_AT,
    sheet: str | None = None,
    title: str | None = None,
    workbook: xlsxwriter.Workbook | None = None,
) -> Path:
    """One table as an .xlsx export (or as one more sheet of an open `workbook`)."""
    own = workbook is None
    if own:
        path.parent.mkdir(parents=True, exist_ok=True)
        workbook = xlsxwriter.Workbook(str(path))
        workbook.set_properties({"created": created})
    worksheet = workbook.add_worksheet(sheet or f"表{table.code}")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    headers = headers_for(table, variant, columns) + [(None, header) for header in extra_headers]
    labels = [("序号", "序号")] + [(name, text) for name, text in headers]
    two_level = any("/" in text for _, text in labels)
    width = len(labels)
    worksheet.merge_range(0, 0, 0, width - 1, title if title is not None else title_for(table, year))
    header_rows = 2 if two_level else 1
    position = 0
    while position < width:
        text = labels[position][1]
        if two_level and "/" in text:
            upper = text.split("/", 1)[0]
            end = position
            while end + 1 < width and labels[end + 1][1].startswith(upper + "/"):
                end += 1
            if end > position:
                worksheet.merge_range(1, position, 1, end, upper)
            else:
                worksheet.write(1, position, upper)
            for j in range(position, end + 1):
                worksheet.write(2, j, labels[j][1].split("/", 1)[1])
            position = end + 1
            continue
        if two_level:
            worksheet.merge_range(1, position, 2, position, text)
        else:
            worksheet.write(1, position, text)
        position += 1
    first = 1 + header_rows
    body = list(rows) + ([total] if total is not None else [])
    for i, row in enumerate(body):
        r = first + i
        worksheet.write(r, 0, "合计" if total is not None and i == len(rows) else i + 1)
        for j, (name, _) in enumerate(labels[1:], start=1):
            value = row.get(name) if name else row.get(labels[j][1])
            if value is None:
                continue
            if isinstance(value, dt.date):
                worksheet.write_datetime(r, j, dt.datetime.combine(value, dt.time()), date_format)
            else:
                worksheet.write(r, j, value)
    if own:
        workbook.close()
    return path


def write_csv(
    path: Path, table: CatalogTable, rows: list[dict], *, encoding: str = "utf-8", year: int = 2024, variant: int = 0
) -> Path:
    """One table as a CSV export: title row, one header row, data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    headers = headers_for(table, variant)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title_for(table, year)])
    writer.writerow(["序号"] + [text for _, text in headers])
    for i, row in enumerate(rows, start=1):
        writer.writerow([i] + ["" if row.get(name) is None else row[name] for name, _ in headers])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def sample_rows(table: CatalogTable, count: int = 3, seed: int = 0) -> list[dict]:
    """Valid rows for any catalog table: text `<column>-<n>`, numbers n, the first allowed value."""
    rows = []
    for n in range(1, count + 1):
        row = {}
        for column in table.columns:
            k = n + seed
            if column.type == "text":
                row[column.name] = f"{column.name}-{k}"
            elif column.type == "integer":
                row[column.name] = k + (int(column.min_value) if column.min_value else 0)
            elif column.type == "number":
                row[column.name] = k + 0.5
            elif column.type == "date":
                row[column.name] = dt.date(1980, 1, 1) + dt.timedelta(days=100 * k)
            elif column.type == "boolean":
                row[column.name] = "是" if k % 2 else "否"
            else:
                row[column.name] = column.allowed_values[k % len(column.allowed_values)]
        rows.append(row)
    return rows


def write_college(
    inbox: Path, school_code: str, year: int, codes: list[str] | None = None, rows: int = 3, seed: int = 0
) -> dict[str, int]:
    """A college-year delivery of the given tables (default all); returns rows written per table code."""
    catalog = load_catalog()
    written = {}
    for table in catalog.tables:
        if codes is not None and table.code not in codes:
            continue
        count = 1 if table.grain == "school" else rows
        write_xlsx(
            inbox / school_code / str(year) / f"表{table.code} {table.name_zh}.xlsx",
            table,
            sample_rows(table, count, seed),
            year=year,
        )
        written[table.code] = count
    return written


def write_grid_xlsx(
    path: Path, rows: list[list], merges: tuple[tuple[int, int, int, int], ...] = (), sheet: str = "Sheet1"
) -> Path:
    """A sheet written cell by cell, as a real export lays it out (title and note rows, merged
    header cells given as (first_row, first_col, last_row, last_col) with the text in the first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    worksheet = workbook.add_worksheet(sheet)
    merged = {(r, c) for r, c, _, _ in merges}
    for first_row, first_col, last_row, last_col in merges:
        worksheet.merge_range(first_row, first_col, last_row, last_col, rows[first_row][first_col])
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and (r, c) not in merged:
                worksheet.write(r, c, value)
    workbook.close()
    return path


def _biff_record(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def _biff_cell(row: int, col: int, value) -> bytes:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _biff_record(0x0203, struct.pack("<HHHd", row, col, 0, float(value)))  # NUMBER
    text = str(value)  # LABEL, BIFF8 UTF-16 string
    return _biff_record(0x0204, struct.pack("<HHHHB", row, col, 0, len(text), 1) + text.encode("utf-16-le"))


def _biff8_workbook(sheets: list[tuple[str, list[list]]]) -> bytes:
    """A BIFF8 `Workbook` stream: globals (BOF, CODEPAGE, BOUNDSHEET per sheet, EOF), then per sheet
    BOF, DIMENSIONS, NUMBER/LABEL cells and EOF ([MS-XLS] 2.4)."""

    def bof(kind: int) -> bytes:
        return _biff_record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    bodies = []
    for _, rows in sheets:
        cells = b"".join(_biff_cell(r, c, v) for r, row in enumerate(rows) for c, v in enumerate(row) if v is not None)
        width = max((len(row) for row in rows), default=0)
        bodies.append(
            bof(0x10)
            + _biff_record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
            + cells
            + _biff_record(0x000A)
        )

    def globals_part(offsets: list[int]) -> bytes:
        bound = b"".join(
            _biff_record(0x0085, struct.pack("<IHBB", offset, 0, len(name), 1) + name.encode("utf-16-le"))
            for offset, (name, _) in zip(offsets, sheets)
        )
        return bof(0x05) + _biff_record(0x0042, struct.pack("<H", 1200)) + bound + _biff_record(0x000A)

    offset, offsets = len(globals_part([0] * len(sheets))), []
    for body in bodies:
        offsets.append(offset)
        offset += len(body)
    return globals_part(offsets) + b"".join(bodies)


def _compound_file(stream: bytes, name: str = "Workbook") -> bytes:
    """`stream` as the only stream of a compound file (CFB v3, 512-byte sectors; [MS-CFB] 2.2): the
    header, one FAT sector, the stream (padded past the 4096-byte mini-stream cutoff), the directory."""
    stream += b"\0" * (max(4096, -(-len(stream) // 512) * 512) - len(stream))
    sectors = len(stream) // 512
    end, free, fat_sector, none = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    fat = [fat_sector] + [n + 2 for n in range(sectors - 1)] + [end, end]
    fat += [free] * (128 - len(fat))
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<9I", 0, 1, sectors + 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )

    def entry(label: str, kind: int, child: int, start: int, length: int, colour: int = 1) -> bytes:
        encoded = (label + "\0").encode("utf-16-le") if label else b""
        return (
            encoded
            + b"\0" * (64 - len(encoded))
            + struct.pack("<HBBIII", len(encoded), kind, colour, none, none, child)
            + b"\0" * 36
            + struct.pack("<III", start, length, 0)
        )

    directory = (
        entry("Root Entry", 5, 1, end, 0) + entry(name, 2, none, 1, len(stream)) + entry("", 0, none, 0, 0, 0) * 2
    )
    return header + struct.pack("<128I", *fat) + stream + directory


def write_xls(path: Path, sheets: list[tuple[str, list[list]]]) -> Path:
    """An Excel 97-2003 (.xls, BIFF8) workbook of plain text and number cells, one entry per sheet
    (name, rows): what older platform versions and WPS save. Written here because no maintained
    Python package writes .xls any more."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_compound_file(_biff8_workbook(sheets)))
    return path


# -- hostile and broken deliveries ----------------------------------------------------------------


def write_shared_strings_bomb(path: Path, expanded_bytes: int, block_bytes: int = 1 << 20) -> Path:
    """A workbook named like a 6.1 export whose `xl/sharedStrings.xml` expands to about
    `expanded_bytes` (a shared-strings bomb: small on disk, gigabytes once read). The members of
    a real one-cell workbook are copied and the shared strings streamed into the zip block by
    block, so building a 2.6 GB bomb never holds more than a block in memory."""
    base = io.BytesIO()
    workbook = xlsxwriter.Workbook(base, {"in_memory": True})
    workbook.add_worksheet("表6.1").write(0, 0, "序号")
    workbook.close()
    entry = b"<si><t>" + b"A" * 1000 + b"</t></si>"
    block = entry * max(1, block_bytes // len(entry))
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb:
        for info in source.infolist():
            if info.filename != "xl/sharedStrings.xml":
                bomb.writestr(info.filename, source.read(info))
        with bomb.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
            stream.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            for _ in range(max(1, expanded_bytes // len(block))):
                stream.write(block)
            stream.write(b"</sst>")
    return path


def strip_formula_values(path: Path) -> Path:
    """Drop the cached value of every formula cell, as a workbook written by openpyxl (or any
    program that does not calculate) has them: xlsxwriter writes `<f>…</f><v>0</v>`."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            if info.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(</f>)<v>[^<]*</v>", rb"\1", data)
            target.writestr(info, data)
    return path


def write_csv_with_open_quote(
    path: Path, table: CatalogTable, rows: list[dict], line: int, padding: int = 0, closed_at: int | None = None
) -> Path:
    """A CSV export whose sheet line `line` opens a quote in its second cell that is never closed
    (or closed by a stray quote ending the second cell of line `closed_at`, so that the lines in
    between read as one valid row); `padding` characters of notes in lines of 100 below the rows
    put the rest of the file past the csv module's field limit."""
    write_csv(path, table, rows)
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines[line - 1] = lines[line - 1].replace(",", ',"', 1)
    if closed_at is not None:
        first, second, rest = lines[closed_at - 1].split(",", 2)
        lines[closed_at - 1] = f'{first},{second}",{rest}'
    text = "\r\n".join(lines + ["备注" * 50] * (padding // 100))
    path.write_bytes(text.encode("utf-8"))
    return path


# -- running the ingest in tests -------------------------------------------------------------------

TEACHERS_FILE = "表6.1 校内专任教师.xlsx"


def teacher_rows() -> list[dict]:
    return [
        {
            "staff_no": "T001",
            "name": "张三",
            "gender": "男",
            "birth_date": dt.date(1985, 7, 12),
            "first_education": "大学本科",
            "first_degree": "学士",
            "highest_education": "硕士研究生",
            "highest_degree": "硕士",
            "title_level": "副高级",
            "is_double_qualified": "是",
            "teaching_hours": 320,
        },
        {
            "staff_no": "T002",
            "name": "李四",
            "gender": "女",
            "birth_date": "1990.03",
            "first_education": "专科",
            "first_degree": "无",
            "highest_education": "大学本科",
            "highest_degree": "学士",
            "title_level": "中级",
            "is_double_qualified": "否",
            "teaching_hours": "２８０",
        },
    ]


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def run(conn):
    return ingest_inbox(conn, get_settings())


def inbox() -> Path:
    return get_settings().inbox


def log_rows(conn) -> list[dict]:
    frame = conn.sql("select * from raw.ingest_log order by source_file, table_code").pl()
    return frame.to_dicts()


def snapshot(conn) -> dict[str, list[tuple]]:
    """Every raw table's rows, sorted: to prove that nothing else changed."""
    tables = {
        t.table_name: conn.sql(f'select * from raw."{t.table_name}" order by all').fetchall()
        for t in load_catalog().tables
    }
    tables["ingest_log"] = conn.sql(
        "select * exclude (status) from raw.ingest_log where status <> 'quarantined' order by all"
    ).fetchall()
    return tables


def without_load_time(tables: dict[str, list[tuple]]) -> list[tuple]:
    """A snapshot's teachers without `ingested_at` (third from the end): rows loaded again compare equal."""
    return [row[:-3] + row[-2:] for row in tables["full_time_teachers"]]


def teachers(conn, school: str = "13829") -> pl.DataFrame:
    return conn.sql(f"select * from raw.full_time_teachers where school_code = '{school}' order by row_no").pl()


# -- identification and headers -----------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def xlsx_bytes(tmp_path: Path, table, rows, **kwargs) -> bytes:
    return write_xlsx(tmp_path / "build" / f"{table.code}.xlsx", table, rows, **kwargs).read_bytes()
