"""A college re-exports one table with changed figures: the change a nightly run is measured and tested on.

A college without defects (the demo's `manifest.json` names them; else one whose year has none)
re-exports table 3.3 (图书, a one-row table several indicators read) of its last V2 collection year,
with every figure of its last row raised by a quarter. The file is replaced by a new one (the atomic
writer renames over it), as a new export from the platform would be, so that a hard-linked copy of
the generated inbox keeps the original bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from pipelines.files import atomic_write_bytes

REEXPORTED_TABLE = "3.3"
RAISE_BY = 1.25


def reexported_file(inbox: Path, table_code: str = REEXPORTED_TABLE, nth: int = 0) -> Path:
    """The file `reexport_one_table` changes: `table_code` as a plain V2 workbook, of a college without
    defects if there is one, else of a college-year without one if there is one; then by code, last year first.
    `nth` takes the nth college in that order instead of the first (its own first file), so that repeated
    measurements each change another college."""
    manifest = json.loads((inbox / "manifest.json").read_text(encoding="utf-8"))
    v2 = {(item["school_code"], item["year"]) for item in manifest["layouts"] if item["layout"] == "V2"}
    defective = {(item["school_code"], item["year"]) for item in manifest["defects"]}
    candidates = sorted(
        (
            entry["school_code"] not in manifest["clean_schools"],
            (entry["school_code"], entry["year"]) in defective,
            entry["school_code"],
            -entry["year"],
            entry["path"],
        )
        for entry in manifest["files"]
        if entry["table_code"] == table_code
        and entry["format"] == "xlsx"
        and not entry["archive"]
        and (entry["school_code"], entry["year"]) in v2
    )
    if not candidates:
        raise ValueError(f"no college exports table {table_code} as a plain V2 workbook in {inbox}")
    firsts = {}
    for candidate in candidates:
        firsts.setdefault(candidate[2], candidate)
    return inbox / list(firsts.values())[nth % len(firsts)][-1]


def raised(value):
    """A figure raised by RAISE_BY (whole numbers stay whole); anything else as it was."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return round(value * RAISE_BY) if isinstance(value, int) else round(value * RAISE_BY, 2)


def reexport_one_table(inbox: Path, seed: int = 0, table_code: str = REEXPORTED_TABLE, nth: int = 0) -> Path:
    """Rewrite `reexported_file` (of the `nth` college) with its last row's figures raised and a later
    export time; returns its path.

    `seed` adds that many days to the export time, so that repeated re-exports differ."""
    import openpyxl

    path = reexported_file(inbox, table_code, nth)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    last = max(row for row in range(1, sheet.max_row + 1) if any(cell.value is not None for cell in sheet[row]))
    for cell in sheet[last]:
        cell.value = raised(cell.value)
    created = workbook.properties.created or dt.datetime(2024, 10, 1)
    workbook.properties.created = created + dt.timedelta(days=1 + seed % 30)
    buffer = io.BytesIO()
    workbook.save(buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path
