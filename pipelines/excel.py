"""Excel files the project writes (sampling plans, the review template): every cell from data is a value.

A college name such as `=HYPERLINK("http://x","y")` must reach Excel as text, never as a live
formula or link (OWASP's "CSV injection": cells starting with `=`, `+`, `-`, `@`). Workbooks are
opened with xlsxwriter's conversions off (`strings_to_formulas`, `strings_to_urls`,
`strings_to_numbers`) and every value goes through `write_value`: text with `write_string`,
numbers with `write_number`, nothing else.
"""

from __future__ import annotations

import io
import math
import numbers
import re
import zipfile
from pathlib import Path
from typing import Any

SAFE_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def new_workbook(target: Any, **options: Any):
    """An xlsxwriter workbook (path or binary buffer) that never turns text into a formula, link or number."""
    import xlsxwriter

    return xlsxwriter.Workbook(target, {**options, **SAFE_OPTIONS})


def write_value(sheet, row: int, col: int, value: Any, cell_format=None) -> None:
    """One cell: numbers as numbers, None as blank, anything else as text (never a formula)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        sheet.write_blank(row, col, None, cell_format)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        sheet.write_number(row, col, value, cell_format)
    else:
        sheet.write_string(row, col, str(value), cell_format)


def write_values(sheet, row: int, col: int, values, cell_format=None) -> None:
    """A row of cells from `col` on, each through `write_value`."""
    for offset, value in enumerate(values):
        write_value(sheet, row, col + offset, value, cell_format)


def set_up_printing(sheet, header_first: int = 0, header_last: int | None = None) -> None:
    """Landscape A4, one page wide (as many tall as needed), the header rows repeated on every page."""
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_first, header_first if header_last is None else header_last)


def set_up_table(sheet, header_row: int, last_row: int, last_col: int) -> None:
    """A table whose header is `header_row`: header frozen, a filter over the table, print set-up."""
    sheet.freeze_panes(header_row + 1, 0)
    sheet.autofilter(header_row, 0, max(last_row, header_row), last_col)
    set_up_printing(sheet, header_row)


# --- large table sheets: data rows written as XML directly ---------------------------------------------
# xlsxwriter spends about 10 µs a cell (a province workbook has a million cells: 15 s). A table workbook
# is laid out by xlsxwriter (header, widths, frozen pane, filter, print set-up) with its header row only;
# `with_sheet_bodies` then puts the data rows (`rows_xml`) into each sheet's XML, cell by cell the way write_value
# does (numbers as numbers, blanks, anything else as in-line text: never a formula), at about 1 µs a cell.

EXCEL_STRING_MAX = 32767  # UTF-16 units in one cell (xlsxwriter truncates the same way)
ESCAPED_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")  # a literal _xHHHH_ in text: its underscore escaped
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f]")  # not allowed in XML 1.0: written as _xHHHH_
XML_SPECIAL = re.compile("[&<>_\x00-\x08\x0b-\x1f]")


def column_letters(count: int) -> list[str]:
    letters = []
    for index in range(count):
        name, number = "", index + 1
        while number:
            number, rest = divmod(number - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return letters


def cell_text(value: str) -> str:
    """Text as an in-line string's XML: escaped, control characters as Excel writes them, at most 32,767 units."""
    if len(value) > EXCEL_STRING_MAX // 2:
        value = value.encode("utf-16-le", "surrogatepass")[: EXCEL_STRING_MAX * 2].decode("utf-16-le", "ignore")
    if XML_SPECIAL.search(value):
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        value = ESCAPED_ESCAPE.sub(r"_x005F\1", value)
        value = CONTROL_CHARACTERS.sub(lambda match: f"_x{ord(match.group()):04X}_", value)
    if value[:1].isspace() or value[-1:].isspace():
        return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


def row_xml(row_no: int, letters: list[str], values, style: int) -> str:
    """One sheet row (1-based `row_no`) of values, each cell as write_value would write it, in style `style`."""
    cells = []
    for letter, value in zip(letters, values, strict=False):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            cells.append(f'<c r="{letter}{row_no}" s="{style}"/>')
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            cells.append(f'<c r="{letter}{row_no}" s="{style}"><v>{value:.16G}</v></c>')
        else:
            cells.append(f'<c r="{letter}{row_no}" s="{style}" t="inlineStr">{cell_text(str(value))}</c>')
    return f'<row r="{row_no}">{"".join(cells)}</row>'


def rows_xml(rows: list, width: int, style: int, first_row: int = 2) -> str:
    """The XML of data rows numbered from `first_row` on (row_xml each)."""
    letters = column_letters(width)
    return "".join(row_xml(row_no, letters, row, style) for row_no, row in enumerate(rows, start=first_row))


def sheet_with_body(xml: str, body: str, row_count: int, width: int) -> str:
    """A sheet's XML (header row only, as xlsxwriter wrote it) with the data rows' XML `body` (`row_count` rows,
    numbered from 2) after the header."""
    if not row_count:
        return xml
    last = f"{column_letters(width)[-1]}{row_count + 1}"
    xml = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', xml, count=1)
    if "</sheetData>" in xml:
        return xml.replace("</sheetData>", body + "</sheetData>", 1)
    return xml.replace("<sheetData/>", f"<sheetData>{body}</sheetData>", 1)


def with_sheet_bodies(book: bytes, bodies: dict[int, tuple[str, int, int]]) -> bytes:
    """The workbook `book` (xlsxwriter's bytes) with data rows' XML put into its sheets: sheet number → (the rows'
    XML as `rows_xml` writes it, row count, columns)."""
    source = zipfile.ZipFile(io.BytesIO(book))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for entry in source.infolist():
            data = source.read(entry)
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", entry.filename)
            if match and int(match.group(1)) in bodies:
                body, count, width = bodies[int(match.group(1))]
                data = sheet_with_body(data.decode("utf-8"), body, count, width).encode("utf-8")
            target.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return buffer.getvalue()


# --- data rows taken over from the workbook a build starts from ----------------------------------------
# A province workbook is every college's rows one college after the other. When one college's rows change,
# the other colleges' rows are taken as XML from the workbook the build starts from (moved up or down when
# the rows before them grew or shrank), and only the changed college's rows are rendered.

ROW_REFERENCES = re.compile(r'(<row r="|<c r="[A-Z]+)(\d+)"')  # in text, `<` is always escaped: never matched


def sheet_body(book: Path, number: int) -> str:
    """The data rows' XML (row 2 on) of sheet `number` of the workbook at `book`, as `rows_xml` wrote it."""
    with zipfile.ZipFile(book) as archive:
        xml = archive.read(f"xl/worksheets/sheet{number}.xml").decode("utf-8")
    start = xml.find('<row r="2">')
    return "" if start < 0 else xml[start : xml.rindex("</sheetData>")]


def last_row(body: str) -> int | None:
    """The number of the last row of data rows' XML (None when there is none)."""
    start = body.rfind('<row r="')
    return None if start < 0 else int(body[start + 8 : body.index('"', start + 8)])


def row_position(body: str, row_no: int, start: int = 0) -> int:
    """Where row `row_no` starts in `body`, looked for from `start` on (the end of `body` when it has no such row)."""
    found = body.find(f'<row r="{row_no}">', start)
    if found < 0 and start:
        found = body.find(f'<row r="{row_no}">')
    return len(body) if found < 0 else found


def moved_rows(body: str, shift: int) -> str:
    """Data rows' XML moved `shift` rows down (up when negative): row and cell references renumbered."""
    if not shift:
        return body
    return ROW_REFERENCES.sub(lambda match: f'{match.group(1)}{int(match.group(2)) + shift}"', body)
