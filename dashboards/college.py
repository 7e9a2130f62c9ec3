"""The dashboard of one college: `site/schools/<school_code>/index.html`.

Data in (frames already narrowed to the one college, plus anonymous peer bands of its school
type), HTML out; no I/O. The page names no other college: peer comparisons are drawn only as
percentile bands of its school type, and bands over fewer colleges than the minimum are never
passed in (see `peer_bands`).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from dashboards.college_card import college_card_html
from dashboards.common import (
    LEVEL_COLOURS,
    LEVEL_ZH,
    TABLE_STATUS_ZH,
    attr,
    base_layout,
    figure_html,
    level_badge,
    level_legend,
    number_text,
    page_html,
    text,
)

PLOTLY_SRC = "../../assets/plotly.min.js"
FAMILY_ZH = {"teachers": "师资队伍", "conditions": "办学条件", "teaching": "教学与培养", "management": "经费与管理"}
BAND_QUANTILES = {"p10": 0.10, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90}
TABLE_STATUS_ADVICE = {
    "missing": "未报送：请补报该表。",
    "stale": "数据过期：请从平台导出本学年的最新数据重新报送。",
    "invalid": "数据无效：请按下列问题修正后重新报送。",
    "partial": "部分行已排除：下列行有误，未参与计算，其余行照常使用；请修正后重新报送。",
    "warn": "有提醒：请核实下列问题，如属实请修正。",
}
TABLE_STATUS_ORDER = {"missing": 0, "invalid": 1, "stale": 2, "partial": 3, "warn": 4, "ok": 5, "optional_absent": 6}
ISSUES_SHOWN_PER_TABLE = 3


@dataclass(frozen=True)
class SiteReference:
    """What every page shares: the diagnosis table, the indicator catalog, the years on the site."""

    items: pl.DataFrame  # item_code, item_name
    elements: pl.DataFrame  # element_code, element_name, item_code
    indicators: pl.DataFrame  # indicator_code, name_zh, unit, direction, decimals, family, ordinal
    table_names: dict[str, str]  # platform table_code → Chinese name
    years: list[int]
    peer_min_count: int


@dataclass(frozen=True)
class CollegeData:
    """One college's rows of each input table (and its school type's thresholds and peer bands)."""

    school: dict  # school_code, name_zh, school_type
    warnings: pl.DataFrame  # mart.element_warnings
    values: pl.DataFrame  # mart.indicator_values
    risk: pl.DataFrame  # mart.school_risk
    thresholds: pl.DataFrame  # ref.thresholds of the college's school type
    bands: pl.DataFrame  # peer_bands of the college's school type
    table_status: pl.DataFrame  # quality.table_status
    issues: pl.DataFrame  # quality.issues
    cards: pl.DataFrame | None = None  # mart.college_card


def peer_bands(values: pl.DataFrame, schools: pl.DataFrame, min_count: int) -> pl.DataFrame:
    """Percentiles of each indicator per school type and year, only where ≥ `min_count` colleges have a value.

    A band over a handful of colleges would let a college read a peer's figure off the chart, so
    smaller groups get no band at all. Percentiles P10–P90 rather than min/max, for the same reason.
    """
    typed = values.filter(pl.col("value").is_not_null()).join(
        schools.select("school_code", "school_type"), on="school_code", how="inner"
    )
    quantiles = [pl.col("value").quantile(q, interpolation="linear").alias(name) for name, q in BAND_QUANTILES.items()]
    return (
        typed.group_by("school_type", "year", "indicator_code")
        .agg(pl.len().alias("peer_count"), *quantiles)
        .filter(pl.col("peer_count") >= min_count)
        .sort("school_type", "indicator_code", "year")
    )


def year_label(year: int) -> str:
    return f"{year}年"


def cell_anchor(year: int, element_code: str) -> str:
    return f"r-{year}-{element_code}"


def element_grid_html(reference: SiteReference, warnings: pl.DataFrame) -> str:
    """15 elements × years, grouped by item; each cell is coloured by level and links to its reasons."""
    levels = {(row["year"], row["element_code"]): row["level"] for row in warnings.iter_rows(named=True)}
    item_names = dict(reference.items.select("item_code", "item_name").iter_rows())
    header = (
        "<tr><th>诊断项目</th><th>诊断要素</th>"
        + "".join(f"<th>{year_label(year)}</th>" for year in reference.years)
        + "</tr>"
    )
    rows = []
    for (item_code,), elements in reference.elements.sort("element_code").group_by("item_code", maintain_order=True):
        for index, element in enumerate(elements.iter_rows(named=True)):
            item_cell = (
                f'<th rowspan="{elements.height}">{text(item_code)} {text(item_names.get(item_code))}</th>'
                if index == 0
                else ""
            )
            cells = []
            for year in reference.years:
                level = levels.get((year, element["element_code"]))
                if level is None:
                    cells.append('<td class="cell muted">未报送</td>')
                    continue
                anchor = cell_anchor(year, element["element_code"])
                cells.append(
                    f'<td class="cell level-{attr(level)}"><a href="#{attr(anchor)}" '
                    f'title="{year_label(year)} {attr(element["element_code"])}'
                    f' 查看原因">{LEVEL_ZH.get(level, "数据不足")}</a></td>'
                )
            rows.append(
                f"<tr>{item_cell}<td>{text(element['element_code'])} {text(element['element_name'])}</td>{''.join(cells)}</tr>"
            )
    return f'<table class="grid">{header}{"".join(rows)}</table>'


def risk_summary_html(risk: pl.DataFrame) -> str:
    if risk.height == 0:
        return ""
    rows = "".join(
        f'<tr><td>{year_label(row["year"])}</td><td class="num">{number_text(row["risk_score"])}</td>'
        f'<td class="num">{text(row["flagged_indicators"])}</td><td>{text(row["flagged_zh"] or "—")}</td>'
        f'<td class="num">{text(row["insufficient_indicators"])}</td>'
        f'<td class="num">{text(row["red_count"])} / {text(row["yellow_count"])}</td>'
        f'<td class="num">{text(row["rank"])}</td></tr>'
        for row in risk.sort("year", descending=True).iter_rows(named=True)
    )
    return (
        "<table><tr><th>年度</th><th>风险分（0–100）</th><th>预警指标数</th><th>预警指标</th>"
        f"<th>数据不足指标</th><th>红/黄要素</th><th>全区风险排名</th></tr>{rows}</table>"
        '<p class="muted">风险分按指标计：每个预警指标只计一次，不论它关联几个要素；'
        "无数据覆盖、无适用指标的要素不计入。</p>"
    )


def reasons_html(reference: SiteReference, warnings: pl.DataFrame) -> str:
    """Every element's level and reasons per year, each with the anchor the grid links to."""
    names = dict(reference.elements.select("element_code", "element_name").iter_rows())
    sections = []
    for (year,), rows in warnings.sort("year", "element_code", descending=[True, False]).group_by(
        "year", maintain_order=True
    ):
        articles = []
        for row in rows.iter_rows(named=True):
            reasons = "".join(f"<li>{text(reason)}</li>" for reason in (row["reasons"] or [])) or "<li>无</li>"
            report = f"warnings-{year}.html#element-{row['element_code']}"
            articles.append(
                f'<article class="level-{attr(row["level"])}" id="{attr(cell_anchor(year, row["element_code"]))}">'
                f"<h3>{level_badge(row['level'])} {text(row['element_code'])} {text(names.get(row['element_code']))}"
                f' <a class="muted" href="{attr(report)}">预警报告</a></h3><ul>{reasons}</ul></article>'
            )
        sections.append(f"<h3>{year_label(year)}</h3>{''.join(articles)}")
    return f'<div class="reasons">{"".join(sections)}</div>'


def band_traces(years: list[str], band: dict[int, dict], peer_label: str) -> list[dict]:
    """The peers' distribution per year as a box from precomputed percentiles (whiskers P10/P90, box P25/P75).

    Plotly's own box hover labels are English, so the box is silent and an invisible median
    marker carries the Chinese hover text.
    """
    shown = [year for year in years if int(year) in band]
    if not shown:
        return []
    rows = [band[int(year)] for year in shown]

    def series(name: str) -> list[float]:
        return [row[name] for row in rows]

    hover = [
        f"{peer_label}{row['peer_count']}所<br>中位数 {row['p50']:.4g}<br>"
        f"第25–75百分位 {row['p25']:.4g}–{row['p75']:.4g}<br>第10–90百分位 {row['p10']:.4g}–{row['p90']:.4g}"
        for row in rows
    ]
    return [
        {
            "type": "box",
            "x": shown,
            "q1": series("p25"),
            "median": series("p50"),
            "q3": series("p75"),
            "lowerfence": series("p10"),
            "upperfence": series("p90"),
            "name": "同类分布",
            "hoverinfo": "skip",
            "fillcolor": "rgba(31,95,158,0.18)",
            "line": {"color": "rgba(31,95,158,0.7)", "width": 1},
            "width": 0.4,
        },
        {
            "type": "scatter",
            "x": shown,
            "y": series("p50"),
            "mode": "markers",
            "name": "同类中位数",
            "marker": {"size": 14, "opacity": 0},
            "text": hover,
            "hovertemplate": "%{text}<extra></extra>",
        },
    ]


def threshold_trace(years: list[str], value: float | None, name: str, level: str) -> list[dict]:
    if value is None:
        return []
    return [
        {
            "type": "scatter",
            "x": years,
            "y": [value] * len(years),
            "mode": "lines",
            "name": name,
            "line": {"color": LEVEL_COLOURS[level], "dash": "dash", "width": 1.5},
            "hovertemplate": f"{name} %{{y}}<extra></extra>",
        }
    ]


def threshold_name(name: str, confidence: str | None) -> str:
    """A threshold line's name, saying so when the value is not confirmed (no 高职 限制招生 value is)."""
    return name if confidence == "confirmed" else f"{name}（未核实）"


def build_indicator_trend_figure(
    indicator: dict,
    years: list[int],
    values: dict[int, float],
    band: dict[int, dict],
    threshold: dict | None,
    school_type: str,
) -> go.Figure:
    """The college's value per year against its 合格 and 限制招生 lines and its peers' anonymous band."""
    labels = [str(year) for year in years]
    digits = (indicator["decimals"] or 0) + 1
    own = [None if values.get(year) is None else round(values[year], digits) for year in years]
    traces = band_traces(labels, band, f"{school_type}类院校") if band else []
    if threshold:
        qualified = threshold_name("合格值", threshold.get("confidence"))
        restricted = threshold_name("限制招生值", threshold.get("restricted_confidence"))
        traces += threshold_trace(labels, threshold.get("qualified_value"), qualified, "green")
        traces += threshold_trace(labels, threshold.get("restricted_value"), restricted, "red")
    traces.append(
        {
            "type": "scatter",
            "x": labels,
            "y": own,
            "mode": "lines+markers",
            "name": "本校",
            "line": {"color": "#222", "width": 2.5},
            "marker": {"size": 7},
            "hovertemplate": "本校 %{y}<extra></extra>",
        }
    )
    unit = indicator["unit"] or ""
    title = f"{indicator['name_zh']}（{unit}）" if unit else indicator["name_zh"]
    layout = base_layout(
        title={"text": title, "font": {"size": 13}, "x": 0.02},
        height=240,
        showlegend=False,
        hovermode="closest",
        margin={"l": 55, "r": 10, "t": 32, "b": 28},
        xaxis={"type": "category", "gridcolor": "#eee"},
        yaxis={"gridcolor": "#eee", "zeroline": False},
    )
    return go.Figure(data=traces, layout=layout, skip_invalid=True)


def trends_html(reference: SiteReference, data: CollegeData) -> str:
    values: dict[str, dict[int, float]] = {}
    for row in data.values.iter_rows(named=True):
        values.setdefault(row["indicator_code"], {})[row["year"]] = row["value"]
    bands: dict[str, dict[int, dict]] = {}
    for row in data.bands.iter_rows(named=True):
        bands.setdefault(row["indicator_code"], {})[row["year"]] = row
    thresholds = {row["indicator_code"]: row for row in data.thresholds.iter_rows(named=True)}
    school_type = data.school.get("school_type") or "未登记"
    sections = []
    for (family,), indicators in reference.indicators.sort("ordinal").group_by("family", maintain_order=True):
        charts = []
        for indicator in indicators.iter_rows(named=True):
            code = indicator["indicator_code"]
            fig = build_indicator_trend_figure(
                indicator, reference.years, values.get(code, {}), bands.get(code, {}), thresholds.get(code), school_type
            )
            charts.append(f'<div class="chart">{figure_html(fig, f"trend-{code}")}</div>')
        sections.append(f'<h3>{text(FAMILY_ZH.get(family, family))}</h3><div class="charts">{"".join(charts)}</div>')
    note = (
        f'<p class="muted">黑线为本校数值；绿色虚线为合格值，红色虚线为限制招生值（按本校类型“{text(school_type)}”取值，'
        f"标准值未核实的以秘书处核实为准）；蓝色箱形为同类院校（同一学校类型）数值的分布："
        "箱体为第25至第75百分位，箱中横线为中位数，上下须为第10与第90百分位。同类院校"
        f"少于 {reference.peer_min_count} 所有数值的年份不显示分布，"
        "以免推知个别学校的数值。</p>"
    )
    return note + "".join(sections)


def issues_by_table(issues: pl.DataFrame) -> dict[tuple[int, str], list[dict]]:
    ordered = issues.sort(
        pl.col("severity").eq("error"), pl.col("failed_count"), descending=[True, True], nulls_last=True
    )
    grouped: dict[tuple[int, str], list[dict]] = {}
    for row in ordered.iter_rows(named=True):
        grouped.setdefault((row["year"], row["table_code"]), []).append(row)
    return grouped


def issue_list_html(issues: list[dict]) -> str:
    if not issues:
        return ""
    shown = "".join(
        f"<li>{text(issue['message_zh'])}"
        + (f"（{text(issue['failed_count'])} 处）" if issue["failed_count"] else "")
        + "</li>"
        for issue in issues[:ISSUES_SHOWN_PER_TABLE]
    )
    more = (
        f'<li class="muted">另有 {len(issues) - ISSUES_SHOWN_PER_TABLE} 项，见数据质量报告</li>'
        if len(issues) > ISSUES_SHOWN_PER_TABLE
        else ""
    )
    return f"<ul>{shown}{more}</ul>"


def quality_html(reference: SiteReference, data: CollegeData) -> str:
    """Per year: how many tables are fine, and every missing, stale, invalid or flagged table with what to fix."""
    if data.table_status.height == 0:
        return '<p class="muted">暂无本校的数据质量检查结果。</p>'
    issues = issues_by_table(data.issues)
    parts = []
    for (year,), statuses in data.table_status.sort("year", descending=True).group_by("year", maintain_order=True):
        counts = dict(statuses.group_by("status").len().iter_rows())
        summary = "，".join(
            f"{TABLE_STATUS_ZH[status]} {counts[status]} 张" for status in TABLE_STATUS_ORDER if counts.get(status)
        )
        # an optional table not delivered is nothing to fix: counted in the summary, not listed
        problems = statuses.filter(~pl.col("status").is_in(["ok", "optional_absent"])).sort(
            pl.col("status").replace_strict(TABLE_STATUS_ORDER, default=9), "table_code"
        )
        rows = "".join(
            f"<tr><td>表{text(row['table_code'])} {text(reference.table_names.get(row['table_code'], ''))}</td>"
            f"<td>{text(TABLE_STATUS_ZH.get(row['status'], row['status']))}</td>"
            f"<td>{text(TABLE_STATUS_ADVICE.get(row['status'], ''))} {text(row['reasons_zh'] or '')}"
            f"{issue_list_html(issues.get((year, row['table_code']), []))}</td></tr>"
            for row in problems.iter_rows(named=True)
        )
        table = (
            f"<table><tr><th>数据表</th><th>状态</th><th>需要处理的问题</th></tr>{rows}</table>"
            if rows
            else '<p class="muted">所有数据表均正常。</p>'
        )
        parts.append(
            f"<h3>{year_label(year)}（{year - 1}-{year}学年）</h3><p>共 {statuses.height} 张表：{summary}。"
            f' <a href="quality-{year}.html">完整数据质量报告</a></p>{table}'
        )
    return "".join(parts)


def links_html(years: list[int]) -> str:
    latest_first = sorted(years, reverse=True)
    warnings = " ".join(f'<a href="warnings-{year}.html">{year}年预警报告</a>' for year in latest_first)
    quality = " ".join(f'<a href="quality-{year}.html">{year}年数据质量报告</a>' for year in latest_first)
    downloads = '<a href="downloads.html">下载 Excel 工作簿（本校预警、数据质量与问题清单）</a>'
    return f'<nav class="links"><p>{warnings}</p><p>{quality}</p><p>{downloads}</p></nav>'


def build_college_page(reference: SiteReference, data: CollegeData) -> str:
    """The complete dashboard page of one college."""
    school = data.school
    name = school.get("name_zh") or school["school_code"]
    years = sorted(set(data.warnings["year"].to_list())) or reference.years
    body = (
        f"<h1>{text(name)} 诊改预警看板</h1>"
        f'<p class="muted">学校代码 {text(school["school_code"])} · 学校类型 {text(school.get("school_type") or "未登记")}'
        f" · 数据年度 {'、'.join(str(year) for year in years)}</p>"
        f"{links_html(years)}"
        f"<h2>诊断要素预警一览</h2>{level_legend()}"
        '<p class="muted">每格为一个诊断要素在一个采集年度的预警级别，点击查看原因。</p>'
        f"{element_grid_html(reference, data.warnings)}{risk_summary_html(data.risk)}"
        # The reasons right below the grid that links to them, before the charts: what a reader came for.
        f"<h2>预警原因</h2>{reasons_html(reference, data.warnings)}"
        f"{college_card_html(data.cards)}"
        f"<h2>指标趋势与同类院校分布</h2>{trends_html(reference, data)}"
        f"<h2>数据质量</h2>{quality_html(reference, data)}"
        "<footer>本看板由状态数据自动生成，只含本校数据与同类院校的匿名分布；离线可用。</footer>"
    )
    return page_html(f"{name} 诊改预警看板", body, PLOTLY_SRC)
