"""Site layer: dashboards and reports under $ZHENGAI_HOME/site.

The dashboards read each input table once for all colleges and split the frames in polars,
so building a college's page costs no SQL of its own. The report assets (early-warning and
data-quality reports) live beside their layers, in assets/mart.py and assets/quality.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.mart import load_warning_rules
from dashboards.college import CollegeData, SiteReference, build_college_page, peer_bands
from dashboards.common import remove_stale_pages, write_page, write_plotly_js
from dashboards.province import build_province_page
from pipelines.resources import WarehouseResource
from pipelines.sitebuild import site_build

MART = {
    name: dg.AssetKey(["mart", name])
    for name in ("indicator_values", "element_warnings", "school_risk", "college_card")
}
QUALITY = {name: dg.AssetKey(["quality", name]) for name in ("table_status", "issues")}
REF = {
    name: dg.AssetKey(["ref", name])
    for name in ("schools", "diagnostic_items", "diagnostic_elements", "indicators", "thresholds", "platform_tables")
}


@dataclass(frozen=True)
class SiteInputs:
    """Every table the dashboards read, each loaded with one query."""

    reference: SiteReference
    schools: pl.DataFrame
    warnings: pl.DataFrame
    values: pl.DataFrame
    risk: pl.DataFrame
    thresholds: pl.DataFrame
    table_status: pl.DataFrame
    issues: pl.DataFrame
    cards: pl.DataFrame


def load_site_inputs(conn: duckdb.DuckDBPyConnection) -> SiteInputs:
    warnings = conn.execute(
        "select school_code, year, element_code, level, reasons from mart.element_warnings "
        "order by school_code, year, element_code"
    ).pl()
    years = sorted(set(warnings["year"].to_list()))
    reference = SiteReference(
        items=conn.execute("select item_code, item_name from ref.diagnostic_items order by item_code").pl(),
        elements=conn.execute(
            "select element_code, element_name, item_code from ref.diagnostic_elements order by element_code"
        ).pl(),
        indicators=conn.execute(
            "select indicator_code, name_zh, unit, direction, decimals, family, ordinal from ref.indicators order by ordinal"
        ).pl(),
        table_names=dict(conn.execute("select table_code, name_zh from ref.platform_tables").fetchall()),
        years=years,
        peer_min_count=int(load_warning_rules()["peer_min_count"]),
    )
    return SiteInputs(
        reference=reference,
        schools=conn.execute("select school_code, name_zh, school_type from ref.schools").pl(),
        warnings=warnings,
        values=conn.execute(
            "select school_code, year, indicator_code, value from mart.indicator_values where value is not null"
        ).pl(),
        risk=conn.execute(
            "select school_code, year, risk_score, red_count, yellow_count, insufficient_count, rank, "
            "flagged_indicators, red_indicators, yellow_indicators, insufficient_indicators, flagged_zh "
            "from mart.school_risk"
        ).pl(),
        thresholds=conn.execute(
            "select indicator_code, school_type, qualified_value, restricted_value, confidence, restricted_confidence "
            "from ref.thresholds"
        ).pl(),
        table_status=conn.execute("select school_code, year, table_code, status, reasons_zh from quality.table_status").pl(),
        issues=conn.execute(
            "select school_code, year, table_code, severity, failed_count, message_zh from quality.issues"
        ).pl(),
        cards=conn.execute(
            "select school_code, year, card, rests_on_unconfirmed, reasons_zh from mart.college_card"
        ).pl(),
    )


def split_by(frame: pl.DataFrame, column: str) -> dict[str, pl.DataFrame]:
    return {key: part for (key,), part in frame.partition_by(column, as_dict=True).items()}


def college_data(inputs: SiteInputs) -> list[CollegeData]:
    """Every warned-about college's slice of each input, split once in polars."""
    schools = {row["school_code"]: row for row in inputs.schools.iter_rows(named=True)}
    bands = split_by(peer_bands(inputs.values, inputs.schools, inputs.reference.peer_min_count), "school_type")
    thresholds = split_by(inputs.thresholds, "school_type")
    warnings = split_by(inputs.warnings, "school_code")
    values = split_by(inputs.values, "school_code")
    risk = split_by(inputs.risk, "school_code")
    status = split_by(inputs.table_status, "school_code")
    issues = split_by(inputs.issues, "school_code")
    cards = split_by(inputs.cards, "school_code")
    colleges = []
    for code in sorted(warnings):
        school = schools.get(code) or {"school_code": code, "name_zh": None, "school_type": None}
        school_type = school["school_type"]
        colleges.append(CollegeData(
            school=school,
            warnings=warnings[code],
            values=values.get(code, inputs.values.clear()),
            risk=risk.get(code, inputs.risk.clear()),
            thresholds=thresholds.get(school_type, inputs.thresholds.clear()),
            bands=bands.get(school_type, pl.DataFrame()) if school_type else pl.DataFrame(),
            table_status=status.get(code, inputs.table_status.clear()),
            issues=issues.get(code, inputs.issues.clear()),
            cards=cards.get(code, inputs.cards.clear()),
        ))
    return colleges


def write_college_dashboards(inputs: SiteInputs, site: Path) -> dict[str, int]:
    """Write `schools/<code>/index.html` for every college; returns the bytes written per college."""
    written = {}
    for data in college_data(inputs):
        code = data.school["school_code"]
        written[code] = write_page(site / "schools" / code / "index.html", build_college_page(inputs.reference, data))
    remove_stale_pages(site, "schools/*/index.html", {site / "schools" / code / "index.html" for code in written})
    return written


def write_province_overview(inputs: SiteInputs, site: Path) -> int:
    page = build_province_page(
        inputs.reference, inputs.schools, inputs.warnings, inputs.risk, inputs.table_status, inputs.cards
    )
    return write_page(site / "province" / "index.html", page)


@dg.asset(key_prefix="site", group_name="site", kinds={"html"})
def plotly_js(context) -> dg.MaterializeResult:
    """plotly.min.js from the installed plotly package, shipped once at site/assets/ (pages never use a CDN)."""
    target = write_plotly_js(site_build(context.run_id))
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(target)), "bytes": dg.MetadataValue.int(target.stat().st_size)}
    )


@dg.asset(
    key_prefix="site",
    group_name="site",
    kinds={"html"},
    deps=[plotly_js, *MART.values(), *QUALITY.values(), *REF.values()],
)
def college_dashboards(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each college's dashboard, site/schools/<code>/index.html: its own data and anonymous peer bands only."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        written = write_college_dashboards(load_site_inputs(conn), site)
    sizes = sorted(written.values())
    return dg.MaterializeResult(metadata={
        "pages": dg.MetadataValue.int(len(written)),
        "largest_page_bytes": dg.MetadataValue.int(sizes[-1] if sizes else 0),
        "site": dg.MetadataValue.path(str(site / "schools")),
    })


@dg.asset(
    key_prefix="site",
    group_name="site",
    kinds={"html"},
    deps=[plotly_js, *MART.values(), QUALITY["table_status"], REF["schools"], REF["diagnostic_elements"]],
)
def province_overview(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The secretariat's overview, site/province/index.html: heat map, risk ranking, completeness, trends."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        size = write_province_overview(load_site_inputs(conn), site)
    return dg.MaterializeResult(metadata={
        "bytes": dg.MetadataValue.int(size),
        "path": dg.MetadataValue.path(str(site / "province" / "index.html")),
    })
