"""How a finding reads and how grave it is: the issue row every check writes (`ISSUE_COLUMNS`), the
severities, and the wording of an expectation's failure from its suite meta.

The SQL checks (sql/quality/check_*.sql) word their own findings in SQL with the same columns and
severities; an expectation's words come from its meta (`problem_zh`, `rule_zh`, `fix_zh`, …, see
pipelines/quality/suites.py) and are assembled here, once.

Tolerances: an expectation's `mostly` is applied per college and year. Failing rows are always
reported; they are an `error` when the share of failing rows in that college's table exceeds
1 - mostly, else a `warn` (an expectation without `mostly` makes every failure an error, unless
its meta says `severity: warn`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.catalog import CatalogTable
from pipelines.quality.suites import DERIVED_COLUMNS

# pandas is imported where a frame is first made: importing it (half a second) no longer delays `zhengai`'s start-up
if TYPE_CHECKING:
    import pandas as pd

# The severities of quality.issues, gravest first (sql/quality/check_*.sql write the same words).
ERROR = "error"  # the table (or its failing rows) cannot be used as delivered
WARN = "warn"  # a reminder: the data go on
INFO = "info"  # for information (e.g. a unit converted); never counted against a table
ISSUE_COLUMNS = {
    "school_code": pl.String,
    "year": pl.Int32,
    "table_code": pl.String,
    "column_name": pl.String,
    "check_name": pl.String,
    "severity": pl.String,
    "failed_count": pl.Int64,
    "samples": pl.String,
    "message_zh": pl.String,
    "message_en": pl.String,
    "summary_zh": pl.String,
    "source_file": pl.String,
    # every failing row of a row-level expectation (the messages show only the first few): the rows a
    # usable table leaves out (sql/quality/excluded_rows.sql); empty for table-level checks
    "row_keys": pl.List(pl.Struct({"source_file": pl.String, "row_no": pl.Int64})),
}
SAMPLE_VALUES = 5
DEFAULT_FIX_ZH = "请核对后重新导出"
DEFAULT_FIX_EN = "check and export again"


def issues_frame(rows: Iterable[dict]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ISSUE_COLUMNS)


def as_issue_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with exactly the issue columns, typed (a column a check does not write is null)."""
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(kind).alias(name)
            for name, kind in ISSUE_COLUMNS.items()
        ]
    )


def check_name(expectation: dict) -> str:
    """The name an expectation's findings are filed under: its meta's `check`, else its GX type."""
    return (expectation.get("meta") or {}).get("check", expectation["type"])


def expectation_severity(meta: dict, share: float, mostly: float) -> str:
    """`warn` when the expectation says so or its failing share is within the tolerance 1 - mostly."""
    return WARN if meta.get("severity") == WARN or share <= 1 - mostly else ERROR


def value_text(value: Any) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "空"
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "是" if value else "否"
    try:
        if pd.isna(value):
            return "空"
    except (TypeError, ValueError):
        pass
    return str(value)


def rows_text(row_nos: list[int], limit: int) -> tuple[str, str]:
    shown = [str(n) for n in row_nos[:limit]]
    more_zh = f" 等 {len(row_nos)} 行" if len(row_nos) > limit else ""
    more_en = f" and {len(row_nos) - limit} more" if len(row_nos) > limit else ""
    return "、".join(shown) + more_zh, ", ".join(shown) + more_en


def sample_columns(kwargs: dict, meta: dict) -> list[str]:
    """The columns whose values illustrate a failure (the key, the pair, or the column itself)."""
    if "column_list" in kwargs:
        return [name for name in kwargs["column_list"] if name not in ("school_code", "year")]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    column = kwargs.get("column")
    if column in DERIVED_COLUMNS:
        return [DERIVED_COLUMNS[column].source]
    return [column] if column else []


def sample_text(rows: pd.DataFrame, columns: list[str]) -> str:
    seen: list[str] = []
    for values in rows[columns].itertuples(index=False):
        shown = "/".join(value_text(value) for value in values)
        if shown not in seen:
            seen.append(shown)
        if len(seen) >= SAMPLE_VALUES:
            break
    return "、".join(seen)


def expectation_issues(
    table: CatalogTable, expectation: dict, failing: pd.DataFrame, totals: pd.Series, sample_rows: int
) -> list[dict]:
    """Issue rows for one failed expectation: one per college and year with failing rows."""
    import pandas as pd

    kwargs, meta = expectation["kwargs"], expectation.get("meta") or {}
    mostly = float(kwargs.get("mostly", 1.0))
    columns = sample_columns(kwargs, meta)
    column = meta.get("column") or (columns[0] if columns else None)
    issues = []
    for (school, year), rows in failing.groupby(["school_code", "year"], sort=True):
        row_nos = sorted(int(n) for n in rows["row_no"].dropna())
        count = len(rows)
        share = count / max(int(totals.get((school, year), count)), 1)
        severity = expectation_severity(meta, share, mostly)
        rows_zh, rows_en = rows_text(row_nos, sample_rows)
        samples = sample_text(rows, columns) if columns else ""
        files = "；".join(sorted(set(rows["source_file"].dropna())))
        where_zh = f" 第 {rows_zh} 行" if row_nos else ""
        where_en = f" rows {rows_en}" if row_nos else ""
        detail = f"（{samples}）" if samples else ""
        tolerance = (
            f"（{count} 行，占 {share:.1%}，在容差 {1 - mostly:.0%} 以内）" if severity == WARN and mostly < 1 else ""
        )
        issues.append(
            {
                "school_code": school,
                "year": int(year),
                "table_code": table.code,
                "column_name": column,
                "check_name": check_name(expectation),
                "severity": severity,
                "failed_count": count,
                "samples": samples or rows_zh,
                "message_zh": f"表{table.code} {table.name_zh}{where_zh} {meta.get('problem_zh', meta.get('rule_zh', ''))}"
                f"{detail}{tolerance}，{meta.get('fix_zh', DEFAULT_FIX_ZH)}",
                "message_en": f"table {table.code}{where_en}: {meta.get('problem_en', meta.get('rule_en', ''))}"
                f"{' (' + samples + ')' if samples else ''}; {meta.get('fix_en', DEFAULT_FIX_EN)}",
                "summary_zh": f"{meta.get('problem_zh', meta.get('check', ''))} {count} 行",
                "source_file": files,
                "row_keys": [
                    {"source_file": source_file, "row_no": int(row_no)}
                    for source_file, row_no in rows[["source_file", "row_no"]].drop_duplicates().itertuples(index=False)
                    if row_no is not None and not pd.isna(row_no)
                ],
            }
        )
    return issues
