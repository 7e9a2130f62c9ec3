"""The early-warning report of one college for one year: a self-contained Chinese HTML page.

Data in (frames from mart.element_warnings, mart.indicator_warnings, mart.school_risk), HTML
out; no I/O, no network: the page carries the site stylesheet inline (dashboards/common.py) and a
few lines of plain JavaScript for the switch that hides what needs no attention.
"""

from __future__ import annotations

from collections import Counter

import polars as pl

from dashboards.common import number_text, render_page

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


def fraction_text(row: dict) -> str:
    """The figures behind a value (numerator ÷ denominator), so a college can check them."""
    if row["value"] is None or row["denominator"] is None:
        return ""
    return f"{number_text(row['numerator'])} ÷ {number_text(row['denominator'])}"


def causes_text(row: dict) -> str:
    return "、".join(CAUSE_ZH[cause] for cause in row.get("causes") or [] if cause in CAUSE_ZH)


def indicator_row(row: dict, peer_min_count: float) -> dict:
    """One indicator's row of an element's table, every cell as text (the template escapes it)."""
    return {
        **row,
        "fraction": fraction_text(row),
        "qualified": threshold_text(row["qualified_value"], row["unit"], row["qualified_confidence"]),
        "restricted": threshold_text(row["restricted_value"], row["unit"], row["restricted_confidence"]),
        "peer": peer_text(row, peer_min_count),
        "trend": trend_text(row),
        "causes_zh": causes_text(row),
    }


def item_sections(elements: pl.DataFrame, indicators: pl.DataFrame, peer_min_count: float) -> list[dict]:
    """The five diagnostic items in order, each with its elements and their indicator rows (a page's few rows
    grouped in Python: a polars query per item cost more than the page's other work)."""
    by_element: dict[str, list[dict]] = {}
    for row in indicators.iter_rows(named=True):
        by_element.setdefault(row["element_code"], []).append(indicator_row(row, peer_min_count))
    items: dict[tuple, list[dict]] = {}
    for row in elements.iter_rows(named=True):
        items.setdefault((row["item_code"], row["item_name"]), []).append(row)
    return [
        {
            "code": item_code,
            "name": item_name,
            "all_green": all(row["level"] == "green" for row in rows if row["level"] is not None),
            "elements": [
                {**row, "indicators": by_element.get(row["element_code"], [])}
                for row in sorted(rows, key=lambda row: row["element_code"])
            ],
        }
        for (item_code, item_name), rows in items.items()
    ]


def build_warning_report_html(
    elements: pl.DataFrame, indicators: pl.DataFrame, risk: pl.DataFrame, rules: dict[str, float]
) -> str:
    """The report page for the one college and year the frames describe (templates/warning_report.html)."""
    first = elements.row(0, named=True)
    school = first.get("school_name") or first["school_code"]
    year = first["year"]
    counts = Counter(elements.get_column("level").to_list())
    return render_page(
        "warning_report.html",
        f"{school} {year}年诊改预警报告",
        body_class="report",
        script=SCRIPT,
        school=school,
        school_code=first["school_code"],
        school_type=first.get("school_type") or "未登记",
        year=year,
        level_counts=[(level, counts.get(level, 0)) for level in LEVEL_ORDER],
        risk=risk.row(0, named=True) if risk.height else None,
        peer_min=f"{rules['peer_min_count']:.0f}",
        peer_share=f"{rules['peer_bottom_share'] * 100:g}",
        trend_share=f"{rules['trend_tolerance'] * 100:g}",
        items=item_sections(elements, indicators, rules["peer_min_count"]),
    )
