"""A college's name is data, never markup: a registry name carrying <script> and & is escaped on every page
built from a template (issue 17 item 4), and the check finds the raw name once the templates stop escaping.

The pages are written by the production writers: the site assets' writers on the site fixture warehouse
(tests/site_fixtures.py) with one college renamed, `zhengai experts assign` on a registry holding the
name, and the public site's builder with a recorded plan that names the college.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dashboards.common as common
from assets.site import (
    load_colleges,
    load_reference,
    load_site_inputs,
    write_college_reports,
    write_province_overview,
    write_warning_reports,
)
from dashboards.quality_report import build_province_quality_page
from indicator_fixtures import MiniWarehouse, typical_college
from pipelines.cli import main
from pipelines.public_site import build_public_site
from pipelines.resources import RunOptions
from pipelines.settings import get_settings
from pipelines.sql import query
from site_fixtures import fixture_warehouse, populate_province
from test_experts import COLLEGES, clean_pool, pool_text, write_plan
from test_experts import YEAR as GROUP_YEAR

HOSTILE = "甲<script>alert(1)</script>&乙学院"
ESCAPED = "甲&lt;script&gt;alert(1)&lt;/script&gt;&amp;乙学院"
LATEST = 2024
PAGES = (
    "province/index.html",
    "province/quality.html",
    "warnings",
    "quality.html",
    "quality-year",
    "groups.html",
    "public/index.html",
    "public/year",
    "public/college",
)


def quality_pages(conn, site: Path) -> None:
    """The college and province data-quality pages, as the two quality-report assets write them."""
    reference = load_reference(conn, RunOptions(as_of=f"{LATEST}-12-01"))
    write_college_reports(reference, load_colleges(conn), site)
    page = build_province_quality_page(
        reference,
        query(conn, "site/school_names"),
        query(conn, "site/province_table_status"),
        query(conn, "site/quality_issues"),
    )
    common.write_page(site / "province" / "quality.html", page)


def group_page(code: str) -> Path:
    """`zhengai experts assign` for a plan of the one college, the registry naming it HOSTILE."""
    registry = get_settings().registry
    registry.parent.mkdir(parents=True, exist_ok=True)
    lines = ["school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to,city"]
    lines += [f"{code},{HOSTILE},综合,公办,active,,,,柳州"]
    lines += [f"{c['school_code']},{c['name_zh']},综合,公办,active,,,,{c['city']}" for c in COLLEGES]
    registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_plan(GROUP_YEAR, [code])
    pool = get_settings().home / "experts" / "experts.csv"
    pool.parent.mkdir(parents=True, exist_ok=True)
    pool.write_text(pool_text(clean_pool()), encoding="utf-8")
    main(["experts", "assign", "--year", str(GROUP_YEAR), "--seed", "5"])
    return get_settings().exports / "experts" / str(GROUP_YEAR) / "groups.html"


def public_pages(conn, site: Path, code: str) -> None:
    """The public site, with a recorded sampling plan that selected the college (as `zhengai sample` records)."""
    plan = get_settings().exports / "sampling" / str(GROUP_YEAR) / "plan.json"
    selected = [{"school_code": code, "name_zh": HOSTILE, "reason_zh": "随机抽取"}]
    plan.write_text(json.dumps({"plan": {"year": GROUP_YEAR, "selected": selected}}), encoding="utf-8")
    build_public_site(site, conn)


def warning_report(site: Path, code: str) -> Path:
    """A college's early-warning report from the real indicator and warning SQL (indicator_fixtures)."""
    warehouse = MiniWarehouse()
    warehouse.school(code, "综合", name=HOSTILE)
    typical_college(warehouse, code, LATEST, books_total=40_000)
    warehouse.build()
    write_warning_reports(warehouse.conn, site)
    return site / "schools" / code / f"warnings-{LATEST}.html"


def build_pages(home: Path) -> dict[str, str]:
    """Every converted page that shows the renamed college, by kind."""
    conn = fixture_warehouse()
    code = populate_province(conn, 4, [2023, LATEST], seed=5, school_types=["理工"])[0]
    conn.execute("update ref.schools set name_zh = ? where school_code = ?", [HOSTILE, code])
    site = home / "site"
    write_province_overview(load_site_inputs(conn), site)
    warnings = warning_report(home / "reports", code)
    quality_pages(conn, site)
    groups = group_page(code)
    public_pages(conn, site, code)
    conn.close()
    college = site / "schools" / code
    paths = {
        "warnings": warnings,
        "quality.html": college / "quality.html",
        "quality-year": college / f"quality-{LATEST}.html",
        "groups.html": groups,
        "public/year": site / "public" / "years" / f"{GROUP_YEAR}.html",
        "public/college": site / "public" / "schools" / code / "index.html",
    }
    return {kind: paths.get(kind, site / kind).read_text(encoding="utf-8") for kind in PAGES}


@pytest.fixture
def autoescape_off(monkeypatch):
    """The page templates as they would be without autoescape (every other setting the same)."""
    environment = common.templates.__wrapped__()
    environment.autoescape = False
    monkeypatch.setattr(common, "templates", lambda: environment)


def test_a_hostile_college_name_is_escaped_on_every_page(zhengai_home):
    pages = build_pages(zhengai_home)
    for kind, html in pages.items():
        assert ESCAPED in html, f"{kind}: the name is not on the page"
        assert HOSTILE not in html, f"{kind}: the name reaches the page unescaped"


def test_without_autoescape_the_raw_name_is_found_on_every_page(zhengai_home, autoescape_off):
    pages = build_pages(zhengai_home)
    assert [kind for kind, html in pages.items() if HOSTILE not in html] == []
