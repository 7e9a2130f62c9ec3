"""The college registry the secretariat edits ($ZHENGAI_HOME/registry/schools.csv): read and validated once.

Every reader of the registry goes through `load_registry` (the `ref.schools` asset, `zhengai run`'s
pre-check, the schedule and the sensor, the review commands before the first run), so a mistake is
refused the same way everywhere: before anything runs, every problem named by its row as Excel
shows it (the header is row 1), in Chinese with English beside it.

The file may be saved as UTF-8, UTF-8 with BOM or GBK (Excel's default "CSV" on Chinese Windows;
read as GB18030, its superset). The allowed school types are those `reference/thresholds.csv`
gives values for: a type the thresholds do not know would match no threshold and no peers, and the
college would silently read all green.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.settings import REFERENCE_DIR, get_settings

THRESHOLDS_FILE = REFERENCE_DIR / "thresholds.csv"
COLUMNS = ("school_code", "name_zh", "school_type", "ownership", "status", "succeeded", "active_from", "active_to")
OPTIONAL_COLUMNS = ("city",)  # where the college is (the experts' same-city rule); not in ref.schools
REQUIRED_COLUMNS = ("school_code", "name_zh", "school_type", "status")
STATUSES = ("active", "renamed", "merged", "closed")
ENCODINGS = (("utf-8-sig", "UTF-8"), ("gb18030", "GBK"))
# The inbox names a college by a five-digit code (`inbox/<code>/<year>/`): any other code could never deliver.
CODE_RE = re.compile(r"^\d{5}$")
YEAR_RANGE = (1900, 2100)
SHOWN_PROBLEMS = 30
REFUSED = "本次未运行，已发布的结果保持不变 / registry refused, nothing ran"


class RegistryError(ValueError):
    """The registry cannot be used; the message names every problem, one per line."""


@dataclass(frozen=True)
class Registry:
    path: Path
    encoding: str
    rows: list[dict] = field(repr=False)

    def names(self) -> dict[str, str]:
        return {row["school_code"]: row["name_zh"] for row in self.rows}


def school_types(path: Path = THRESHOLDS_FILE) -> tuple[str, ...]:
    """The school types `reference/thresholds.csv` gives values for, in file order."""
    with open(path, encoding="utf-8", newline="") as handle:
        types = (row["school_type"].strip() for row in csv.DictReader(handle))
        return tuple(dict.fromkeys(kind for kind in types if kind))


def decode(raw: bytes, name: str) -> tuple[str, str]:
    for encoding, label in ENCODINGS:
        try:
            return raw.decode(encoding), label
        except UnicodeDecodeError:
            continue
    raise RegistryError(f"院校名册 {name} 的编码无法识别，请另存为 UTF-8 或 GBK 的 CSV；{REFUSED}")


def header_name(text: str) -> str:
    return text.strip().lstrip("\ufeff").lower()


def year_problem(label: str, text: str) -> tuple[int | None, str | None]:
    if not text:
        return None, None
    if not re.fullmatch(r"\d{4}", text) or not YEAR_RANGE[0] <= int(text) <= YEAR_RANGE[1]:
        return None, f"{label} 应为四位年份，实为“{text}” / {label} must be a year such as 2003"
    return int(text), None


def row_problems(row_no: int, cells: dict[str, str], types: tuple[str, ...], first_row: dict[str, int]) -> list[str]:
    """What is wrong with one row, except succession links (checked once every code is known)."""
    problems = []
    code = cells["school_code"]
    if not code:
        problems.append("学校代码为空 / school_code is empty")
    elif not CODE_RE.match(code):
        problems.append(f"学校代码应为 5 位数字，实为“{code}” / school_code must be five digits")
    elif first_row.setdefault(code, row_no) != row_no:
        problems.append(f"学校代码 {code} 与第 {first_row[code]} 行重复 / duplicate of row {first_row[code]}")
    if not cells["name_zh"]:
        problems.append("学校名称（name_zh）为空 / name_zh is empty")
    kind = cells["school_type"]
    if kind not in types:
        shown = "为空" if not kind else f"“{kind}”不在类型表中"
        problems.append(
            f"院校类型（school_type）{shown}，应为 {' '.join(types)} 之一（阈值与同类比较依此取值）"
            f" / school_type must be one of the types of reference/thresholds.csv"
        )
    if cells["status"] and cells["status"] not in STATUSES:
        problems.append(
            f"状态（status）应为 {'/'.join(STATUSES)}，实为“{cells['status']}” / status must be one of {STATUSES}"
        )
    start, problem_from = year_problem("active_from", cells["active_from"])
    end, problem_to = year_problem("active_to", cells["active_to"])
    problems += [p for p in (problem_from, problem_to) if p]
    if start is not None and end is not None and start > end:
        problems.append(f"active_from {start} 晚于 active_to {end} / active_from after active_to")
    return problems


def succeeded_codes(text: str) -> list[str]:
    return [code.strip() for code in text.split("|") if code.strip()]


def succession_problems(cells: dict[str, str], known: dict[str, int]) -> list[str]:
    """A succession link must name another college of the registry (renamed or merged ones keep their row)."""
    problems = []
    for code in succeeded_codes(cells["succeeded"]):
        if code == cells["school_code"]:
            problems.append(f"succeeded 不能是本校代码 {code} / a college cannot succeed itself")
        elif code not in known:
            problems.append(
                f"succeeded 中的 {code} 不在名册中（更名、合并前的学校也须占一行）/ succeeded names unknown code {code}"
            )
    return problems


def typed_row(cells: dict[str, str]) -> dict:
    return {
        "school_code": cells["school_code"],
        "name_zh": cells["name_zh"],
        "school_type": cells["school_type"],
        "ownership": cells["ownership"] or None,
        "status": cells["status"] or "active",
        "succeeded": succeeded_codes(cells["succeeded"]),
        "active_from": int(cells["active_from"]) if cells["active_from"] else None,
        "active_to": int(cells["active_to"]) if cells["active_to"] else None,
        "city": cells["city"] or None,
    }


def parse_registry(text: str, name: str, types: tuple[str, ...]) -> list[dict]:
    """Typed rows of a decoded registry; RegistryError naming every problem when any row is wrong."""
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records or not any(cell.strip() for cell in records[0]):
        raise RegistryError(f"院校名册 {name} 为空；{REFUSED}")
    positions: dict[str, int] = {}
    for index, header in enumerate(records[0]):
        positions.setdefault(header_name(header), index)
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise RegistryError(
            f"院校名册 {name} 第 1 行（表头）缺少列：{'、'.join(missing)}（表头应为 {','.join(COLUMNS)}）；"
            f"{REFUSED} (header lacks {missing})"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    for row_no, record in enumerate(records[1:], start=2):
        if any(cell.strip() for cell in record):
            rows.append(
                (
                    row_no,
                    {
                        column: record[positions[column]].strip()
                        if column in positions and positions[column] < len(record)
                        else ""
                        for column in COLUMNS + OPTIONAL_COLUMNS
                    },
                )
            )
    first_row: dict[str, int] = {}
    problems = [
        f"第 {row_no} 行：{problem}"
        for row_no, cells in rows
        for problem in row_problems(row_no, cells, types, first_row)
    ]
    problems += [
        f"第 {row_no} 行：{problem}" for row_no, cells in rows for problem in succession_problems(cells, first_row)
    ]
    if not rows:
        raise RegistryError(f"院校名册 {name} 没有数据行；{REFUSED}")
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        more = [f"……另有 {len(problems) - SHOWN_PROBLEMS} 处问题"] if len(problems) > SHOWN_PROBLEMS else []
        raise RegistryError(f"院校名册 {name} 有 {len(problems)} 处问题，{REFUSED}:\n  " + "\n  ".join(shown + more))
    return [typed_row(cells) for _, cells in rows]


def load_registry(path: Path | None = None) -> Registry:
    """The validated registry (default: the data home's); FileNotFoundError or RegistryError otherwise."""
    path = path or get_settings().registry
    if not path.is_file():
        raise FileNotFoundError(
            f"未找到院校名册 {path}：请按 README 创建，或运行 `zhengai synth` / college registry not found at {path}"
        )
    text, encoding = decode(path.read_bytes(), path.name)
    return Registry(path=path, encoding=encoding, rows=parse_registry(text, path.name, school_types()))


def registry_frame(registry: Registry):
    """The rows as an Arrow table with the column types of `ref.schools` (for `sql/ref/schools.sql`)."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("school_code", pa.string()),
            ("name_zh", pa.string()),
            ("school_type", pa.string()),
            ("ownership", pa.string()),
            ("status", pa.string()),
            ("succeeded", pa.list_(pa.string())),
            ("active_from", pa.int32()),
            ("active_to", pa.int32()),
        ]
    )
    return pa.Table.from_pylist(registry.rows, schema=schema)


def build_schools_table(conn, registry: Registry) -> None:
    """`ref.schools` from a validated registry, with `sql/ref/schools.sql`."""
    from pipelines.sql import run_sql

    conn.register("registry_rows", registry_frame(registry))
    try:
        run_sql(conn, "ref/schools")
    finally:
        conn.unregister("registry_rows")
