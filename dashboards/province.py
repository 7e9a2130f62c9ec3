"""The secretariat's overview: `site/province/index.html`.

Data in (every college's rows), HTML out; no I/O. This page, and only this one, names colleges.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from markupsafe import Markup

from dashboards.college import SiteReference, year_label
from dashboards.college_card import province_cards_html
from dashboards.common import (
    LEVEL_COLOURS,
    LEVEL_SEVERITY,
    LEVEL_ZH,
    LEVELS,
    TABLE_STATUS_COLOURS,
    TABLE_STATUS_ZH,
    base_layout,
    figure_html,
    render_page,
)

TITLE = "全区诊改预警总览"
PLOTLY_SRC = "../assets/plotly.min.js"
TOP_REASONS = 3
REASON_CHARS = 90
HEATMAP_ROW_PX = 16
# Levels written in their heat-map cell as well as coloured: the two that ask for action.
CELL_LABELLED = ("red", "yellow")


def college_label(code: str, names: dict[str, str]) -> str:
    return f"{names.get(code) or '未登记学校'}（{code}）"


def ranking_order(risk: pl.DataFrame, warnings: pl.DataFrame, year: int) -> list[str]:
    """Colleges of `year`, highest risk first; colleges without a risk row go last by code."""
    ranked = risk.filter(pl.col("year") == year).sort("rank", "school_code")["school_code"].to_list()
    others = sorted(set(warnings.filter(pl.col("year") == year)["school_code"].to_list()) - set(ranked))
    return ranked + others


def heatmap_matrix(
    warnings: pl.DataFrame, colleges: list[str], elements: list[str], year: int, names: dict[str, str]
) -> tuple[list[list[int | None]], list[list[str]], list[list[str]]]:
    """Severity per cell, the 红/黄 written in it (so the map reads without colour, on paper too), its hover."""
    lookup = {
        (row["school_code"], row["element_code"]): row["level"]
        for row in warnings.filter(pl.col("year") == year)
        .select("school_code", "element_code", "level")
        .iter_rows(named=True)
    }
    z, labels, hover = [], [], []
    for code in colleges:
        levels = [lookup.get((code, element)) for element in elements]
        z.append([None if level is None else LEVEL_SEVERITY[level] for level in levels])
        labels.append([LEVEL_ZH[level] if level in CELL_LABELLED else "" for level in levels])
        hover.append(
            [
                f"{college_label(code, names)}<br>{element}：{LEVEL_ZH.get(level, '未报送') if level else '未报送'}"
                for element, level in zip(elements, levels)
            ]
        )
    return z, labels, hover


def element_label(code: str, element_names: dict[str, str]) -> str:
    """An axis label: the element's code and name (the code alone says nothing to a reader)."""
    name = element_names.get(code)
    return f"{code} {name}" if name else code


def discrete_colourscale() -> list[list]:
    """One flat colour per severity 0…3 (z runs from -0.5 to 3.5, so each level owns a quarter)."""
    steps = len(LEVELS)
    scale = []
    for level in sorted(LEVELS, key=LEVEL_SEVERITY.get):
        severity = LEVEL_SEVERITY[level]
        scale += [[severity / steps, LEVEL_COLOURS[level]], [(severity + 1) / steps, LEVEL_COLOURS[level]]]
    return scale


def build_heatmap_figure(
    warnings: pl.DataFrame,
    colleges: list[str],
    elements: list[str],
    years: list[int],
    names: dict[str, str],
    element_names: dict[str, str] | None = None,
) -> dict:
    """Colleges × elements coloured by level, one year at a time (a menu switches the year), as the plain dict
    plotly's own `go.Figure(...).to_dict()` gives (`as_plotly_dict`): validating a national map's three arrays of
    23,000 cells per year in plotly's figure objects took a second and a half per run, for the same page."""
    latest = years[-1]
    matrices = {year: heatmap_matrix(warnings, colleges, elements, year, names) for year in years}
    z, labels, hover = matrices[latest]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": [element_label(code, element_names or {}) for code in elements],
        "y": [college_label(code, names) for code in colleges],
        "text": labels,
        "texttemplate": "%{text}",
        "customdata": hover,
        "hovertemplate": "%{customdata}<extra></extra>",
        "colorscale": discrete_colourscale(),
        "zmin": -0.5,
        "zmax": len(LEVELS) - 0.5,
        "showscale": False,
        "xgap": 1,
        "ygap": 1,
    }
    buttons = [
        {
            "label": year_label(year),
            "method": "restyle",
            "args": [{"z": [matrices[year][0]], "text": [matrices[year][1]], "customdata": [matrices[year][2]]}],
        }
        for year in reversed(years)
    ]
    layout = base_layout(
        height=max(300, 220 + HEATMAP_ROW_PX * len(colleges)),
        margin={"l": 260, "r": 10, "t": 160, "b": 20},
        xaxis={"side": "top", "type": "category", "tickangle": -45, "automargin": True},
        yaxis={"autorange": "reversed", "type": "category"},
        updatemenus=[
            {"buttons": buttons, "x": 0, "y": 1.0, "xanchor": "right", "yanchor": "bottom", "direction": "down"}
        ],
    )
    return as_plotly_dict({"data": [trace], "layout": layout})


# the "none" template as a validated figure holds it: base_layout asks for it by name
NONE_TEMPLATE = {"data": {"scatter": [{"type": "scatter"}]}}
FREE_FORM = ("args",)  # a menu button's restyle arguments: plotly keeps them as given


def as_plotly_dict(figure: dict) -> dict:
    """`figure` (made of plain lists, numbers and text) ordered as plotly's `to_dict()` orders a validated figure:
    every object's keys sorted, a trace's `type` last, a button's `args` as given, the template by its content."""

    def ordered(value, key=None):
        if key in FREE_FORM or not isinstance(value, dict | list):
            return value
        if isinstance(value, list):
            return [ordered(item) for item in value]
        return {name: ordered(item, name) for name, item in sorted(value.items())}

    layout = dict(figure["layout"])
    if layout.get("template") == "none":
        layout["template"] = NONE_TEMPLATE
    traces = [ordered({name: item for name, item in trace.items() if name != "type"}) for trace in figure["data"]]
    kinds = [{"type": trace["type"]} if "type" in trace else {} for trace in figure["data"]]
    return {"data": [{**trace, **kind} for trace, kind in zip(traces, kinds, strict=True)], "layout": ordered(layout)}


def top_reasons(warnings: pl.DataFrame, year: int) -> dict[str, list[dict]]:
    """Each college's distinct causes of `year`, worst first: one line per first sentence (an
    indicator's cause), with every red or yellow element it reaches, so no sentence repeats."""
    flagged = (
        warnings.filter((pl.col("year") == year) & pl.col("level").is_in(["red", "yellow"]))
        .with_columns(pl.col("level").replace_strict(LEVEL_SEVERITY, default=0).alias("severity"))
        .sort(["school_code", "severity", "element_code"], descending=[False, True, False])
    )
    result: dict[str, list[dict]] = {}
    for row in flagged.iter_rows(named=True):
        sentence = (row["reasons"] or ["—"])[0]
        shown = result.setdefault(row["school_code"], [])
        same = next((line for line in shown if line["sentence"] == sentence), None)
        if same is not None:
            same["elements"].append(row["element_code"])
        elif len(shown) < TOP_REASONS:
            shown.append({"level": row["level"], "sentence": sentence, "elements": [row["element_code"]]})
    return result


def shorten(sentence: str) -> str:
    return sentence if len(sentence) <= REASON_CHARS else sentence[: REASON_CHARS - 1] + "…"


RISK_FIELDS = (
    "rank",
    "risk_score",
    "flagged_indicators",
    "red_indicators",
    "yellow_indicators",
    "insufficient_indicators",
    "red_count",
    "yellow_count",
)


def ranking_rows(
    risk: pl.DataFrame,
    warnings: pl.DataFrame,
    colleges: list[str],
    year: int,
    names: dict[str, str],
    types: dict[str, str],
) -> list[dict]:
    """One row per college of the ranking table: its risk figures (None without a risk row) and top reasons."""
    reasons = top_reasons(warnings, year)
    risk_rows = {row["school_code"]: row for row in risk.filter(pl.col("year") == year).iter_rows(named=True)}
    return [
        {
            "code": code,
            "label": college_label(code, names),
            "type": types.get(code),
            "has_score": code in risk_rows,
            "score": risk_rows.get(code) or dict.fromkeys(RISK_FIELDS),
            "reasons": [{**line, "sentence": shorten(line["sentence"])} for line in reasons.get(code, [])],
        }
        for code in colleges
    ]


def build_completeness_figure(
    table_status: pl.DataFrame, colleges: list[str], year: int, names: dict[str, str]
) -> dict:
    """Per college, how many of its expected tables are ok, flagged, invalid, stale or missing (a bar per college:
    a plain dict, `as_plotly_dict`, as the heat map)."""
    counts = {
        (row["school_code"], row["status"]): row["len"]
        for row in table_status.filter(pl.col("year") == year)
        .group_by("school_code", "status")
        .len()
        .iter_rows(named=True)
    }
    labels = [college_label(code, names) for code in colleges]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "x": [counts.get((code, status), 0) for code in colleges],
            "name": TABLE_STATUS_ZH[status],
            "marker": {"color": TABLE_STATUS_COLOURS[status]},
            "hovertemplate": f"%{{y}}<br>{TABLE_STATUS_ZH[status]} %{{x}} 张<extra></extra>",
        }
        for status in TABLE_STATUS_ZH
    ]
    layout = base_layout(
        barmode="stack",
        height=max(260, 100 + HEATMAP_ROW_PX * len(colleges)),
        margin={"l": 260, "r": 10, "t": 40, "b": 30},
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"title": {"text": "数据表数"}, "gridcolor": "#eee"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return as_plotly_dict({"data": traces, "layout": layout})


def build_level_trend_figure(warnings: pl.DataFrame, years: list[int]) -> go.Figure:
    """How many college-elements were red, yellow, green or insufficient each year."""
    counts = {
        (row["year"], row["level"]): row["len"]
        for row in warnings.group_by("year", "level").len().iter_rows(named=True)
    }
    labels = [year_label(year) for year in years]
    traces = [
        {
            "type": "bar",
            "x": labels,
            "y": [counts.get((year, level), 0) for year in years],
            "name": LEVEL_ZH[level],
            "marker": {"color": LEVEL_COLOURS[level]},
        }
        for level in ("red", "yellow", "insufficient", "green", "no_indicator", "no_coverage")
    ]
    layout = base_layout(
        barmode="stack",
        height=320,
        title={"text": "各年度诊断要素预警级别分布（学校×要素）", "font": {"size": 13}},
        xaxis={"type": "category"},
        yaxis={"gridcolor": "#eee"},
        legend={"orientation": "h"},
    )
    return go.Figure(data=traces, layout=layout)


def build_risk_trend_figure(risk: pl.DataFrame, years: list[int]) -> go.Figure:
    """The spread of colleges' risk scores per year."""
    traces = [
        {
            "type": "box",
            "name": year_label(year),
            "y": risk.filter(pl.col("year") == year)["risk_score"].to_list(),
            "marker": {"color": "#1f5f9e"},
            "boxpoints": False,
        }
        for year in years
    ]
    layout = base_layout(
        height=320,
        showlegend=False,
        title={"text": "各年度风险分分布", "font": {"size": 13}},
        yaxis={"title": {"text": "风险分"}, "gridcolor": "#eee", "rangemode": "tozero"},
    )
    return go.Figure(data=traces, layout=layout)


def build_province_page(
    reference: SiteReference,
    schools: pl.DataFrame,
    warnings: pl.DataFrame,
    risk: pl.DataFrame,
    table_status: pl.DataFrame,
    cards: pl.DataFrame | None = None,
) -> str:
    """The complete overview page for the secretariat (templates/province.html)."""
    years = reference.years
    if not years:
        return render_page("province.html", TITLE, years=years)
    names = dict(schools.select("school_code", "name_zh").iter_rows())
    types = dict(schools.select("school_code", "school_type").iter_rows())
    latest = years[-1]
    colleges = ranking_order(risk, warnings, latest)
    elements = reference.elements.sort("element_code")["element_code"].to_list()
    element_names = dict(reference.elements.select("element_code", "element_name").iter_rows())
    heatmap = build_heatmap_figure(warnings, colleges, elements, years, names, element_names)
    completeness = build_completeness_figure(table_status, colleges, latest, names)
    return render_page(
        "province.html",
        TITLE,
        PLOTLY_SRC,
        years=years,
        latest=latest,
        colleges=colleges,
        heatmap=Markup(figure_html(heatmap, "province-heatmap")),
        ranking=ranking_rows(risk, warnings, colleges, latest, names, types),
        cards=Markup(province_cards_html(cards, latest, names)),
        completeness=Markup(figure_html(completeness, "province-completeness")),
        level_trend=Markup(figure_html(build_level_trend_figure(warnings, years), "province-levels")),
        risk_trend=Markup(figure_html(build_risk_trend_figure(risk, years), "province-risk")),
    )
