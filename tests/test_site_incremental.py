"""Pages rewritten only where their content changed: every per-college output of the site (dashboards with
their data files and the peer files, warning reports, quality reports, Excel downloads) built twice by the
site assets' own writers into the same build; an unchanged college's files keep their inode (not
re-rendered, not replaced), a changed college's files and its school type's peer file are replaced, and
the result equals a fresh build."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest

import assets.site as site_assets
import pipelines.exports as exports
from assets.site import (
    load_colleges,
    load_reference,
    load_site_inputs,
    render_college_dashboards,
    write_college_reports,
    write_warning_reports,
)
from dashboards.college import peer_file_name
from indicator_fixtures import MiniWarehouse, typical_college
from pipelines.exports import write_downloads
from pipelines.resources import RunOptions
from site_fixtures import add_issue

STUDENTS = 1080  # 折合在校生 of typical_college
COLLEGES = {"10001": "综合", "10002": "综合", "10003": "综合", "10004": "理工", "10005": "理工"}
YEARS = (2023, 2024)


@pytest.fixture
def warehouse() -> MiniWarehouse:
    """Five colleges of two school types, two years each, every mart built by the real builders; the
    colleges differ in their books per student (all above 合格 80); one quality issue."""
    warehouse = MiniWarehouse()
    for index, (code, school_type) in enumerate(COLLEGES.items()):
        warehouse.school(code, school_type)
        for year in YEARS:
            typical_college(warehouse, code, year, books_total=(90 + 3 * index) * STUDENTS)
    warehouse.build()
    add_issue(
        warehouse.conn, "10005", 2024, "A01", "warn", 1, "表A01有一处日期格式不规范"
    )  # the issues workbooks exist
    return warehouse


def build_site(conn, site: Path) -> None:
    """What the nightly run's page steps write, each by its asset's writer (peer bands from 2 colleges,
    so this small province has them)."""
    inputs = load_site_inputs(conn)
    inputs = dataclasses.replace(inputs, reference=dataclasses.replace(inputs.reference, peer_min_count=2))
    render_college_dashboards(inputs, site)
    write_warning_reports(conn, site)
    write_college_reports(load_reference(conn, RunOptions(as_of="2024-12-01")), load_colleges(conn), site)
    write_downloads(conn, site)


def files_of(site: Path) -> dict[str, tuple[int, int]]:
    """Every file of the site by its path: (inode, mtime): a rewrite (atomic, by rename) changes the inode."""
    return {
        str(path.relative_to(site)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in sorted(site.rglob("*"))
        if path.is_file()
    }


def rewritten(before: dict, after: dict) -> set[str]:
    return {name for name, identity in after.items() if before.get(name) != identity}


def content(path: Path) -> object:
    """A file's content; a workbook's without docProps/core.xml, which holds the moment it was written."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}
    return path.read_bytes()


def assert_equals_a_fresh_build(conn, site: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    build_site(conn, fresh)
    assert sorted(files_of(site)) == sorted(files_of(fresh))
    for name in files_of(fresh):
        assert content(site / name) == content(fresh / name), name


def peer_file(school_type: str) -> str:
    return f"assets/peers/{peer_file_name(school_type)}"


def test_a_second_build_of_unchanged_data_rewrites_nothing(warehouse, tmp_path):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    before = files_of(site)
    assert {f"schools/10001/{name}" for name in ("index.html", "dashboard-data.js", "warnings-2024.html")} <= set(
        before
    )
    build_site(warehouse.conn, site)
    assert rewritten(before, files_of(site)) == set()


def test_one_college_changed_rewrites_its_pages_and_its_type_peer_file_only(warehouse, tmp_path):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    before = files_of(site)
    # 93 → 94 books per student: its peers' ranks stay (a warning report shows the rank among peers)
    warehouse.conn.execute(
        "update raw.library_holdings set books_total = ? where school_code = '10002' and year = 2024", [94 * STUDENTS]
    )
    warehouse.build()
    build_site(warehouse.conn, site)
    changed = rewritten(before, files_of(site))
    assert {
        "schools/10002/dashboard-data.js",
        "schools/10002/warnings-2024.html",
        "schools/10002/downloads/warnings-2024.xlsx",
        "province/downloads/warnings-2024.xlsx",
        peer_file("综合"),
    } <= changed
    others = {name for name in before if name.startswith("schools/") and not name.startswith("schools/10002/")}
    assert changed & others == set(), "no other college's file is touched"
    assert peer_file("理工") not in changed and "assets/college-dashboard.js" not in changed
    assert not any("quality" in name and name.endswith(".html") for name in changed), "quality is unchanged"
    # each workbook is kept or written on its own rows: the province's quality and issues workbooks stay
    assert {"province/downloads/quality-2024.xlsx", "province/downloads/issues-2024.xlsx"} & changed == set()
    assert_equals_a_fresh_build(warehouse.conn, site, tmp_path)


def test_a_figure_no_reason_mentions_rewrites_the_college_data_file_and_its_type_peer_file(warehouse, tmp_path):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    before = files_of(site)
    data_before = (site / "schools/10004/dashboard-data.js").read_text(encoding="utf-8")
    warehouse.conn.execute(
        "update mart.indicator_values set value = value + 1 "
        "where school_code = '10004' and year = 2023 and indicator_code = 'books_per_student'"
    )
    build_site(warehouse.conn, site)
    changed = rewritten(before, files_of(site))
    assert {"schools/10004/dashboard-data.js", peer_file("理工")} <= changed
    assert (site / "schools/10004/dashboard-data.js").read_text(encoding="utf-8") != data_before
    assert not any(name.startswith("schools/") and not name.startswith("schools/10004/") for name in changed)
    assert peer_file("综合") not in changed
    assert_equals_a_fresh_build(warehouse.conn, site, tmp_path)


def test_a_quality_issue_of_one_college_rewrites_its_quality_pages_and_workbooks(warehouse, tmp_path):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    before = files_of(site)
    page_before = (site / "schools/10003/quality-2024.html").read_text(encoding="utf-8")
    add_issue(warehouse.conn, "10003", 2024, "6.1", "error", 2, "教工号 T001 重复出现（第5、9行）")
    build_site(warehouse.conn, site)
    changed = rewritten(before, files_of(site))
    assert {"schools/10003/quality.html", "schools/10003/quality-2024.html"} <= changed
    assert "schools/10003/downloads/issues-2024.xlsx" in changed
    assert not any(name.startswith("schools/1000") and not name.startswith("schools/10003/") for name in changed)
    assert not any("peers" in name or name.endswith(("warnings-2023.html", "warnings-2024.html")) for name in changed)
    assert (site / "schools/10003/quality-2024.html").read_text(encoding="utf-8") != page_before
    assert_equals_a_fresh_build(warehouse.conn, site, tmp_path)


def test_a_page_missing_from_the_build_or_a_new_release_is_rendered_again(warehouse, tmp_path, monkeypatch):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    (site / "schools/10001/warnings-2024.html").unlink()
    (site / "schools/10004/downloads/quality-2024.xlsx").unlink()
    before = files_of(site)
    build_site(warehouse.conn, site)
    changed = rewritten(before, files_of(site))
    assert {"schools/10001/warnings-2024.html", "schools/10004/downloads/quality-2024.xlsx"} <= changed
    assert "schools/10001/index.html" not in changed
    assert_equals_a_fresh_build(warehouse.conn, site, tmp_path)
    # new rendering code: every page is rendered again, though no row changed
    monkeypatch.setattr(site_assets, "page_code_version", lambda: "the next release")
    before = files_of(site)
    build_site(warehouse.conn, site)
    changed = rewritten(before, files_of(site))
    assert {f"schools/{code}/index.html" for code in COLLEGES} <= changed
    assert {f"schools/{code}/warnings-2024.html" for code in COLLEGES} <= changed


def test_the_province_workbook_renders_only_the_changed_college_and_takes_the_others_rows_over(
    warehouse, tmp_path, monkeypatch
):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    ahead = warehouse.conn.execute(
        "select count(*) from mart.element_warnings where school_code = '10001' and year = 2024"
    ).fetchone()[0]
    # 10002 loses a row: the rows of 10003-10005 move up one row in the province's sheet
    warehouse.conn.execute(
        "delete from mart.element_warnings where school_code = '10002' and year = 2024 and element_code = '1.1'"
    )
    left = warehouse.conn.execute(
        "select count(*) from mart.element_warnings where school_code = '10002' and year = 2024"
    ).fetchone()[0]
    rendered = []
    render = exports.rows_xml

    def spy(rows, width, style, first_row=2):
        rendered.append((first_row, len(rows)))
        return render(rows, width, style, first_row)

    monkeypatch.setattr(exports, "rows_xml", spy)
    build_site(warehouse.conn, site)
    indicators = warehouse.conn.execute(
        "select count(*) from mart.indicator_warnings where school_code = '10002' and year = 2024"
    ).fetchone()[0]
    # the province's sheet renders 10002's rows at their place, its own workbook renders its two sheets: no more
    assert sorted(rendered) == sorted([(2 + ahead, left), (2, left), (2, indicators)])
    assert_equals_a_fresh_build(warehouse.conn, site, tmp_path)


def test_the_nightly_hands_the_province_workbook_over_to_be_written_while_the_run_goes_on(warehouse, tmp_path):
    site = tmp_path / "site"
    build_site(warehouse.conn, site)
    province = site / "province/downloads/warnings-2024.xlsx"
    before = content(province)
    warehouse.conn.execute(
        "delete from mart.element_warnings where school_code = '10002' and year = 2024 and element_code = '1.1'"
    )
    later = []
    exports.render_downloads(warehouse.conn, site, later=later.append)
    assert len(later) == 1  # the province's warnings workbook; the college's own is written at once
    assert content(province) == before  # not yet: the run publishes only after it is done
    later[0]()
    assert content(province) != before
    build_site(warehouse.conn, site)  # the other pages of the change; the workbook is now the ledger's
    assert_equals_a_fresh_build(warehouse.conn, site, tmp_path)
