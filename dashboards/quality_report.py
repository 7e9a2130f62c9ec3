"""Data-quality report pages: one set per college (only its own data) and a province summary.

Pure builders: frames in, HTML out. A college's report is paginated: `quality.html` is the
overview of its years, `quality-<year>.html` lists every problem of one year grouped by table,
each with its file, rows and what to fix, capped per table (the rest stay in `quality.issues`)
so a page never carries thousands of validations. The province page is for the secretariat's
data officers: which colleges are complete, which are late, which tables fail most.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from dashboards.common import (
    LEVEL_COLOURS,
    LEVEL_ZH,
    NEUTRAL_GREY,
    TABLE_STATUS_COLOURS,
    TABLE_STATUS_ZH,
    render_page,
    templates,
)

STATUS_ORDER = ("missing", "stale", "invalid", "partial", "warn", "ok", "optional_absent")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}
STATUS_ADVICE = {
    "missing": "请补交本表",
    "stale": "请导出本学年数据重新提交",
    "invalid": "请按下列问题改正后重新导出提交",
    "partial": "有误的行未参与计算，其余行照常使用；请改正下列行后重新导出提交",
    "warn": "请核对下列提醒",
    "ok": "",
    "optional_absent": "选填表，未提交不影响预警",
}
SEVERITY_ZH = {"error": "错误", "warn": "提醒", "info": "说明"}
SEVERITY_COLOURS = {"error": "#c0392b", "warn": "#f39c12", "info": NEUTRAL_GREY}
UNMAPPED_ROWS = 200  # the province page lists this many unmapped headers (all in quality.unmapped_headers)
ELEMENT_STATUS_ZH = {
    "sufficient": "数据充分",
    "insufficient": LEVEL_ZH["insufficient"],
    "no_data_coverage": LEVEL_ZH["no_coverage"],
}
# badges here have white text, so 无数据覆盖 takes the neutral grey rather than the level's pale fill
ELEMENT_STATUS_COLOURS = {
    "sufficient": LEVEL_COLOURS["green"],
    "insufficient": LEVEL_COLOURS["insufficient"],
    "no_data_coverage": NEUTRAL_GREY,
}


@dataclass(frozen=True)
class QualityReference:
    """What every page needs besides the results: table and element names, the judging date."""

    tables: pl.DataFrame  # table_code, name_zh, required
    elements: pl.DataFrame  # element_code, element_name
    as_of: dt.date
    current_year: int
    deadlines: dict[int, dt.date]
    issues_per_table: int

    def table_name(self, code: str | None) -> str:
        if code is None:
            return "全校"
        names = dict(self.tables.select("table_code", "name_zh").iter_rows())
        return f"表{code} {names.get(code, '')}".rstrip()


@dataclass(frozen=True)
class CollegeQuality:
    """One college's slice of the quality tables."""

    school_code: str
    name_zh: str | None
    table_status: pl.DataFrame  # year, table_code, status, reasons_zh
    issues: pl.DataFrame  # quality.issues columns
    element_status: pl.DataFrame  # year, element_code, status, reasons_zh


def status_badge(status: str) -> tuple[str, str]:
    """A table status as a badge's (label, colour), drawn by quality_macros.html's badge()."""
    return TABLE_STATUS_ZH.get(status, status), TABLE_STATUS_COLOURS.get(status, NEUTRAL_GREY)


def severity_badge(severity: str) -> tuple[str, str]:
    return SEVERITY_ZH.get(severity, severity), SEVERITY_COLOURS.get(severity, NEUTRAL_GREY)


def element_status_badge(status: str) -> tuple[str, str]:
    """An element's data status as a badge with its Chinese name."""
    return ELEMENT_STATUS_ZH.get(status, status), ELEMENT_STATUS_COLOURS.get(status, NEUTRAL_GREY)


def college_title(college: CollegeQuality) -> str:
    return f"{college.name_zh or college.school_code}（{college.school_code}）"


def status_counts(statuses: pl.DataFrame) -> str:
    counts = dict(statuses.group_by("status").len().iter_rows()) if statuses.height else {}
    parts = [f"{TABLE_STATUS_ZH[s]} {counts[s]} 张" for s in STATUS_ORDER if counts.get(s)]
    return "，".join(parts) or "无"


def issue_listing(issues: pl.DataFrame, limit: int) -> dict:
    """The first `limit` issues as rows of quality_macros.html's issue_table, and how many are left out."""
    rows = [{**row, "badge": severity_badge(row["severity"])} for row in issues.head(limit).iter_rows(named=True)]
    return {"rows": rows, "total": issues.height, "more": max(issues.height - limit, 0)}


def issue_rows_html(issues: pl.DataFrame, limit: int) -> str:
    """One issue table as HTML (the macro the pages use), capped at `limit` rows."""
    return templates().get_template("quality_macros.html").module.issue_table(issue_listing(issues, limit))


def problems(issues: pl.DataFrame, limit: int) -> dict:
    """Errors to list and warnings to fold away (quality_macros.html's problems())."""
    errors = issues.filter(pl.col("severity") == "error")
    warns = issues.filter(pl.col("severity") != "error")
    return {
        "errors": issue_listing(errors, limit) if errors.height else None,
        "warns": issue_listing(warns, limit) if warns.height else None,
    }


def sort_issues(issues: pl.DataFrame) -> pl.DataFrame:
    return issues.sort(
        pl.col("severity").replace_strict({"error": 0, "warn": 1}, default=2),
        pl.col("check_name"),
        pl.col("column_name"),
        pl.col("message_zh"),
        nulls_last=True,
    )


def build_college_year_page(reference: QualityReference, college: CollegeQuality, year: int) -> str:
    """Every problem of one college and year, grouped by table, with file, rows and what to fix."""
    statuses = college.table_status.filter(pl.col("year") == year)
    issues = college.issues.filter(pl.col("year") == year)
    elements = college.element_status.filter(pl.col("year") == year)
    tables = [
        {**row, "badge": status_badge(row["status"]), "advice": STATUS_ADVICE.get(row["status"], "")}
        for row in reference.tables.join(statuses, on="table_code", how="inner")
        .sort(pl.col("status").replace_strict(STATUS_RANK, default=9), "table_code")
        .iter_rows(named=True)
    ]
    sections = [
        {**table, "problems": table_problems(issues, table["table_code"], reference.issues_per_table)}
        for table in tables
        if table["status"] not in ("ok", "optional_absent")
    ]
    general = sort_issues(issues.filter(pl.col("table_code").is_null()))
    title = f"{college_title(college)} {year}年状态数据质量报告"
    return render_page(
        "quality_year.html",
        title,
        year=year,
        as_of=reference.as_of,
        deadline=reference.deadlines.get(year),
        years=sorted(set(college.table_status["year"].to_list()), reverse=True),
        counts=status_counts(statuses),
        errors=issues.filter(pl.col("severity") == "error").height,
        warns=issues.filter(pl.col("severity") == "warn").height,
        general=problems(general, reference.issues_per_table) if general.height else None,
        sections=sections,
        tables=tables,
        elements=[
            {**row, "badge": element_status_badge(row["status"])}
            for row in reference.elements.join(elements, on="element_code", how="inner")
            .sort("element_code")
            .iter_rows(named=True)
        ],
    )


def table_problems(issues: pl.DataFrame, table_code: str, limit: int) -> dict | None:
    """The problems of one table (None without any: the page then says the table's status and advice)."""
    found = sort_issues(issues.filter(pl.col("table_code") == table_code))
    return problems(found, limit) if found.height else None


def build_college_overview_page(reference: QualityReference, college: CollegeQuality) -> str:
    """A college's quality overview: per year the table verdicts and a link to the year's report."""
    years = sorted(set(college.table_status["year"].to_list()), reverse=True)
    rows = []
    for year in years:
        issues = college.issues.filter(pl.col("year") == year)
        elements = college.element_status.filter(pl.col("year") == year)
        rows.append(
            {
                "year": year,
                "counts": status_counts(college.table_status.filter(pl.col("year") == year)),
                "errors": issues.filter(pl.col("severity") == "error").height,
                "warns": issues.filter(pl.col("severity") == "warn").height,
                "insufficient": elements.filter(pl.col("status") == "insufficient").height,
            }
        )
    return render_page(
        "quality_overview.html",
        f"{college_title(college)} 状态数据质量报告",
        as_of=reference.as_of,
        current_year=reference.current_year,
        years=years,
        rows=rows,
    )


def college_verdicts(table_status: pl.DataFrame, tables: pl.DataFrame, issues: pl.DataFrame) -> pl.DataFrame:
    """Per college and year: required tables delivered, counts per status, late, and a verdict."""
    required = tables.filter(pl.col("required")).select("table_code")
    status = table_status.join(tables.select("table_code", "required"), on="table_code", how="left")
    late = (
        issues.filter(pl.col("check_name").is_in(["late_export", "college_outdated"]))
        .group_by("school_code", "year")
        .agg(pl.len().alias("late"))
    )
    verdicts = status.group_by("school_code", "year").agg(
        (pl.col("required") & (pl.col("status") != "missing")).sum().alias("delivered"),
        (~pl.col("status").is_in(["missing", "optional_absent"])).sum().alias("any_delivered"),
        *[(pl.col("status") == s).sum().alias(s) for s in STATUS_ORDER],
        (pl.col("required") & pl.col("status").is_in(["missing", "stale", "invalid"])).sum().alias("blocking"),
    )
    return (
        verdicts.join(late, on=["school_code", "year"], how="left")
        .with_columns(
            pl.col("late").fill_null(0),
            pl.lit(required.height).alias("required_count"),
            pl.when(pl.col("any_delivered") == 0)
            .then(pl.lit("未提交"))
            .when(pl.col("blocking") > 0)
            .then(pl.lit("不完整"))
            .otherwise(pl.lit("完整"))
            .alias("verdict"),
        )
        .sort("school_code", "year")
    )


def year_overview(verdicts: pl.DataFrame, issues: pl.DataFrame, years: list[int]) -> list[dict]:
    """The province page's row per year: colleges due, complete, incomplete, not submitted, late, issues."""
    overview = []
    for year in sorted(years, reverse=True):
        part = verdicts.filter(pl.col("year") == year)
        year_issues = issues.filter(pl.col("year") == year)
        counts = dict(part.group_by("verdict").len().iter_rows())
        overview.append(
            {
                "year": year,
                "due": part.height,
                "complete": counts.get("完整", 0),
                "incomplete": counts.get("不完整", 0),
                "absent": counts.get("未提交", 0),
                "late": part.filter(pl.col("late") > 0).height,
                "errors": year_issues.filter(pl.col("severity") == "error").height,
                "warns": year_issues.filter(pl.col("severity") == "warn").height,
            }
        )
    return overview


def failing_tables(
    reference: QualityReference, table_status: pl.DataFrame, issues: pl.DataFrame, latest: int
) -> list[dict]:
    """The tables failing most in `latest`: colleges for which each is unusable, by status, and its errors."""
    latest_status = table_status.filter(pl.col("year") == latest)
    latest_issues = issues.filter(pl.col("year") == latest)
    per_table = (
        latest_status.group_by("table_code")
        .agg(*[(pl.col("status") == s).sum().alias(s) for s in ("missing", "stale", "invalid", "warn")])
        .join(
            latest_issues.filter(pl.col("severity") == "error").group_by("table_code").agg(pl.len().alias("errors")),
            on="table_code",
            how="left",
        )
        .with_columns(
            pl.col("errors").fill_null(0), (pl.col("missing") + pl.col("stale") + pl.col("invalid")).alias("failing")
        )
        .filter((pl.col("failing") + pl.col("warn")) > 0)
        .sort(["failing", "errors", "warn", "table_code"], descending=[True, True, True, False])
    )
    return [{**row, "name": reference.table_name(row["table_code"])} for row in per_table.iter_rows(named=True)]


def late_colleges(issues: pl.DataFrame, latest: int) -> list[dict]:
    """The colleges that sent `latest` late or not at all."""
    return (
        issues.filter((pl.col("year") == latest) & pl.col("check_name").is_in(["late_export", "college_outdated"]))
        .group_by("school_code", "check_name")
        .agg(pl.len().alias("count"), pl.col("message_zh").first())
        .sort("check_name", "school_code")
        .to_dicts()
    )


def build_province_quality_page(
    reference: QualityReference,
    schools: pl.DataFrame,
    table_status: pl.DataFrame,
    issues: pl.DataFrame,
    unmapped: pl.DataFrame | None = None,
) -> str:
    """For the data officers: completeness per year, each college's state, the tables failing most,
    and the headers no catalog column or alias maps (quality.unmapped_headers) in the latest year."""
    title = "全区状态数据质量汇总"
    if table_status.height == 0:
        return render_page("quality_province.html", title, latest=None)
    verdicts = college_verdicts(table_status, reference.tables, issues)
    years = sorted(set(verdicts["year"].to_list()))
    due = [year for year in years if year <= reference.current_year]
    latest = due[-1] if due else years[-1]
    verdict_rank = {"未提交": 0, "不完整": 1, "完整": 2}
    current = verdicts.filter(pl.col("year") == latest).sort(
        pl.col("verdict").replace_strict(verdict_rank, default=9),
        pl.col("blocking"),
        "school_code",
        descending=[False, True, False],
    )
    unmapped_rows = unmapped.filter(pl.col("year") == latest) if unmapped is not None else pl.DataFrame()
    return render_page(
        "quality_province.html",
        title,
        latest=latest,
        as_of=reference.as_of,
        current_year=reference.current_year,
        deadline=reference.deadlines.get(latest),
        names=dict(schools.select("school_code", "name_zh").iter_rows()),
        overview=year_overview(verdicts, issues, years),
        colleges=current.to_dicts(),
        failing=failing_tables(reference, table_status, issues, latest),
        late=late_colleges(issues, latest),
        unmapped=unmapped_rows.head(UNMAPPED_ROWS).to_dicts(),
        unmapped_more=max(unmapped_rows.height - UNMAPPED_ROWS, 0),
    )
