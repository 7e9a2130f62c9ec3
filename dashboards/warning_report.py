"""The early-warning report of one college for one year: a self-contained Chinese HTML page.

Data in (frames from mart.element_warnings, mart.indicator_warnings, mart.school_risk), HTML
out; no I/O, no network: the page carries the site stylesheet inline (dashboards/common.py) and a
few lines of plain JavaScript for the switch that hides what needs no attention.
"""

from __future__ import annotations

from html import escape

import polars as pl

from dashboards.common import LEVEL_ZH, page_html

LEVEL_ORDER = ("red", "yellow", "insufficient", "green", "no_indicator", "no_coverage")
CAUSE_ZH = {
    "restricted": "超出限制招生值",
    "persisting": "连续两年未达合格值（升级）",
    "qualified": "未达合格值",
    "peer": "同类最差10%",
    "trend": "连续两年变差",
}

SCRIPT = """
document.getElementById('attention-only').addEventListener('change', function (event) {
  document.body.classList.toggle('attention-only', event.target.checked);
});
"""


def number_text(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def peer_text(row: dict, peer_min_count: float) -> str:
    if row["value"] is None or row["peer_count"] is None or row["school_type"] is None:
        return "—"
    if row["peer_count"] < peer_min_count:
        return f"同类仅{row['peer_count']}所，不作比较"
    return f"{row['peer_count']}所{row['school_type']}类中倒数第{row['peer_rank_from_worst']}"


def trend_text(row: dict) -> str:
    values = [row["value_2y_ago"], row["value_1y_ago"], row["value"]]
    if all(value is None for value in values[:2]):
        return "—"
    return " → ".join(number_text(value, row["decimals"]) for value in values)


def threshold_text(value: float | None, unit: str, confidence: str | None) -> str:
    if value is None:
        return "—"
    return number_text(value, 4) + unit + ("" if confidence == "confirmed" else "（未核实）")


def fraction_html(row: dict) -> str:
    """The figures behind a value (numerator ÷ denominator), so a college can check them."""
    if row["value"] is None or row["denominator"] is None:
        return ""
    return f'<br><span class="muted">{number_text(row["numerator"])} ÷ {number_text(row["denominator"])}</span>'


def causes_html(row: dict) -> str:
    causes = [CAUSE_ZH[cause] for cause in row.get("causes") or [] if cause in CAUSE_ZH]
    return f'<br><span class="muted">{escape("、".join(causes))}</span>' if causes else ""


def drivers_html(element: dict) -> str:
    """The indicators that make a red or yellow element, named before any sentence."""
    drivers = element.get("driving_indicators") or []
    if not drivers:
        return ""
    return f'<p class="drivers">预警指标：{escape("、".join(drivers))}</p>'


def indicator_rows_html(indicators: list[dict], peer_min_count: float) -> str:
    rows = []
    for row in indicators:
        level = row["level"]
        rows.append(
            f'<tr class="level-{level}"><td title="{escape(row["formula_zh"])}">{escape(row["name_zh"])}</td>'
            f'<td class="num">{escape(row["value_zh"] or "—")}{fraction_html(row)}</td>'
            f'<td class="num">{escape(threshold_text(row["qualified_value"], row["unit"], row["qualified_confidence"]))}</td>'
            f'<td class="num">{escape(threshold_text(row["restricted_value"], row["unit"], row["restricted_confidence"]))}</td>'
            f"<td>{escape(peer_text(row, peer_min_count))}</td>"
            f'<td class="num">{escape(trend_text(row))}</td>'
            f'<td><span class="badge level-{level}">{LEVEL_ZH[level]}</span>{causes_html(row)}</td>'
            f"<td>{escape(row['sources_zh'])}</td></tr>"
        )
    if not rows:
        return ""
    header = (
        "<tr><th>指标</th><th>数值</th><th>合格值</th><th>限制招生值</th><th>同类位置</th>"
        "<th>近三年</th><th>级别</th><th>数据来源</th></tr>"
    )
    return f"<table>{header}{''.join(rows)}</table>"


def element_html(element: dict, indicators: list[dict], peer_min_count: float) -> str:
    level = element["level"]
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in element["reasons"])
    return (
        f'<article class="element level-{level}" id="element-{escape(element["element_code"])}">'
        f'<header><span class="badge">{escape(element["level_zh"])}</span>'
        f"<h3>{escape(element['element_code'])} {escape(element['element_name'])}</h3></header>"
        f"{drivers_html(element)}<ul>{reasons}</ul>"
        f"{indicator_rows_html(indicators, peer_min_count)}</article>"
    )


def summary_html(elements: pl.DataFrame, risk: pl.DataFrame) -> str:
    counts = dict(elements.group_by("level").len().iter_rows())
    parts = [
        f'<span><span class="badge level-{level}">{LEVEL_ZH[level]}</span> {counts.get(level, 0)} 个要素</span>'
        for level in LEVEL_ORDER
    ]
    if risk.height:
        row = risk.row(0, named=True)
        parts.append(
            f"<span>风险分 {number_text(row['risk_score'])}（全区同年排名第 {row['rank']}）；"
            f"预警指标 {row['flagged_indicators']} 项（红 {row['red_indicators']}、黄 {row['yellow_indicators']}），"
            f"数据不足指标 {row['insufficient_indicators']} 项</span>"
        )
    return f'<p class="summary">{"".join(parts)}</p>'


def rules_html(rules: dict[str, float]) -> str:
    return (
        '<p class="muted">预警规则：低于（生师比为高于）限制招生值为红；低于合格值为黄；'
        f"同类院校不少于 {rules['peer_min_count']:.0f} 所时，处于最差的 {rules['peer_bottom_share'] * 100:g}% 为黄；"
        f"连续两年变差且每年变差超过 {rules['trend_tolerance'] * 100:g}"
        "% 为黄；同一指标连续两年低于合格值（不含同类比较与变差趋势的黄）"
        "则升级为红，并在原因之后注明。要素取其指标中最差的级别，先列出造成预警的指标。"
        "数据质量不合格或无法计算的要素记为“数据不足”，不会显示为绿；诊断点未引用任何数据表的要素为“无数据覆盖”，"
        "引用了数据表但没有相符指标的要素为“无适用指标”，二者都不是数据问题，也不计入风险分。"
        "风险分按指标计：每个预警指标只计一次，不论它关联几个要素。标注“未核实”的标准值来自假设，以秘书处核实为准。</p>"
    )


def build_warning_report_html(
    elements: pl.DataFrame, indicators: pl.DataFrame, risk: pl.DataFrame, rules: dict[str, float]
) -> str:
    """The report page for the one college and year the frames describe."""
    first = elements.row(0, named=True)
    school = first.get("school_name") or first["school_code"]
    year = first["year"]
    by_element: dict[str, list[dict]] = {}
    for row in indicators.iter_rows(named=True):
        by_element.setdefault(row["element_code"], []).append(row)
    sections = []
    for (item_code, item_name), item_elements in elements.group_by(["item_code", "item_name"], maintain_order=True):
        rows = item_elements.sort("element_code").iter_rows(named=True)
        articles = [element_html(row, by_element.get(row["element_code"], []), rules["peer_min_count"]) for row in rows]
        all_green = item_elements["level"].eq("green").all()
        sections.append(
            f'<section class="item{" all-green" if all_green else ""}">'
            f"<h2>{escape(str(item_code))} {escape(item_name)}</h2>{''.join(articles)}</section>"
        )
    school_type = first.get("school_type") or "未登记"
    title = f"{school} {year}年诊改预警报告"
    body = f"""<h1>{escape(school)} 诊改预警报告</h1>
<p class="muted">学校代码 {escape(first["school_code"])} · 学校类型 {escape(school_type)} ·
采集年份 {year}（{year - 1}-{year}学年）· 15个诊断要素按5个诊断项目分列</p>
<p class="muted"><a href="index.html">学校数据看板</a> · <a href="quality-{year}.html">{year}年数据质量报告</a></p>
{summary_html(elements, risk)}
{rules_html(rules)}
<div class="switch"><label><input type="checkbox" id="attention-only"> 只显示需要关注的要素（红、黄、数据不足）</label></div>
{"".join(sections)}
<footer>本报告由状态数据自动生成，指标数值、标准值与同类比较均可在数据仓库 mart.indicator_warnings 中核对。</footer>"""
    return page_html(title, body, body_class="report", script=SCRIPT)
