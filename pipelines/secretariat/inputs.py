"""What the secretariat's commands read: result files (CSV or Excel), the published warehouse, the
college registry, and each college's element set (附件2's 15, or the set the college registered).

Element sets: a college that adjusted its diagnostic elements (附件2 注 3：“学校在诊改工作中可根据
自身发展实际，补充有利于个性化发展的诊改内容”; 细则 四：“如学校的执行方案对诊断要素有调整，可根据
实际诊断要素数量，按上述比例原则，确定相应标准”) has its complete set registered in
`$ZHENGAI_HOME/reviews/element_sets.csv` (columns `school_code`, `element_code`, `element_name`,
`note`; one row per element the college's plan uses, 附件2's kept ones included). A college not
listed there uses the 15 elements of 附件2 (`reference/diagnosis_points.csv`). The file lives
beside the recorded reviews because it is province data the secretariat keeps, like them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.registry import load_registry
from pipelines.settings import REFERENCE_DIR, get_settings, now_local

DIAGNOSIS_FILE = REFERENCE_DIR / "diagnosis_points.csv"
ELEMENT_SETS_NAME = "element_sets.csv"
RUN_FIRST = "请先运行 `zhengai run` 生成数据仓库 / run `zhengai run` first"


class ReviewInputError(ValueError):
    """Malformed review results; the message names every offending row. Nothing has been recorded."""


def today() -> dt.date:
    return now_local().date()


def reviews_dir() -> Path:
    return get_settings().home / "reviews"


# --- elements ------------------------------------------------------------------------------------


def element_codes(path: Path = DIAGNOSIS_FILE) -> dict[str, str]:
    """Element code → name, from 附件2 as transcribed in reference/diagnosis_points.csv."""
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["element_code"].strip(): row["element_name"].strip() for row in csv.DictReader(handle)}


def element_sort_key(code: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in code.split("."))


@dataclass(frozen=True)
class ElementSets:
    """Each college's diagnostic elements: 附件2's by default, a registered set where the college adjusted them."""

    standard: dict[str, str]
    registered: dict[str, dict[str, str]]
    source: str

    def of(self, school_code: str) -> dict[str, str]:
        return self.registered.get(school_code, self.standard)

    def origin(self, school_code: str) -> str:
        if school_code in self.registered:
            return f"该校登记的要素集（{self.source}）"
        return "附件2 的 15 个诊断要素"

    def names(self) -> dict[str, str]:
        """Every element name known, 附件2's and the colleges' own."""
        merged = dict(self.standard)
        for elements in self.registered.values():
            for code, name in elements.items():
                merged.setdefault(code, name)
        return merged


def element_sets_path() -> Path:
    return reviews_dir() / ELEMENT_SETS_NAME


def load_element_sets(path: Path | None = None, standard: dict[str, str] | None = None) -> ElementSets:
    """附件2's elements and the registered sets; a malformed registration is an error naming its row."""
    path = path or element_sets_path()
    standard = standard if standard is not None else element_codes()
    registered: dict[str, dict[str, str]] = {}
    if path.is_file():
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"school_code", "element_code"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: 缺少列 {'、'.join(sorted(missing))} / element sets lack columns")
            for row_no, row in enumerate(reader, start=2):
                school = normalise_code(clean_cell(row.get("school_code")))
                element = clean_cell(row.get("element_code"))
                name = (row.get("element_name") or "").strip() or standard.get(element, "")
                if not school or not element or not name:
                    raise ValueError(
                        f"{path} 第 {row_no} 行：须填学校代码、要素代码，附件2 以外的要素还须填要素名称"
                        " / school_code, element_code and (for added elements) element_name are required"
                    )
                registered.setdefault(school, {})[element] = name
    return ElementSets(standard, registered, str(path))


# --- result files --------------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u3000]+")
_HINT = re.compile(r"[（(].*?[）)]")

Rows = list[tuple[int, list[str]]]


def normalise_header(text: str | None) -> str:
    return _HINT.sub("", _SPACES.sub("", text or "")).lower()


def clean_cell(value: object) -> str:
    text = "" if value is None else _SPACES.sub("", str(value))
    return "" if text in {"-", "—", "无"} else text


def normalise_code(text: str) -> str:
    """`13829.0` (a number read from Excel) → `13829`."""
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def read_rows(path: Path, sheet: str | None = None) -> Rows:
    """The sheet's rows as text with their 1-based row numbers (CSV: UTF-8 or GBK; xlsx: `sheet`, else the first)."""
    return read_sheets(path, (sheet,) if sheet else ())[None]


def read_sheets(path: Path, wanted: tuple[str, ...] = ()) -> dict[str | None, Rows]:
    """The file's main rows under key None (xlsx: `wanted[0]` if present, else the first sheet) and
    every other sheet of `wanted` that the workbook holds, under its name. A CSV has only main rows."""
    if not path.is_file():
        raise FileNotFoundError(f"找不到文件 / file not found: {path}")
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        return read_workbook_sheets(path, wanted)
    return {None: read_csv_rows(path)}


def read_csv_rows(path: Path) -> Rows:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ReviewInputError(f"{path.name}: 无法读取文件（{error.strerror}）/ cannot read the file") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ReviewInputError(f"{path.name}: 无法识别文件编码（请用 UTF-8 保存）/ unreadable encoding")
    try:
        return [(index + 1, row) for index, row in enumerate(csv.reader(io.StringIO(decoded, newline="")))]
    except csv.Error as error:
        raise ReviewInputError(
            f"{path.name}: 不是可读的 CSV 文件（{error}），请从模板另存为 CSV 或直接提交 Excel 模板 / not a readable CSV"
        ) from None


def read_workbook_sheets(path: Path, wanted: tuple[str, ...]) -> dict[str | None, Rows]:
    """The wanted sheets (main: the first wanted, else the first sheet); a file Excel cannot open is refused in one line."""
    import fastexcel

    def rows_of(reader, name: str) -> Rows:
        frame = reader.load_sheet_by_name(name, header_row=None, dtypes="string").to_polars()
        return [(index + 1, ["" if v is None else str(v) for v in row]) for index, row in enumerate(frame.rows())]

    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
        main = wanted[0] if wanted and wanted[0] in names else names[0]
        sheets: dict[str | None, Rows] = {None: rows_of(reader, main)}
        for name in wanted[1:]:
            if name in names:
                sheets[name] = rows_of(reader, name)
    except (fastexcel.FastExcelError, OSError, IndexError):
        raise ReviewInputError(
            f"{path.name}: 无法作为 Excel 工作簿打开（文件损坏、加密或并非 Excel 文件），请在 Excel 中打开并另存为 .xlsx 后重试"
            " / not a readable Excel workbook"
        ) from None
    return sheets


# --- the published warehouse and the registry ----------------------------------------------------


@contextmanager
def published_warehouse() -> Iterator:
    """A read-only connection to the published warehouse; a clear error when there is none yet."""
    import duckdb

    path = get_settings().warehouse
    if not path.is_file():
        raise FileNotFoundError(f"未找到已发布的数据仓库 {path}：{RUN_FIRST}")
    conn = duckdb.connect(str(path), read_only=True)
    try:
        yield conn
    finally:
        conn.close()


def require_tables(conn, *tables: str) -> None:
    present = {
        f"{schema}.{name}"
        for schema, name in conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    missing = [table for table in tables if table not in present]
    if missing:
        raise FileNotFoundError(f"数据仓库中没有 {', '.join(missing)}：{RUN_FIRST}")


def load_colleges() -> dict[str, str]:
    """College code → name: ref.schools of the published warehouse, else the registry file itself."""
    settings = get_settings()
    if settings.warehouse.is_file():
        with published_warehouse() as conn:
            require_tables(conn, "ref.schools")
            return dict(conn.execute("select school_code, name_zh from ref.schools").fetchall())
    if settings.registry.is_file():
        return load_registry(settings.registry).names()
    raise FileNotFoundError(f"未找到院校名册 {settings.registry} 或数据仓库：{RUN_FIRST}")


def registry_rows(conn) -> list[dict]:
    rows = conn.execute(
        "select school_code, name_zh, status, succeeded, active_from, active_to from ref.schools order by school_code"
    ).fetchall()
    return [
        {
            "school_code": r[0],
            "name_zh": r[1],
            "status": r[2],
            "succeeded": list(r[3] or []),
            "active_from": r[4],
            "active_to": r[5],
        }
        for r in rows
    ]
