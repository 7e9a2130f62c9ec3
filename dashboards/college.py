"""The dashboard of one college: `site/schools/<school_code>/index.html` and its `dashboard-data.js`.

Data in (frames already narrowed to the one college, plus anonymous peer bands of its school
type), HTML and chart data out; no I/O. The page (templates/college.html) holds the grid, the
reasons, the card and the quality panel; its trend charts are drawn in the browser by one shared
script (templates/college-dashboard.js, shipped once at `site/assets/`) from the college's own data
file and its school type's peer file (`site/assets/peers/`). A move in the peers' bands therefore
rewrites one shared file per school type, not every page of the type. The page names no other
college: peer comparisons are drawn only as percentile bands of its school type, and bands over
fewer colleges than the minimum are never passed in (see `peer_bands`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import polars as pl
from markupsafe import Markup

from dashboards.college_card import college_card_html
from dashboards.common import (
    FONT_FAMILY,
    LEVEL_COLOURS,
    LEVEL_ZH,
    TABLE_STATUS_ZH,
    level_badge,
    level_legend,
    number_text,
    page_html,
    templates,
)

PLOTLY_SRC = "../../assets/plotly.min.js"
PAGE_SCRIPT = "college-dashboard.js"  # templates/college-dashboard.js, shipped at site/assets/
DATA_SCRIPT = "dashboard-data.js"  # beside each college's index.html
PEERS_FOLDER = "peers"  # site/assets/peers/<file per school type>
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

    @functools.cached_property
    def element_groups(self) -> list[tuple[str, str | None, list[tuple[str, str]]]]:
        """(item code, item name, [(element code, element name)]) in order, worked out once for every page."""
        item_names = dict(self.items.select("item_code", "item_name").iter_rows())
        return [
            (item_code, item_names.get(item_code), list(elements.select("element_code", "element_name").iter_rows()))
            for (item_code,), elements in self.elements.sort("element_code").group_by("item_code", maintain_order=True)
        ]


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


def element_grid(reference: SiteReference, warnings: pl.DataFrame) -> list[dict]:
    """15 elements × years, grouped by item; each cell has its level and the anchor of its reasons."""
    levels = {(year, code): level for year, code, level in warnings.select("year", "element_code", "level").iter_rows()}
    grid = []
    for item_code, item_name, elements in reference.element_groups:
        rows = []
        for code, name in elements:
            cells = [
                {
                    "year": year,
                    "level": levels.get((year, code)),
                    "anchor": cell_anchor(year, code),
                    "label": LEVEL_ZH.get(levels.get((year, code)), "数据不足"),
                }
                for year in reference.years
            ]
            rows.append({"code": code, "name": name, "cells": cells})
        grid.append({"code": item_code, "name": item_name, "elements": rows})
    return grid


def risk_rows(risk: pl.DataFrame) -> list[dict]:
    return [
        {**row, "score": number_text(row["risk_score"])}
        for row in risk.sort("year", descending=True).iter_rows(named=True)
    ]


def reason_sections(reference: SiteReference, warnings: pl.DataFrame) -> list[dict]:
    """Every element's level and reasons per year, latest year first, each with the anchor the grid links to."""
    names = dict(reference.elements.select("element_code", "element_name").iter_rows())
    sections = []
    ordered = warnings.sort("year", "element_code", descending=[True, False])
    for (year,), rows in ordered.group_by("year", maintain_order=True):
        articles = [
            {
                "level": row["level"],
                "anchor": cell_anchor(year, row["element_code"]),
                "badge": Markup(level_badge(row["level"])),
                "code": row["element_code"],
                "name": names.get(row["element_code"]),
                "reasons": row["reasons"] or [],
            }
            for row in rows.iter_rows(named=True)
        ]
        sections.append({"year": year, "articles": articles})
    return sections


def threshold_name(name: str, confidence: str | None) -> str:
    """A threshold line's name, saying so when the value is not confirmed (no 高职 限制招生 value is)."""
    return name if confidence == "confirmed" else f"{name}（未核实）"


def threshold_lines(threshold: dict | None) -> list[dict]:
    """The 合格 (green) and 限制招生 (red) lines of one indicator, each named with its confidence."""
    if not threshold:
        return []
    lines = [
        ("合格值", threshold.get("qualified_value"), threshold.get("confidence"), "green"),
        ("限制招生值", threshold.get("restricted_value"), threshold.get("restricted_confidence"), "red"),
    ]
    return [
        {"name": threshold_name(name, confidence), "value": value, "colour": LEVEL_COLOURS[level]}
        for name, value, confidence, level in lines
        if value is not None
    ]


def indicator_title(indicator: dict) -> str:
    unit = indicator["unit"] or ""
    return f"{indicator['name_zh']}（{unit}）" if unit else indicator["name_zh"]


def chart_data(reference: SiteReference, data: CollegeData) -> dict:
    """What the shared page script draws: per indicator the college's value per year (rounded one digit
    beyond the indicator's decimals) and its threshold lines. The peers' bands are not here (peer file)."""
    values: dict[str, dict[int, float]] = {}
    for row in data.values.iter_rows(named=True):
        values.setdefault(row["indicator_code"], {})[row["year"]] = row["value"]
    thresholds = {row["indicator_code"]: row for row in data.thresholds.iter_rows(named=True)}
    charts = []
    for indicator in reference.indicators.sort("ordinal").iter_rows(named=True):
        code = indicator["indicator_code"]
        digits = (indicator["decimals"] or 0) + 1
        own = values.get(code, {})
        charts.append(
            {
                "code": code,
                "title": indicator_title(indicator),
                "values": [None if own.get(year) is None else round(own[year], digits) for year in reference.years],
                "thresholds": threshold_lines(thresholds.get(code)),
            }
        )
    school_type = data.school.get("school_type") or "未登记"
    return {
        "years": [str(year) for year in reference.years],
        "peer_label": f"{school_type}类院校",
        "font": FONT_FAMILY,
        "charts": charts,
    }


def peer_data(bands: pl.DataFrame) -> dict:
    """One school type's bands for the page script: indicator → year → peer count and percentiles."""
    by_indicator: dict[str, dict[str, dict]] = {}
    if bands.height == 0:
        return {"bands": by_indicator}
    for row in bands.sort("indicator_code", "year").iter_rows(named=True):
        band = {"peer_count": row["peer_count"], **{name: row[name] for name in BAND_QUANTILES}}
        by_indicator.setdefault(row["indicator_code"], {})[str(row["year"])] = band
    return {"bands": by_indicator}


def peer_file_name(school_type: str) -> str:
    """The peer file of a school type: ASCII (a URL without escapes), the same for every run."""
    return f"peers-{hashlib.sha256(school_type.encode('utf-8')).hexdigest()[:16]}.js"


def script_assignment(variable: str, value: dict) -> str:
    """`window.<variable> = <JSON>;`: data a page loads with <script src>, which works from file:// where
    fetch() does not. `<` is escaped so no text in the data can close the script."""
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
    return f"window.{variable} = {payload};\n"


def college_data_script(reference: SiteReference, data: CollegeData) -> str:
    return script_assignment("ZHENGAI_DASHBOARD", chart_data(reference, data))


def peer_script(bands: pl.DataFrame) -> str:
    return script_assignment("ZHENGAI_PEERS", peer_data(bands))


def families(reference: SiteReference) -> list[dict]:
    return [
        {"name": FAMILY_ZH.get(family, family), "indicators": indicators["indicator_code"].to_list()}
        for (family,), indicators in reference.indicators.sort("ordinal").group_by("family", maintain_order=True)
    ]


def issues_by_table(issues: pl.DataFrame) -> dict[tuple[int, str], list[dict]]:
    """A college's issues per (year, table): errors first, then by failed rows, most first (unknown last)."""
    ordered = sorted(
        issues.iter_rows(named=True),
        key=lambda row: (row["severity"] != "error", row["failed_count"] is None, -(row["failed_count"] or 0)),
    )
    grouped: dict[tuple[int, str], list[dict]] = {}
    for row in ordered:
        grouped.setdefault((row["year"], row["table_code"]), []).append(row)
    return grouped


def issue_lines(issues: list[dict]) -> list[str]:
    return [
        issue["message_zh"] + (f"（{issue['failed_count']} 处）" if issue["failed_count"] else "")
        for issue in issues[:ISSUES_SHOWN_PER_TABLE]
    ]


def quality_parts(reference: SiteReference, data: CollegeData) -> list[dict]:
    """Per year: how many tables are fine, and every missing, stale, invalid or flagged table with what to fix."""
    issues = issues_by_table(data.issues)
    by_year: dict[int, list[dict]] = {}
    for row in data.table_status.iter_rows(named=True):
        by_year.setdefault(row["year"], []).append(row)
    parts = []
    for year in sorted(by_year, reverse=True):
        statuses = by_year[year]
        counts = Counter(row["status"] for row in statuses)
        summary = "，".join(
            f"{TABLE_STATUS_ZH[status]} {counts[status]} 张" for status in TABLE_STATUS_ORDER if counts.get(status)
        )
        # an optional table not delivered is nothing to fix: counted in the summary, not listed
        problems = sorted(
            (row for row in statuses if row["status"] not in ("ok", "optional_absent")),
            key=lambda row: (TABLE_STATUS_ORDER.get(row["status"], 9), row["table_code"]),
        )
        rows = [problem_row(reference, row, issues.get((year, row["table_code"]), [])) for row in problems]
        parts.append({"year": year, "tables": len(statuses), "summary": summary, "problems": rows})
    return parts


def problem_row(reference: SiteReference, row: dict, found: list[dict]) -> dict:
    return {
        "table_code": row["table_code"],
        "table_name": reference.table_names.get(row["table_code"], ""),
        "status": TABLE_STATUS_ZH.get(row["status"], row["status"]),
        "advice": TABLE_STATUS_ADVICE.get(row["status"], ""),
        "reasons": row["reasons_zh"] or "",
        "issues": issue_lines(found),
        "more": max(len(found) - ISSUES_SHOWN_PER_TABLE, 0),
    }


def page_scripts(school_type: str | None) -> list[str]:
    """The page's scripts after its body: its data, its type's peers, then the shared script that draws."""
    peers = [f"../../assets/{PEERS_FOLDER}/{peer_file_name(school_type)}"] if school_type else []
    return [DATA_SCRIPT, *peers, f"../../assets/{PAGE_SCRIPT}"]


def build_college_page(reference: SiteReference, data: CollegeData) -> str:
    """The complete dashboard page of one college (its charts' data is `college_data_script`)."""
    school = data.school
    name = school.get("name_zh") or school["school_code"]
    body = (
        templates()
        .get_template("college.html")
        .render(
            name=name,
            school_code=school["school_code"],
            school_type=school.get("school_type"),
            years=sorted(set(data.warnings["year"].to_list())) or reference.years,
            legend=Markup(level_legend()),
            grid_years=reference.years,
            grid=element_grid(reference, data.warnings),
            risk=risk_rows(data.risk),
            reasons=reason_sections(reference, data.warnings),
            card=Markup(college_card_html(data.cards)),
            peer_min_count=reference.peer_min_count,
            families=families(reference),
            quality=quality_parts(reference, data),
            scripts=page_scripts(school.get("school_type")),
        )
    )
    return page_html(f"{name} 诊改预警看板", body, PLOTLY_SRC)
