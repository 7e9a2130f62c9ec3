"""Excel files the project writes (sampling plans, the review template): every cell from data is a value.

A college name such as `=HYPERLINK("http://x","y")` must reach Excel as text, never as a live
formula or link (OWASP's "CSV injection": cells starting with `=`, `+`, `-`, `@`). Workbooks are
opened with xlsxwriter's conversions off (`strings_to_formulas`, `strings_to_urls`,
`strings_to_numbers`) and every value goes through `write_value`: text with `write_string`,
numbers with `write_number`, nothing else.
"""

from __future__ import annotations

import math
import numbers
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
