"""Site layer: dashboards and reports under $ZHENGAI_HOME/site (the run's build, pipelines/sitebuild.py).

Every page asset is here: the dashboards, the early-warning reports and the data-quality reports.
Their queries are files in `sql/site/`. The pages read each input table once for all colleges and
split the frames in polars, so building a college's page costs no SQL of its own. Pages are written
atomically (`write_page`, pipelines/files.py), and only where their content changed: each college's
(or college-year's) pages are rendered when the fingerprint of their input rows and of the rendering
code differs from the one recorded in the site's ledger (pipelines/sitebuild.py PageLedger), or a
file is missing; otherwise the build keeps the published file (a hard link, pipelines/sitebuild.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property, partial
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.mart import load_warning_rules
from dashboards.college import (
    DATA_SCRIPT,
    PAGE_SCRIPT,
    PEERS_FOLDER,
    CollegeData,
    SiteReference,
    build_college_page,
    college_data_script,
    peer_bands,
    peer_file_name,
    peer_script,
)
from dashboards.common import (
    PLOTLY_JS_NAME,
    TEMPLATES,
    bundled_plotly_js,
    plotly_js_current,
    remove_stale_pages,
    write_page,
    write_plotly_js,
)
from dashboards.province import build_province_page
from dashboards.quality_report import (
    CollegeQuality,
    QualityReference,
    build_college_overview_page,
    build_college_year_page,
    build_province_quality_page,
)
from dashboards.warning_report import build_warning_report_html
from pipelines.files import atomic_write_text, atomic_write_text_if_changed
from pipelines.quality.calendar import quality_params
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.settings import collection_deadline, get_settings
from pipelines.sitebuild import (
    PageLedger,
    code_version,
    fingerprint,
    fingerprints_by,
    in_background,
    site_build,
    start_site_build,
)
from pipelines.sql import query


def keys(schema: str, *names: str) -> dict[str, dg.AssetKey]:
    return {name: dg.AssetKey([schema, name]) for name in names}


MART = keys("mart", "indicator_values", "element_warnings", "school_risk", "college_card")
QUALITY = keys("quality", "table_status", "issues")
REF = keys("ref", "schools", "diagnostic_items", "diagnostic_elements", "indicators", "thresholds", "platform_tables")
PLOTLY_JS = dg.AssetKey("plotly_js")  # prefixed in pipelines/definitions.py
# Polars: a filter per key is cheaper than partitioning a national frame for up to this many colleges ...
FILTER_COLLEGES_AT_MOST = 50
# ... and for up to this many warning-report pages due (past it, their rows are partitioned once)
FILTER_PAGES_AT_MOST = 50


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
    warnings = query(conn, "site/element_levels")
    years = sorted(set(warnings["year"].to_list()))
    reference = SiteReference(
        items=query(conn, "site/items"),
        elements=query(conn, "site/elements"),
        indicators=query(conn, "site/indicators"),
        table_names=dict(query(conn, "site/table_names").iter_rows()),
        years=years,
        peer_min_count=int(load_warning_rules()["peer_min_count"]),
    )
    return SiteInputs(
        reference=reference,
        schools=query(conn, "site/schools"),
        warnings=warnings,
        values=query(conn, "site/indicator_values"),
        risk=query(conn, "site/school_risk"),
        thresholds=query(conn, "site/thresholds"),
        table_status=query(conn, "site/table_status"),
        issues=query(conn, "site/issues"),
        cards=query(conn, "site/college_cards"),
    )


def split_by(frame: pl.DataFrame, column: str, only: set | None = None) -> dict[str, pl.DataFrame]:
    """`frame` split by `column`; with `only`, just those keys' parts (a filter each: cheaper for a few)."""
    if only is not None and len(only) <= FILTER_COLLEGES_AT_MOST:
        return {key: part for key in only if (part := frame.filter(pl.col(column) == key)).height}
    return {key: part for (key,), part in frame.partition_by(column, as_dict=True).items()}


def page_code_version() -> str:
    """The rendering code's fingerprint: a change to a builder, a template or a page query re-renders every page."""
    return code_version("dashboards", "assets/site.py", "sql/site", "pipelines/exports.py", "pipelines/excel.py")


def fields_of(record) -> list:
    """A dataclass's field values, for its fingerprint."""
    return [getattr(record, field.name) for field in fields(record)]


def college_data(inputs: SiteInputs, bands: dict[str, pl.DataFrame], only: set | None = None) -> list[CollegeData]:
    """Every warned-about college's slice of each input (or only the colleges in `only`), split once in polars."""
    schools = {row["school_code"]: row for row in inputs.schools.iter_rows(named=True)}
    thresholds = split_by(inputs.thresholds, "school_type")
    warnings = split_by(inputs.warnings, "school_code", only)
    values = split_by(inputs.values, "school_code", only)
    risk = split_by(inputs.risk, "school_code", only)
    status = split_by(inputs.table_status, "school_code", only)
    issues = split_by(inputs.issues, "school_code", only)
    cards = split_by(inputs.cards, "school_code", only)
    colleges = []
    for code in sorted(warnings.keys() if only is None else warnings.keys() & only):
        school = schools.get(code) or {"school_code": code, "name_zh": None, "school_type": None}
        school_type = school["school_type"]
        colleges.append(
            CollegeData(
                school=school,
                warnings=warnings[code],
                values=values.get(code, inputs.values.clear()),
                risk=risk.get(code, inputs.risk.clear()),
                thresholds=thresholds.get(school_type, inputs.thresholds.clear()),
                bands=bands.get(school_type, pl.DataFrame()) if school_type else pl.DataFrame(),
                table_status=status.get(code, inputs.table_status.clear()),
                issues=issues.get(code, inputs.issues.clear()),
                cards=cards.get(code, inputs.cards.clear()),
            )
        )
    return colleges


COLLEGE_SLICES = ("warnings", "values", "risk", "table_status", "issues", "cards")  # SiteInputs split by college


def college_fingerprints(inputs: SiteInputs, reference_print: str) -> dict[str, str]:
    """What each college's index.html and dashboard-data.js are built from: its rows of every input and its
    school type's thresholds. Its peers' bands are not (they are in the shared peer file), so a peer's
    move leaves this college's files alone."""
    slices = {name: fingerprints_by(getattr(inputs, name), "school_code") for name in COLLEGE_SLICES}
    by_type = fingerprints_by(inputs.thresholds, "school_type")
    prints = {}
    for school in inputs.schools.iter_rows(named=True):
        code = school["school_code"]
        parts = [slices[name].get(code) for name in COLLEGE_SLICES]
        prints[code] = fingerprint(reference_print, school, by_type.get(school["school_type"]), *parts)
    return prints


def write_dashboard_scripts(bands: dict[str, pl.DataFrame], site: Path) -> int:
    """The shared page script and one peer file per school type of a warned-about college (rewritten only
    when they change, stale ones removed); returns the files rewritten."""
    assets = site / "assets"
    script = (TEMPLATES / PAGE_SCRIPT).read_text(encoding="utf-8")
    rewritten = int(atomic_write_text_if_changed(assets / PAGE_SCRIPT, script, durable=False))
    peer_files = {assets / PEERS_FOLDER / peer_file_name(school_type): school_type for school_type in bands}
    for target, school_type in peer_files.items():
        rewritten += atomic_write_text_if_changed(target, peer_script(bands[school_type]), durable=False)
    remove_stale_pages(site, f"assets/{PEERS_FOLDER}/peers-*.js", set(peer_files))
    return rewritten


def render_college_dashboards(inputs: SiteInputs, site: Path) -> tuple[dict[str, int], int]:
    """Write `schools/<code>/index.html` and its `dashboard-data.js` for every college whose inputs
    changed since the build it starts from; returns the page size per college and how many were rendered."""
    bands = split_by(peer_bands(inputs.values, inputs.schools, inputs.reference.peer_min_count), "school_type")
    warned = set(inputs.warnings.get_column("school_code").unique().to_list())
    types = {row["school_code"]: row["school_type"] for row in inputs.schools.iter_rows(named=True)}
    write_dashboard_scripts({t: bands.get(t, pl.DataFrame()) for t in {types.get(code) for code in warned} if t}, site)
    ledger = PageLedger(site, "college_dashboards")
    prints = college_fingerprints(inputs, fingerprint(page_code_version(), *fields_of(inputs.reference)))
    sizes, due = {}, set()
    for code in sorted(warned):
        index = site / "schools" / code / "index.html"
        # a college missing from ref.schools: its code and an empty school stand in (as college_data fills it)
        print_ = prints.get(code) or fingerprint(code, {"school_code": code, "name_zh": None, "school_type": None})
        if ledger.unchanged(code, print_):
            sizes[code] = index.stat().st_size
        else:
            due.add(code)
    for data in college_data(inputs, bands, due):
        code = data.school["school_code"]
        folder = site / "schools" / code
        print_ = prints.get(code) or fingerprint(code, data.school)
        atomic_write_text(folder / DATA_SCRIPT, college_data_script(inputs.reference, data), durable=False)
        sizes[code] = write_page(folder / "index.html", build_college_page(inputs.reference, data))
        ledger.record(code, print_, [folder / "index.html", folder / DATA_SCRIPT])
    kept = {site / "schools" / code / name for code in sizes for name in ("index.html", DATA_SCRIPT)}
    remove_stale_pages(site, "schools/*/index.html", kept)
    remove_stale_pages(site, f"schools/*/{DATA_SCRIPT}", kept)
    ledger.save()
    return sizes, ledger.rendered


def write_college_dashboards(inputs: SiteInputs, site: Path) -> dict[str, int]:
    """Every college's dashboard (rendered where changed); returns the page size in bytes per college."""
    return render_college_dashboards(inputs, site)[0]


def write_province_overview(inputs: SiteInputs, site: Path) -> int:
    page = build_province_page(
        inputs.reference, inputs.schools, inputs.warnings, inputs.risk, inputs.table_status, inputs.cards
    )
    return write_page(site / "province" / "index.html", page)


@dg.asset(kinds={"html"})
def plotly_js(context) -> dg.MaterializeResult:
    """plotly.min.js from the installed plotly package, shipped once at site/assets/ (pages never use a CDN).

    The run's first site step: it begins the site build in a thread (pipelines/sitebuild.py start_site_build), which
    the page steps wait for; it waits itself only when the published site's copy is not the bundled one."""
    build = start_site_build(context.run_id)
    if plotly_js_current(get_settings().site):
        target = build / "assets" / PLOTLY_JS_NAME  # the published file, hard-linked into the build
    else:
        target = write_plotly_js(site_build(context.run_id))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target)),
            "bytes": dg.MetadataValue.int(bundled_plotly_js().stat().st_size),
        }
    )


@dg.asset(kinds={"html"}, deps=[PLOTLY_JS, *MART.values(), *QUALITY.values(), *REF.values()])
def college_dashboards(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each college's dashboard, site/schools/<code>/index.html: its own data and anonymous peer bands only."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        written, rendered = render_college_dashboards(load_site_inputs(conn), site)
    sizes = sorted(written.values())
    return dg.MaterializeResult(
        metadata={
            "pages": dg.MetadataValue.int(len(written)),
            "pages_rendered": dg.MetadataValue.int(rendered),
            "largest_page_bytes": dg.MetadataValue.int(sizes[-1] if sizes else 0),
            "site": dg.MetadataValue.path(str(site / "schools")),
        }
    )


@dg.asset(
    kinds={"html"},
    deps=[PLOTLY_JS, *MART.values(), QUALITY["table_status"], REF["schools"], REF["diagnostic_elements"]],
)
def province_overview(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The secretariat's overview, site/province/index.html: heat map, risk ranking, completeness, trends.
    Rendered in a thread (a second of Python at national size) while the publication copies the warehouse, which
    waits for it before it replaces anything (pipelines/sitebuild.py in_background)."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        inputs = load_site_inputs(conn)
    in_background(context.run_id, partial(write_province_overview, inputs, site), at_publication=True)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(site / "province" / "index.html"))})


# --- early-warning reports -------------------------------------------------------------------------


def write_warning_reports(conn: duckdb.DuckDBPyConnection, site: Path) -> int:
    """Write `schools/<code>/warnings-<year>.html` for every college and year whose inputs changed;
    returns the page count (rendered or kept)."""
    return render_warning_reports(*warning_report_frames(conn), site)


def warning_report_frames(conn: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Every college's rows the warning reports show: elements, indicators, risk."""
    return (
        query(conn, "site/warning_report_elements"),
        query(conn, "site/warning_report_indicators"),
        query(conn, "site/warning_report_risk"),
    )


def render_warning_reports(elements: pl.DataFrame, indicators: pl.DataFrame, risk: pl.DataFrame, site: Path) -> int:
    """The warning reports of `write_warning_reports` from their frames (no SQL). Frames are cut into pages only
    for the pages rendered."""
    rules = load_warning_rules()
    ledger = PageLedger(site, "warning_reports")
    common = fingerprint(page_code_version(), rules)
    prints = [fingerprints_by(frame, "school_code", "year") for frame in (elements, indicators, risk)]
    pages = {
        (school_code, year): site / "schools" / str(school_code) / f"warnings-{year}.html"
        for school_code, year in prints[0]
    }
    due = {}
    for key in pages:
        print_ = fingerprint(common, *(part.get(key) for part in prints))
        if not ledger.unchanged(f"{key[0]}/{key[1]}", print_):
            due[key] = print_
    parts = [page_parts(frame, due) for frame in (elements, indicators, risk)]
    for key, print_ in due.items():
        school_elements, page_indicators, page_risk = (part(key) for part in parts)
        write_page(pages[key], build_warning_report_html(school_elements, page_indicators, page_risk, rules))
        ledger.record(f"{key[0]}/{key[1]}", print_, [pages[key]])
    remove_stale_pages(site, "schools/*/warnings-*.html", set(pages.values()))
    ledger.save()
    return len(pages)


def page_parts(frame: pl.DataFrame, due: dict):
    """`key -> frame's rows of (school_code, year) key`: split once when many pages are due, else filtered."""
    if len(due) > FILTER_PAGES_AT_MOST:
        # the due colleges' and years' rows first: a partition per page due, not per page there is
        schools, years = sorted({key[0] for key in due}), sorted({key[1] for key in due})
        rows = frame.filter(pl.col("school_code").is_in(schools) & pl.col("year").is_in(years))
        split, empty = rows.partition_by(["school_code", "year"], as_dict=True), frame.clear()
        return lambda key: split.get(key, empty)
    return lambda key: frame.filter((pl.col("school_code") == key[0]) & (pl.col("year") == key[1]))


@dg.asset(
    kinds={"html"},
    deps=[
        MART["element_warnings"],
        dg.AssetKey(["mart", "indicator_warnings"]),
        MART["school_risk"],
        REF["schools"],
        dg.AssetKey(["ref", "indicator_elements"]),
        REF["diagnostic_items"],
    ],
)
def warning_reports(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Early-warning report per college and year: site/schools/<code>/warnings-<year>.html (Chinese, offline).
    Fingerprinted and rendered in a thread while the publication copies the warehouse (as the province overview)."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        frames = warning_report_frames(conn)
    in_background(context.run_id, partial(render_warning_reports, *frames, site), at_publication=True)
    pages = frames[0].select("school_code", "year").unique().height  # a page per college-year with elements
    return dg.MaterializeResult(
        metadata={"pages": dg.MetadataValue.int(pages), "site": dg.MetadataValue.path(str(site / "schools"))}
    )


# --- data-quality reports --------------------------------------------------------------------------

QUALITY_REPORT_DEPS = [QUALITY["issues"], QUALITY["table_status"], REF["schools"], REF["platform_tables"]]


def load_reference(conn: duckdb.DuckDBPyConnection, run_options: RunOptions) -> QualityReference:
    params = quality_params(run_options.as_of_date())
    years = query(conn, "site/quality_years")["year"].to_list()
    return QualityReference(
        tables=query(conn, "site/quality_tables"),
        elements=query(conn, "site/quality_elements"),
        as_of=params.as_of,
        current_year=params.current_year,
        deadlines={year: collection_deadline(year) for year in years},
        issues_per_table=int(params.rules["report_issues_per_table"]),
    )


SLICES = ("table_status", "issues", "element_status")  # CollegeQuality's frames, each a quality table's rows


@dataclass(frozen=True)
class QualityTables:
    """Every college's rows of the three quality tables, read once. Fingerprints come from the whole frames in one
    pass; a college's slices (`colleges`) are cut only for the colleges whose pages are rendered."""

    names: dict
    table_status: pl.DataFrame
    issues: pl.DataFrame
    element_status: pl.DataFrame

    def __len__(self) -> int:
        return len(self.years)

    def frames(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in SLICES}

    @cached_property  # read by the fingerprints, the page loop and the step's metadata: grouped once
    def years(self) -> dict[str, list[int]]:
        """Each college with table statuses (the colleges reported on) → its years, in order."""
        grouped = self.table_status.group_by("school_code").agg(pl.col("year").unique().sort())
        return dict(sorted(grouped.iter_rows()))

    def fingerprints(self) -> dict[str, str]:
        """Each college's fingerprint: its code, its name and its rows of each table."""
        slices = {name: fingerprints_by(frame, "school_code") for name, frame in self.frames().items()}
        return {
            code: fingerprint([code, self.names.get(code)], *(slices[name].get(code) for name in SLICES))
            for code in self.years
        }

    def colleges(self, only: set[str]) -> list[CollegeQuality]:
        """The slices of the colleges in `only`, in code order."""
        parts = {name: split_by(frame, "school_code", only) for name, frame in self.frames().items()}
        return [
            CollegeQuality(
                school_code=code,
                name_zh=self.names.get(code),
                **{name: parts[name].get(code, frame.clear()) for name, frame in self.frames().items()},
            )
            for code in sorted(only)
        ]


def load_colleges(conn: duckdb.DuckDBPyConnection) -> QualityTables:
    """The three quality tables of every college, read once (split per college only where rendered)."""
    return QualityTables(
        names=dict(query(conn, "site/school_names").iter_rows()),
        table_status=query(conn, "site/quality_table_status"),
        issues=query(conn, "site/quality_issues"),
        element_status=query(conn, "site/quality_element_status"),
    )


def write_college_reports(reference: QualityReference, tables: QualityTables, site: Path) -> int:
    """`schools/<code>/quality.html` and `quality-<year>.html` for every college whose inputs changed;
    returns the pages there are (rendered or kept)."""
    ledger = PageLedger(site, "college_quality_reports")
    common = fingerprint(page_code_version(), *fields_of(reference))
    prints = tables.fingerprints()
    written, due = set(), {}
    for code, years in tables.years.items():
        folder = site / "schools" / code
        pages = [folder / "quality.html", *(folder / f"quality-{year}.html" for year in years)]
        written.update(pages)
        print_ = fingerprint(common, prints[code])
        if not ledger.unchanged(code, print_):
            due[code] = (print_, years, pages)
    for college in tables.colleges(set(due)):
        print_, years, pages = due[college.school_code]
        write_page(pages[0], build_college_overview_page(reference, college))
        for year, target in zip(years, pages[1:], strict=True):
            write_page(target, build_college_year_page(reference, college, year))
        ledger.record(college.school_code, print_, pages)
    remove_stale_pages(site, "schools/*/quality*.html", written)
    ledger.save()
    return len(written)


@dg.asset(kinds={"html"}, deps=[*QUALITY_REPORT_DEPS, dg.AssetKey(["quality", "element_data_status"])])
def college_quality_reports(context, warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """Per college: `schools/<code>/quality.html` (overview) and `quality-<year>.html` (every problem of the
    year grouped by table, with file, rows and what to fix). A college's folder holds only its own data."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        reference = load_reference(conn, run_options)
        colleges = load_colleges(conn)
    pages = write_college_reports(reference, colleges, site)
    return dg.MaterializeResult(
        metadata={
            "colleges": dg.MetadataValue.int(len(colleges)),
            "pages": dg.MetadataValue.int(pages),
            "path": dg.MetadataValue.path(str(site / "schools")),
        }
    )


@dg.asset(kinds={"html"}, deps=[*QUALITY_REPORT_DEPS, dg.AssetKey(["quality", "unmapped_headers"])])
def province_quality_report(context, warehouse: WarehouseResource, run_options: RunOptions) -> dg.MaterializeResult:
    """`province/quality.html` for the data officers: which colleges are complete, which are late,
    which tables fail most."""
    target = site_build(context.run_id) / "province" / "quality.html"
    with warehouse.connect() as conn:
        reference = load_reference(conn, run_options)
        page = build_province_quality_page(
            reference,
            query(conn, "site/school_names"),
            query(conn, "site/province_table_status"),
            query(conn, "site/quality_issues"),
            query(conn, "site/quality_unmapped_headers"),
        )
    size = write_page(target, page)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(target)), "bytes": dg.MetadataValue.int(size)}
    )


@dg.asset(
    kinds={"excel"},
    deps=[*MART.values(), dg.AssetKey(["mart", "indicator_warnings"]), *QUALITY.values(), REF["schools"]],
)
def excel_downloads(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The latest year's Excel workbooks (`zhengai export`) linked from downloads.html: province-wide
    under site/province/downloads/, each college's own under site/schools/<code>/downloads/."""
    from pipelines.exports import render_downloads

    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        written, _ = render_downloads(conn, site, later=partial(in_background, context.run_id))
    return dg.MaterializeResult(
        metadata={
            "workbooks": dg.MetadataValue.int(written),
            "path": dg.MetadataValue.path(str(site / "province" / "downloads.html")),
        }
    )
