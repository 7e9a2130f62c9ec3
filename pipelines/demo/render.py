"""Rendering one table in the V2 platform's export shape: an xlsx (title row, one- or two-level
header, data, sometimes a 合计 row) or the GBK CSV variant; and the deterministic zip delivery."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import zipfile
from dataclasses import dataclass

import xlsxwriter

from pipelines.catalog import CatalogColumn, CatalogTable
from pipelines.demo.plan import School

ENTITY_TOTAL_TABLES = ("4.1", "4.2", "7.1", "7.3", "7.4", "8.8", "9.1", "9.2")


@dataclass
class Rendered:
    content: bytes
    first_data_row: int  # 1-based sheet row of the first data row
    rows: int


def choose_headers(rng: random.Random, table: CatalogTable) -> list[str]:
    """One header text per column: nested (`上级/下级`) or flat where both exist, alternative `variant`."""
    nested = rng.random() < 0.65
    variant = rng.randrange(3)
    headers = []
    for column in table.columns:
        options = [text for text in column.headers if ("/" in text) == nested] or list(column.headers)
        headers.append(options[variant % len(options)])
    return headers


def export_time(rng: random.Random, year: int, late: bool = False) -> dt.datetime:
    if late:
        start, days = dt.datetime(year, 11, 5, 9, 0), 20
    else:
        start, days = dt.datetime(year, 9, 15, 8, 30), (dt.date(year, 10, 25) - dt.date(year, 9, 15)).days
    return start + dt.timedelta(days=rng.randrange(days + 1), seconds=rng.randrange(9 * 3600))


@dataclass
class CellStyle:
    date_style: str  # iso | dotted | compact | excel
    blank: str  # "" | "-" | "无"
    numbers_as_text: bool
    spaced_names: bool


def file_style(rng: random.Random) -> CellStyle:
    return CellStyle(
        date_style=rng.choices(("iso", "dotted", "compact", "excel"), weights=(35, 25, 15, 25))[0],
        blank=rng.choice(("", "", "-", "无")),
        numbers_as_text=rng.random() < 0.12,
        spaced_names=rng.random() < 0.2,
    )


def cell_text(column: CatalogColumn, value, style: CellStyle, rng: random.Random):
    """What goes into a cell: a str, an int/float, a date (Excel date cell) or None (empty)."""
    if value is None:
        if style.blank == "无" and column.type != "text":
            return None
        return style.blank or None
    if column.type == "boolean":
        return "是" if value else "否"
    if column.type == "date":
        date_style = style.date_style if rng.random() > 0.05 else rng.choice(("iso", "dotted", "compact"))
        if date_style == "iso":
            return value.isoformat()
        if date_style == "dotted":
            return f"{value.year}.{value.month:02d}"
        if date_style == "compact":
            return f"{value.year}{value.month:02d}"
        return value
    if column.type in ("integer", "number"):
        if style.numbers_as_text:
            return str(value)
        return value
    if style.spaced_names and column.name == "name" and len(value) == 2:
        return f"{value[0]}\u3000{value[1]}"
    return value


def title_text(school: School, table: CatalogTable, period_year: int) -> str:
    return f"{school.name_zh} 表{table.code} {table.name_zh}（{period_year - 1}-{period_year}学年）"


def total_row(table: CatalogTable, rows: list[dict]) -> list:
    values = []
    for column in table.columns:
        if column.type in ("integer", "number") and column.name not in (
            "established_year",
            "duration_years",
            "duration_months",
            "monthly_income",
        ):
            total = sum(row.get(column.name) or 0 for row in rows)
            values.append(round(total, 2) if column.type == "number" else total)
        else:
            values.append(None)
    return values


def write_cell(sheet, row: int, col: int, value, date_format) -> None:
    """A cell as `cell_text` made it: text, Excel date, number, or nothing for None."""
    if value is None:
        return
    if isinstance(value, str):
        sheet.write_string(row, col, value)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), date_format)
    else:
        sheet.write_number(row, col, value)


def write_header_rows(sheet, top: int, columns: list[str], header_format) -> int:
    """Write the header from sheet row `top` (0-based): one row, or two with `上级/下级` texts merged
    under their common top; the first column is 序号. Returns the 0-based row of the first data row."""
    last = len(columns) - 1
    if not any("/" in text for text in columns):
        for col, text in enumerate(columns):
            sheet.write_string(top, col, text, header_format)
        return top + 1
    sheet.merge_range(top, 0, top + 1, 0, columns[0], header_format)
    col = 1
    while col <= last:
        text = columns[col]
        if "/" not in text:
            sheet.merge_range(top, col, top + 1, col, text, header_format)
            col += 1
            continue
        parent = text.split("/", 1)[0]
        end = col
        while end + 1 <= last and columns[end + 1].split("/", 1)[0] == parent and "/" in columns[end + 1]:
            end += 1
        if end > col:
            sheet.merge_range(top, col, top, end, parent, header_format)
        else:
            sheet.write_string(top, col, parent, header_format)
        for sub in range(col, end + 1):
            sheet.write_string(top + 1, sub, columns[sub].split("/", 1)[1], header_format)
        col = end + 1
    return top + 2


def render_xlsx(
    school: School, table: CatalogTable, rows: list[dict], period_year: int, created: dt.datetime, rng: random.Random
) -> Rendered:
    headers = choose_headers(rng, table)
    style = file_style(rng)
    with_total = table.code in ENTITY_TOTAL_TABLES and rows and rng.random() < 0.4
    remark = table.grain != "school" and rng.random() < 0.08
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    workbook.set_properties(
        {"title": f"表{table.code} {table.name_zh}", "author": "状态数据采集平台", "created": created}
    )
    sheet = workbook.add_worksheet(f"表{table.code}" if rng.random() < 0.7 else "Sheet1")
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    header_format = workbook.add_format(
        {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "bg_color": "#D9E1F2", "text_wrap": True}
    )
    date_format = workbook.add_format({"num_format": rng.choice(("yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日"))})
    total_format = workbook.add_format({"bold": True, "bg_color": "#F2F2F2"})
    columns = ["序号"] + headers + (["备注"] if remark else [])
    last = len(columns) - 1
    sheet.merge_range(0, 0, 0, last, title_text(school, table, period_year), title_format)
    first = write_header_rows(sheet, 1, columns, header_format)
    sheet.set_column(0, 0, 6)
    sheet.set_column(1, last, 14)
    for number, row in enumerate(rows):
        excel_row = first + number
        sheet.write_number(excel_row, 0, number + 1)
        for col, column in enumerate(table.columns, start=1):
            write_cell(sheet, excel_row, col, cell_text(column, row.get(column.name), style, rng), date_format)
    if with_total:
        excel_row = first + len(rows)
        sheet.write_string(excel_row, 0, "合计", total_format)
        for col, value in enumerate(total_row(table, rows), start=1):
            if value is not None:
                sheet.write_number(excel_row, col, value, total_format)
    workbook.close()
    return Rendered(content=buffer.getvalue(), first_data_row=first + 1, rows=len(rows))


def render_csv(school: School, table: CatalogTable, rows: list[dict], period_year: int, rng: random.Random) -> Rendered:
    """The GBK CSV variant: title line, one header line (`上级/下级` kept as text), data lines."""
    headers = choose_headers(rng, table)
    style = file_style(rng)
    style.date_style = "iso" if style.date_style == "excel" else style.date_style
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title_text(school, table, period_year)])
    writer.writerow(["序号", *headers])
    for number, row in enumerate(rows, start=1):
        cells = [number]
        for column in table.columns:
            value = cell_text(column, row.get(column.name), style, rng)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return Rendered(content=buffer.getvalue().encode("gbk"), first_data_row=3, rows=len(rows))


def file_name(table: CatalogTable, csv_variant: bool = False) -> str:
    if csv_variant:
        return f"{table.code.replace('.', '-')} {table.name_zh}.csv"
    return f"表{table.code} {table.name_zh}.xlsx"


def deterministic_zip(members: list[tuple[str, bytes]], when: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, content)
    return buffer.getvalue()
