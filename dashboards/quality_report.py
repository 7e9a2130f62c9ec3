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
    attr,
    page_html,
    text,
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


def badge(label: str, colour: str) -> str:
    return f'<span class="badge" style="background:{attr(colour)};color:#fff">{text(label)}</span>'


def status_badge(status: str) -> str:
    return badge(TABLE_STATUS_ZH.get(status, status), TABLE_STATUS_COLOURS.get(status, NEUTRAL_GREY))


def severity_badge(severity: str) -> str:
    return badge(SEVERITY_ZH.get(severity, severity), SEVERITY_COLOURS.get(severity, NEUTRAL_GREY))


def college_title(college: CollegeQuality) -> str:
    return f"{college.name_zh or college.school_code}（{college.school_code}）"


def status_counts(statuses: pl.DataFrame) -> str:
    counts = dict(statuses.group_by("status").len().iter_rows()) if statuses.height else {}
    parts = [f"{TABLE_STATUS_ZH[s]} {counts[s]} 张" for s in STATUS_ORDER if counts.get(s)]
    return "，".join(parts) or "无"


def issue_rows_html(issues: pl.DataFrame, limit: int) -> str:
    shown = issues.head(limit)
    rows = "".join(
        f"<tr><td>{severity_badge(row['severity'])}</td><td>{text(row['message_zh'])}</td>"
        f'<td>{text(row["source_file"] or "—")}</td><td class="num">{text(row["failed_count"])}</td></tr>'
        for row in shown.iter_rows(named=True)
    )
    more = (
        f'<p class="muted">另有 {issues.height - limit} 项问题未在本页列出（数据仓库 quality.issues 中有全部问题）。</p>'
        if issues.height > limit
        else ""
    )
    return f"<table><tr><th>级别</th><th>问题与处理方法</th><th>文件</th><th>涉及行数</th></tr>{rows}</table>{more}"


def problems_html(issues: pl.DataFrame, limit: int) -> str:
    """Errors listed; warnings folded away (click to show), like a report that hides the non-significant."""
    errors = issues.filter(pl.col("severity") == "error")
    warns = issues.filter(pl.col("severity") != "error")
    shown = issue_rows_html(errors, limit) if errors.height else ""
    folded = (
        f"<details{' open' if not errors.height else ''}><summary>提醒 {warns.height} 项（点击展开或收起）</summary>"
        f"{issue_rows_html(warns, limit)}</details>"
        if warns.height
        else ""
    )
    return shown + folded


def sort_issues(issues: pl.DataFrame) -> pl.DataFrame:
    return issues.sort(
        pl.col("severity").replace_strict({"error": 0, "warn": 1}, default=2),
        pl.col("check_name"),
        pl.col("column_name"),
        pl.col("message_zh"),
        nulls_last=True,
    )


def year_nav(college_years: list[int], current: int | None) -> str:
    links = " ".join(
        f"<strong>{year}年</strong>" if year == current else f'<a href="quality-{year}.html">{year}年</a>'
        for year in sorted(college_years, reverse=True)
    )
    return (
        '<nav class="links"><a href="index.html">学校数据看板</a> <a href="quality.html">数据质量总览</a> '
        f"{links}</nav>"
    )


def element_status_badge(status: str) -> str:
    """An element's data status as a coloured badge with its Chinese name."""
    return badge(ELEMENT_STATUS_ZH.get(status, status), ELEMENT_STATUS_COLOURS.get(status, NEUTRAL_GREY))


def build_college_year_page(reference: QualityReference, college: CollegeQuality, year: int) -> str:
    """Every problem of one college and year, grouped by table, with file, rows and what to fix."""
    title = f"{college_title(college)} {year}年状态数据质量报告"
    statuses = college.table_status.filter(pl.col("year") == year)
    issues = college.issues.filter(pl.col("year") == year)
    elements = college.element_status.filter(pl.col("year") == year)
    years = sorted(set(college.table_status["year"].to_list()))
    deadline = reference.deadlines.get(year)
    errors = issues.filter(pl.col("severity") == "error").height
    warns = issues.filter(pl.col("severity") == "warn").height
    tables = reference.tables.join(statuses, on="table_code", how="inner").sort(
        pl.col("status").replace_strict(STATUS_RANK, default=9), "table_code"
    )
    status_rows = "".join(
        f'<tr><td><a href="#t-{attr(row["table_code"])}">表{text(row["table_code"])}</a></td><td>{text(row["name_zh"])}</td>'
        f"<td>{'必填' if row['required'] else '选填'}</td><td>{status_badge(row['status'])}</td>"
        f"<td>{text(STATUS_ADVICE.get(row['status'], ''))} {text(row['reasons_zh'] or '')}</td></tr>"
        for row in tables.iter_rows(named=True)
    )
    college_issues = sort_issues(issues.filter(pl.col("table_code").is_null()))
    general = (
        f"<h2>全校性问题</h2>{problems_html(college_issues, reference.issues_per_table)}"
        if college_issues.height
        else ""
    )
    sections = []
    for row in tables.filter(~pl.col("status").is_in(["ok", "optional_absent"])).iter_rows(named=True):
        table_issues = sort_issues(issues.filter(pl.col("table_code") == row["table_code"]))
        body = (
            problems_html(table_issues, reference.issues_per_table)
            if table_issues.height
            else f"<p>{text(row['reasons_zh'] or '')}。{text(STATUS_ADVICE.get(row['status'], ''))}。</p>"
        )
        sections.append(
            f'<h3 id="t-{attr(row["table_code"])}">表{text(row["table_code"])} {text(row["name_zh"])} '
            f"{status_badge(row['status'])}</h3>{body}"
        )
    problems = "".join(sections) or '<p class="muted">本年度所有数据表均未发现问题。</p>'
    element_rows = "".join(
        f"<tr><td>{text(row['element_code'])}</td><td>{text(row['element_name'])}</td>"
        f"<td>{element_status_badge(row['status'])}</td>"
        f"<td>{text(row['reasons_zh'])}</td></tr>"
        for row in reference.elements.join(elements, on="element_code", how="inner")
        .sort("element_code")
        .iter_rows(named=True)
    )
    body = (
        f"<h1>{text(title)}</h1>"
        f'<p class="muted">{year - 1}-{year}学年 · 检查基准日期 {reference.as_of.isoformat()}'
        f"{' · 提交截止日期 ' + deadline.isoformat() if deadline else ''}</p>"
        f"{year_nav(years, year)}"
        f"<h2>概况</h2><p>共 {statuses.height} 张数据表：{status_counts(statuses)}；错误 {errors} 项，提醒 {warns} 项。</p>"
        '<p class="muted">“错误”会使相关指标不参与预警计算（相关诊断要素显示为“数据不足”），请改正后重新导出提交；'
        "“提醒”请核对，确认无误可不处理。</p>"
        f"{general}"
        f"<h2>需要处理的问题（按数据表）</h2>{problems}"
        f"<h2>各数据表状态</h2><table><tr><th>编号</th><th>数据表</th><th>类别</th><th>状态</th><th>说明</th></tr>"
        f"{status_rows}</table>"
        f"<h2>诊断要素数据状态</h2><table><tr><th>要素</th><th>名称</th><th>状态</th><th>说明</th></tr>{element_rows}</table>"
        "<footer>本报告只包含本校数据。行号为导出文件中的行号（含标题行与表头）。</footer>"
    )
    return page_html(title, body)


def build_college_overview_page(reference: QualityReference, college: CollegeQuality) -> str:
    """A college's quality overview: per year the table verdicts and a link to the year's report."""
    title = f"{college_title(college)} 状态数据质量报告"
    years = sorted(set(college.table_status["year"].to_list()), reverse=True)
    rows = []
    for year in years:
        statuses = college.table_status.filter(pl.col("year") == year)
        issues = college.issues.filter(pl.col("year") == year)
        insufficient = college.element_status.filter(
            (pl.col("year") == year) & (pl.col("status") == "insufficient")
        ).height
        rows.append(
            f'<tr><td><a href="quality-{year}.html">{year}年（{year - 1}-{year}学年）</a></td>'
            f"<td>{text(status_counts(statuses))}</td>"
            f'<td class="num">{issues.filter(pl.col("severity") == "error").height}</td>'
            f'<td class="num">{issues.filter(pl.col("severity") == "warn").height}</td>'
            f'<td class="num">{insufficient}</td></tr>'
        )
    body = (
        f'<h1>{text(title)}</h1><p class="muted">检查基准日期 {reference.as_of.isoformat()} · '
        f"当前采集年度 {reference.current_year}</p>{year_nav(years, None)}"
        "<table><tr><th>年度</th><th>数据表状态</th><th>错误</th><th>提醒</th><th>数据不足的诊断要素</th></tr>"
        f"{''.join(rows)}</table>"
        "<footer>本报告只包含本校数据。</footer>"
    )
    return page_html(title, body)


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


def year_overview_rows(verdicts: pl.DataFrame, issues: pl.DataFrame, years: list[int]) -> list[str]:
    """The province page's row per year: colleges due, complete, incomplete, not submitted, late, issues."""
    overview_rows = []
    for year in sorted(years, reverse=True):
        part = verdicts.filter(pl.col("year") == year)
        year_issues = issues.filter(pl.col("year") == year)
        counts = dict(part.group_by("verdict").len().iter_rows())
        overview_rows.append(
            f'<tr><td>{year}（{year - 1}-{year}学年）</td><td class="num">{part.height}</td>'
            f'<td class="num">{counts.get("完整", 0)}</td><td class="num">{counts.get("不完整", 0)}</td>'
            f'<td class="num">{counts.get("未提交", 0)}</td><td class="num">{part.filter(pl.col("late") > 0).height}</td>'
            f'<td class="num">{year_issues.filter(pl.col("severity") == "error").height}</td>'
            f'<td class="num">{year_issues.filter(pl.col("severity") == "warn").height}</td></tr>'
        )
    return overview_rows


def failing_table_rows(
    reference: QualityReference, table_status: pl.DataFrame, issues: pl.DataFrame, latest: int
) -> str:
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
    table_rows = "".join(
        f'<tr><td>{text(reference.table_name(row["table_code"]))}</td><td class="num">{row["failing"]}</td>'
        + "".join(f'<td class="num">{row[s]}</td>' for s in ("missing", "stale", "invalid", "warn"))
        + f'<td class="num">{row["errors"]}</td></tr>'
        for row in per_table.iter_rows(named=True)
    )
    return table_rows


def late_college_rows(issues: pl.DataFrame, names: dict[str, str], latest: int) -> str:
    """The colleges that sent `latest` late or not at all."""
    latest_issues = issues.filter(pl.col("year") == latest)
    late = (
        latest_issues.filter(pl.col("check_name").is_in(["late_export", "college_outdated"]))
        .group_by("school_code", "check_name")
        .agg(pl.len().alias("count"), pl.col("message_zh").first())
        .sort("check_name", "school_code")
    )
    late_rows = "".join(
        f"<tr><td>{text(names.get(row['school_code']) or row['school_code'])}（{text(row['school_code'])}）</td>"
        f"<td>{'未提交本年度数据' if row['check_name'] == 'college_outdated' else '逾期提交'}</td>"
        f'<td class="num">{row["count"]}</td><td>{text(row["message_zh"])}</td></tr>'
        for row in late.iter_rows(named=True)
    )
    return late_rows


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
        return page_html(title, f"<h1>{title}</h1><p>暂无数据质量检查结果：请先运行流水线。</p>")
    names = dict(schools.select("school_code", "name_zh").iter_rows())
    verdicts = college_verdicts(table_status, reference.tables, issues)
    years = sorted(set(verdicts["year"].to_list()))
    due = [year for year in years if year <= reference.current_year]
    latest = due[-1] if due else years[-1]
    overview_rows = year_overview_rows(verdicts, issues, years)
    verdict_rank = {"未提交": 0, "不完整": 1, "完整": 2}
    current = verdicts.filter(pl.col("year") == latest).sort(
        pl.col("verdict").replace_strict(verdict_rank, default=9),
        pl.col("blocking"),
        "school_code",
        descending=[False, True, False],
    )
    college_rows = "".join(
        f'<tr><td><a href="../schools/{attr(row["school_code"])}/quality-{latest}.html">'
        f"{text(names.get(row['school_code']) or row['school_code'])}</a>（{text(row['school_code'])}）</td>"
        f'<td>{text(row["verdict"])}</td><td class="num">{row["delivered"]}/{row["required_count"]}</td>'
        + "".join(f'<td class="num">{row[s] or ""}</td>' for s in ("missing", "stale", "invalid", "warn"))
        + f'<td class="num">{row["late"] or ""}</td></tr>'
        for row in current.iter_rows(named=True)
    )
    table_rows = failing_table_rows(reference, table_status, issues, latest)
    late_rows = late_college_rows(issues, names, latest)
    deadline = reference.deadlines.get(latest)
    body = (
        f"<h1>{title}</h1>"
        f'<p class="muted">检查基准日期 {reference.as_of.isoformat()} · 当前采集年度 {reference.current_year}'
        f"{' · ' + str(latest) + '年提交截止日期 ' + deadline.isoformat() if deadline else ''}</p>"
        '<nav class="links"><a href="index.html">全区诊改预警总览</a></nav>'
        "<h2>各年度概况</h2><table><tr><th>年度</th><th>应提交学校</th><th>数据完整</th><th>不完整</th>"
        f"<th>未提交</th><th>逾期/过期</th><th>错误项</th><th>提醒项</th></tr>{''.join(overview_rows)}</table>"
        '<p class="muted">完整：必填表均已提交且无缺失、过期、无效；不完整：有必填表缺失、过期或无效（相关指标不参与预警）。</p>'
        f"<h2>{latest}年各校数据情况</h2>"
        "<table><tr><th>学校</th><th>结论</th><th>必填表已交</th><th>缺失</th><th>过期</th><th>无效</th>"
        f"<th>有提醒</th><th>逾期</th></tr>{college_rows}</table>"
        f"<h2>{latest}年问题最多的数据表</h2>"
        + (
            "<table><tr><th>数据表</th><th>不可用学校数</th><th>缺失</th><th>过期</th><th>无效</th><th>有提醒</th>"
            f"<th>错误项</th></tr>{table_rows}</table>"
            if table_rows
            else '<p class="muted">所有数据表均无问题。</p>'
        )
        + f"<h2>{latest}年逾期与未提交</h2>"
        + (
            f"<table><tr><th>学校</th><th>情况</th><th>文件数</th><th>示例</th></tr>{late_rows}</table>"
            if late_rows
            else '<p class="muted">无逾期或未提交的学校。</p>'
        )
        + unmapped_html(unmapped, latest)
        + "<footer>本页面向诊改专委会秘书处数据管理员，列出各校名称与数据，请勿转发给学校。</footer>"
    )
    return page_html(title, body)


def likely_text(row: dict) -> str:
    return f"{row['likely_header_zh'] or ''}（{row['likely_column']}）" if row["likely_column"] else ""


def unmapped_html(unmapped: pl.DataFrame | None, year: int) -> str:
    """The latest year's unrecognised headers, most widespread first, with how to accept one."""
    rows = unmapped.filter(pl.col("year") == year) if unmapped is not None else pl.DataFrame()
    heading = f"<h2>{year}年未识别的表头</h2>"
    if rows.height == 0:
        return heading + '<p class="muted">各校文件的表头均已识别。</p>'
    cells = "".join(
        f"<tr><td>表{text(row['table_code'])} {text(row['name_zh'] or '')}</td><td>{text(row['header'])}</td>"
        f'<td class="num">{row["files"]}</td><td class="num">{row["colleges"]}</td>'
        f"<td>{text('、'.join(row['samples'] or []))}</td>"
        f"<td>{text(likely_text(row))}</td></tr>"
        for row in rows.head(UNMAPPED_ROWS).iter_rows(named=True)
    )
    more = (
        f'<p class="muted">另有 {rows.height - UNMAPPED_ROWS} 个，见 quality.unmapped_headers。</p>'
        if rows.height > UNMAPPED_ROWS
        else ""
    )
    return (
        heading
        + '<p class="muted">这些列未载入对应的数据列，各行的原值保存在原始表的 extra 列中。确认某表头对应的列后，'
        '运行 <code>zhengai catalog map 表号 "表头" 列名</code> 登记别名，下次运行即从已收文件重新读取，无需学校重新导出。</p>'
        "<table><tr><th>数据表</th><th>表头</th><th>文件数</th><th>学校数</th><th>示例值</th><th>可能对应的列</th></tr>"
        f"{cells}</table>{more}"
    )
