"""Reading: a sheet or a CSV file becomes a grid of text cells with the sheet row number of its first
row; the export time from a workbook's core properties. Reading side: no warehouse here."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

import fastexcel
import pyarrow as pa

from pipelines.ingest.guard import Problem, csv_line_count, csv_rows
from pipelines.settings import IngestLimits


@dataclass
class Grid:
    columns: list[pa.Array]  # every cell as text, one array per sheet column
    first_row: int  # 1-based sheet row number of row 0
    sheet: str

    @property
    def height(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def head(self, rows: int) -> list[tuple]:
        return list(zip(*(column.slice(0, rows).to_pylist() for column in self.columns)))


CREATED_RE = re.compile(r"<dcterms:created[^>]*>([^<]+)</dcterms:created>")


CORE_XML = b"docProps/core.xml"
CORE_XML_MAX = 1 << 20  # a few hundred bytes in any real workbook: never inflated beyond this


def _core_xml(data: bytes) -> bytes | None:
    """docProps/core.xml straight from its central-directory entry (a plain deflated or stored
    member, as every exporter writes it); None when that shortcut does not apply."""
    at = data.rfind(b"PK\x01\x02", 0, max(data.rfind(CORE_XML), 0))
    if at < 0 or data[at + 46 : at + 46 + len(CORE_XML)] != CORE_XML:
        return None
    flags, method = struct.unpack_from("<HH", data, at + 8)
    size, name_length = struct.unpack_from("<I", data, at + 20)[0], struct.unpack_from("<H", data, at + 28)[0]
    offset = struct.unpack_from("<I", data, at + 42)[0]
    if name_length != len(CORE_XML) or flags & 1 or method not in (0, 8) or data[offset : offset + 4] != b"PK\x03\x04":
        return None
    start = offset + 30 + sum(struct.unpack_from("<HH", data, offset + 26))
    raw = data[start : start + size]
    return raw[:CORE_XML_MAX] if method == 0 else zlib.decompressobj(-15).decompress(raw, CORE_XML_MAX)


def read_xlsx_exported_at(data: bytes) -> dt.datetime | None:
    """exported_at: the workbook's core-properties `created` (docProps/core.xml), as written."""
    try:
        core = _core_xml(data)
    except (struct.error, zlib.error):
        core = None
    if core is None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            try:
                core = archive.read("docProps/core.xml")
            except KeyError:
                return None
    found = CREATED_RE.search(core.decode("utf-8", "replace"))
    return _parse_w3c(found.group(1)) if found else None


def _parse_w3c(text: str) -> dt.datetime | None:
    text = text.strip().rstrip("Z")
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def read_xlsx_grid(reader: fastexcel.ExcelReader, sheet: str) -> Grid:
    """The sheet from its first non-empty row. `skip_rows=0` keeps the leading empty rows that
    calamine would otherwise drop, so the row numbers are the sheet's own without reading its XML."""
    batch = reader.load_sheet(sheet, header_row=None, dtypes="string", eager=True, skip_rows=0)
    columns = list(batch.columns)
    skip = 0
    while skip < batch.num_rows and not any(column[skip].is_valid for column in columns):
        skip += 1
    return Grid(columns=[column.slice(skip) for column in columns], first_row=skip + 1, sheet=sheet)


def decode_csv(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, else GBK, else GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise Problem(
        "无法识别文件编码（应为 UTF-8、GBK 或 GB18030）：请用 Excel 另存为“CSV UTF-8”或 xlsx 后重新提交",
        "cannot decode the file as UTF-8, GBK or GB18030: save it as 'CSV UTF-8' or .xlsx and deliver again",
    )


def read_csv_grid(data: bytes, limits: IngestLimits) -> Grid:
    """The CSV as a grid; a line or a grid beyond the limits, or a quote that breaks the rows,
    is a Problem naming the line (see `guard.csv_rows`)."""
    lines = csv_line_count(data, limits)
    text, _ = decode_csv(data)
    rows = csv_rows(text, lines, limits)
    width = max((len(row) for row in rows), default=0)
    columns = [
        pa.array([row[j] if j < len(row) and row[j] != "" else None for row in rows], pa.string()) for j in range(width)
    ]
    return Grid(columns=columns, first_row=1, sheet="")
