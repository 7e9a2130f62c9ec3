"""What the documents read from the published warehouse (sql/documents/*.sql, bound parameters), as plain
rows, and the checks that a college and year exist before anything is written."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pipelines.sql import query

CANDOUR_TABLE = "mart.candour_prompts"


class DocumentRequestError(ValueError):
    """A college or year the warehouse does not hold: one readable line (exit code 2)."""


def rows(conn, name: str, **params) -> list[dict]:
    """The rows of `sql/<name>.sql` (`documents/...`) as dicts."""
    return query(conn, name, params).to_dicts()


def by_element(rows: list[dict] | None) -> dict[str, list[dict]]:
    """Rows grouped by their `element_code`, in their order (a missing element reads as no rows)."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows or []:
        grouped[row["element_code"]].append(row)
    return grouped


def has_table(conn, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    found = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0]
    return found > 0


@dataclass(frozen=True)
class College:
    school_code: str
    name_zh: str
    school_type: str | None
    ownership: str | None
    status: str | None
    succeeded: tuple[str, ...]
    active_from: int | None
    data_years: tuple[int, ...]

    def data_year_up_to(self, year: int) -> int | None:
        """The latest collection year with data, up to `year`."""
        return max((y for y in self.data_years if y <= year), default=None)


def college(conn, school_code: str) -> College:
    """The college's registry row and data years; an unknown code is refused in one line."""
    found = rows(conn, "documents/college", school=school_code)
    if not found:
        raise DocumentRequestError(f"院校名册中没有学校代码 {school_code} / unknown college")
    row = found[0]
    return College(
        row["school_code"],
        row["name_zh"],
        row["school_type"],
        row["ownership"],
        row["status"],
        tuple(row["succeeded"] or ()),
        row["active_from"],
        tuple(row["data_years"]),
    )


def require_data_year(college: College, year: int) -> None:
    if year not in college.data_years:
        held = "、".join(str(y) for y in college.data_years) or "无"
        raise DocumentRequestError(
            f"{college.school_code} {college.name_zh} 没有 {year} 年的状态数据（已有年度：{held}）/ no data for that year"
        )


def peer_min_count() -> int:
    """Same-type colleges needed before a comparison is shown (reference/warning_rules.csv), as the warnings use it."""
    from assets.mart import load_warning_rules

    return int(load_warning_rules()["peer_min_count"])
