"""The static site: college dashboards, province overview, plotly.js shipped once, confidentiality."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets import site as site_assets
from assets.site import load_site_inputs, write_college_dashboards, write_province_overview
from dashboards.college import peer_bands
from dashboards.common import bundled_plotly_js, write_plotly_js
from pipelines.resources import WarehouseResource
from pipelines.settings import get_settings
from pipelines.sitebuild import site_build_path
from site_fixtures import (
    add_issue,
    add_school,
    add_table_status,
    add_warning,
    create_input_tables,
    fixture_warehouse,
    populate_province,
    rebuild_school_risk,
    school_code,
    school_name,
)

YEARS = [2022, 2023, 2024]
# 12 综合 colleges (enough for a peer band at the default minimum of 10) and 3 体育 (too few).
TYPES = ["综合"] * 12 + ["体育"] * 3


def foreign_mentions(folder: Path, own_code: str, schools: pl.DataFrame) -> list[str]:
    """Every other college's code or name found in any file under `folder`."""
    found = []
    texts = {path: path.read_text(encoding="utf-8") for path in folder.rglob("*") if path.is_file()}
    for row in schools.iter_rows(named=True):
        if row["school_code"] == own_code:
            continue
        for needle in (row["school_code"], row["name_zh"]):
            found += [f"{path.name}: {needle}" for path, content in texts.items() if needle in content]
    return found


@pytest.fixture
def province(tmp_path):
    conn = fixture_warehouse()
    codes = populate_province(conn, len(TYPES), YEARS, seed=7, school_types=TYPES)
    site = tmp_path / "site"
    inputs = load_site_inputs(conn)
    written = write_college_dashboards(inputs, site)
    write_province_overview(inputs, site)
    yield conn, site, codes, inputs, written
    conn.close()


def test_site_has_a_page_per_college_and_the_province_overview(province):
    _conn, site, codes, _, written = province
    assert sorted(written) == codes
    for code in codes:
        page = (site / "schools" / code / "index.html").read_text(encoding="utf-8")
        assert school_name(int(code) - 90001) in page
        assert '<script src="../../assets/plotly.min.js"' in page
    overview = (site / "province" / "index.html").read_text(encoding="utf-8")
    assert '<script src="../assets/plotly.min.js"' in overview


def test_college_folders_name_no_other_college(province):
    _conn, site, codes, inputs, _ = province
    for code in codes:
        folder = site / "schools" / code
        assert foreign_mentions(folder, code, inputs.schools) == []
        own = (folder / "index.html").read_text(encoding="utf-8")
        assert code in own and inputs.schools.filter(pl.col("school_code") == code)["name_zh"][0] in own


def test_the_confidentiality_scan_finds_names_where_they_are(province):
    """The scan is not vacuous: the secretariat's page names every college, and the scan says so."""
    _conn, site, codes, inputs, _ = province
    found = foreign_mentions(site / "province", codes[0], inputs.schools)
    assert len(found) >= 2 * (len(codes) - 1)


def test_pages_load_nothing_from_the_network(province):
    _conn, site, codes, _, _ = province
    for page in [site / "province" / "index.html", *(site / "schools" / code / "index.html" for code in codes)]:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', html), page
        assert "cdn.plot.ly" not in html


def test_college_page_is_light(province):
    _conn, _site, _codes, _, written = province
    assert max(written.values()) < 300_000


def test_plotly_js_is_the_installed_bundle(tmp_path):
    target = write_plotly_js(tmp_path / "site")
    assert target == tmp_path / "site" / "assets" / "plotly.min.js"
    assert target.read_bytes() == bundled_plotly_js().read_bytes()


def single_college(conn, school_type: str = "综合") -> str:
    create_input_tables(conn)
    code = school_code(0)
    add_school(conn, code, school_name(0), school_type)
    for element in conn.execute("select element_code from ref.diagnostic_elements").fetchall():
        add_warning(conn, code, 2024, element[0], "green", ["未触发预警的指标：全部达标。"])
    return code


def college_page(conn, site: Path, code: str) -> str:
    rebuild_school_risk(conn)
    write_college_dashboards(load_site_inputs(conn), site)
    return (site / "schools" / code / "index.html").read_text(encoding="utf-8")


def test_each_grid_cell_leads_to_its_reasons(tmp_path):
    conn = fixture_warehouse()
    code = single_college(conn)
    conn.execute("delete from mart.element_warnings where element_code = '2.3'")
    add_warning(conn, code, 2024, "2.3", "red", ["实践教学学时占比 38% 低于限制招生值 40%。"])
    page = college_page(conn, tmp_path, code)
    cell = re.search(r'<td class="cell level-red"><a href="#r-2024-2\.3"[^>]*>红</a>', page)
    assert cell, "the red cell of 2.3 links to its reasons"
    reasons = re.search(r'<article class="level-red" id="r-2024-2\.3">(.*?)</article>', page, re.S)
    assert reasons and "实践教学学时占比 38% 低于限制招生值 40%。" in reasons.group(1)
    assert 'href="warnings-2024.html#element-2.3"' in reasons.group(1)
    assert len(re.findall(r'<td class="cell level-green">', page)) == 14


def test_no_coverage_and_no_indicator_cells_look_unlike_insufficient_data(tmp_path):
    from dashboards.common import LEVEL_COLOURS
    from dashboards.province import discrete_colourscale

    conn = fixture_warehouse()
    code = single_college(conn)
    conn.execute("delete from mart.element_warnings where element_code in ('1.4', '2.3', '5.3')")
    add_warning(conn, code, 2024, "1.4", "no_indicator", ["无适用指标：……"])
    add_warning(conn, code, 2024, "2.3", "insufficient", ["数据不足：表7.2无效。"])
    add_warning(conn, code, 2024, "5.3", "no_coverage", ["无数据覆盖：……"])
    page = college_page(conn, tmp_path, code)
    assert re.search(r'<td class="cell level-no_coverage"><a href="#r-2024-5\.3"[^>]*>无数据覆盖</a>', page)
    assert re.search(r'<td class="cell level-no_indicator"><a href="#r-2024-1\.4"[^>]*>无适用指标</a>', page)
    assert re.search(r'<td class="cell level-insufficient"><a href="#r-2024-2\.3"[^>]*>数据不足</a>', page)
    assert ".level-no_coverage {" in page and ".level-no_indicator {" in page
    colours = {LEVEL_COLOURS[level] for level in ("insufficient", "no_indicator", "no_coverage")}
    assert len(colours) == 3 and colours <= {colour for _, colour in discrete_colourscale()}


def test_reasons_are_escaped(tmp_path):
    conn = fixture_warehouse()
    code = single_college(conn)
    conn.execute("delete from mart.element_warnings where element_code = '1.1'")
    add_warning(conn, code, 2024, "1.1", "yellow", ["<script>alert(1)</script>"])
    page = college_page(conn, tmp_path, code)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_quality_panel_says_what_to_fix(tmp_path):
    conn = fixture_warehouse()
    code = single_college(conn)
    add_table_status(conn, code, 2024, "6.1", "invalid", "教工号重复")
    add_table_status(conn, code, 2024, "9.2", "missing", "")
    add_table_status(conn, code, 2024, "3.3", "ok", "")
    add_issue(conn, code, 2024, "6.1", "error", 2, "教工号 T001 重复出现（第5、9行）")
    page = college_page(conn, tmp_path, code)
    panel = page.split("<h2>数据质量</h2>", 1)[1].split("<h2>", 1)[0]
    assert "共 3 张表" in panel
    assert "数据无效：请按下列问题修正后重新报送。" in panel and "教工号 T001 重复出现（第5、9行）（2 处）" in panel
    assert "未报送：请补报该表。" in panel
    assert 'href="quality-2024.html"' in panel


def test_quality_panel_of_a_clean_college(tmp_path):
    conn = fixture_warehouse()
    code = single_college(conn)
    add_table_status(conn, code, 2024, "6.1", "ok", "")
    add_table_status(conn, code, 2024, "9.3", "optional_absent", "选填表，未提交（不影响预警）")
    panel = college_page(conn, tmp_path, code).split("<h2>数据质量</h2>", 1)[1].split("<h2>", 1)[0]
    # an optional table not delivered is counted, never listed as something to send
    assert "所有数据表均正常" in panel and "请补报" not in panel and "表9.3" not in panel
    assert "选填未报 1 张" in panel


def test_peer_band_needs_the_minimum_number_of_colleges():
    values = pl.DataFrame(
        {
            "school_code": [f"9{i:04d}" for i in range(5)],
            "year": [2024] * 5,
            "indicator_code": ["books_per_student"] * 5,
            "value": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    schools = pl.DataFrame({"school_code": values["school_code"], "school_type": ["综合"] * 5})
    assert peer_bands(values, schools, min_count=6).height == 0
    band = peer_bands(values, schools, min_count=5).row(0, named=True)
    assert band["peer_count"] == 5
    assert band["p50"] == 30.0 and band["p25"] == 20.0 and band["p10"] == pytest.approx(14.0)


def peer_file(site: Path, page: str) -> Path:
    """The peer file a college page loads (its school type's bands, shared by every page of the type)."""
    (src,) = re.findall(r'<script src="\.\./\.\./(assets/peers/[^"]+)"', page)
    return site / src


def test_peer_band_drawn_for_many_peers_and_hidden_for_few(province):
    _conn, site, codes, inputs, _ = province
    many = (site / "schools" / codes[0] / "index.html").read_text(encoding="utf-8")
    few = (site / "schools" / codes[-1] / "index.html").read_text(encoding="utf-8")
    assert inputs.schools.filter(pl.col("school_code") == codes[-1])["school_type"][0] == "体育"
    many_bands, few_bands = (peer_file(site, page).read_text(encoding="utf-8") for page in (many, few))
    assert '"peer_count":12' in many_bands and '"p90":' in many_bands
    assert '"bands":{}' in few_bands
    assert peer_file(site, many) == peer_file(site, (site / "schools" / codes[1] / "index.html").read_text("utf-8"))
    assert "同类院校少于 10 所" in few
    assert '"type":"box"' not in many, "the bands live in the shared peer file, not in the page"


def test_province_ranks_colleges_and_links_their_pages(province):
    _conn, site, codes, inputs, _ = province
    overview = (site / "province" / "index.html").read_text(encoding="utf-8")
    top = inputs.risk.filter(pl.col("year") == 2024).sort("rank", "school_code").row(0, named=True)
    first_row = overview.split("<th>报告</th></tr>", 1)[1].split("</tr>", 1)[0]
    assert f'href="../schools/{top["school_code"]}/index.html"' in first_row
    for code in codes:
        assert f"../schools/{code}/index.html" in overview
    assert 'id="province-heatmap"' in overview and 'id="province-completeness"' in overview
    assert "无数据覆盖" in overview and "无适用指标" in overview  # the heat map's legend


def test_the_heat_map_is_the_figure_plotly_itself_would_give(province):
    """The heat map and the completeness bars (a row per college) are built as plain dicts, not validated in plotly's
    figure objects: each must be the dict (in the same key order, so the same page bytes) plotly's validation gives."""
    import json

    import plotly.graph_objects as go

    from dashboards.common import TABLE_STATUS_ZH
    from dashboards.province import build_completeness_figure, build_heatmap_figure, ranking_order

    _conn, _site, codes, inputs, _ = province
    colleges = ranking_order(inputs.risk, inputs.warnings, YEARS[-1])
    names = dict(inputs.schools.select("school_code", "name_zh").iter_rows())
    elements = inputs.reference.elements.sort("element_code")["element_code"].to_list()
    figure = build_heatmap_figure(inputs.warnings, colleges, elements, YEARS, names)
    assert len(figure["data"][0]["y"]) == len(codes) and len(figure["layout"]["updatemenus"][0]["buttons"]) == 3
    completeness = build_completeness_figure(inputs.table_status, colleges, YEARS[-1], names)
    assert len(completeness["data"]) == len(TABLE_STATUS_ZH) and completeness["data"][0]["y"] == figure["data"][0]["y"]
    for built in (figure, completeness):
        validated = go.Figure(built).to_dict()
        assert json.dumps(built, ensure_ascii=False) == json.dumps(validated, ensure_ascii=False)


def test_the_province_ranking_names_each_cause_once_with_the_elements_it_reaches():
    from dashboards.province import top_reasons

    cause = "生师比为19.24，高于合格值18（连续两年高于合格值：2023年为19.50，按规则升级为红色预警）。"
    warnings = pl.DataFrame(
        {
            "school_code": ["1"] * 4,
            "year": [2024] * 4,
            "element_code": ["2.1", "3.1", "3.2", "4.1"],
            "level": ["red", "red", "red", "yellow"],
            "reasons": [[cause], [cause], [cause], ["生均图书为70.0册，低于合格值80册。"]],
        }
    )
    lines = top_reasons(warnings, 2024)["1"]
    assert [(line["sentence"], line["elements"]) for line in lines] == [
        (cause, ["2.1", "3.1", "3.2"]),
        ("生均图书为70.0册，低于合格值80册。", ["4.1"]),
    ]


def test_site_assets_materialise(tmp_path):
    path = tmp_path / "work.duckdb"
    conn = fixture_warehouse(path)
    codes = populate_province(conn, 3, YEARS, seed=1, school_types=["理工"])
    conn.close()
    result = dg.materialize(
        [site_assets.plotly_js, site_assets.college_dashboards, site_assets.province_overview],
        resources={"warehouse": WarehouseResource(path=str(path))},
    )
    assert result.success
    site = site_build_path(result.run_id)  # published with the warehouse by the run's last step
    assert not get_settings().site.exists()
    assert (site / "assets" / "plotly.min.js").is_file()
    assert (site / "province" / "index.html").is_file()
    assert all((site / "schools" / code / "index.html").is_file() for code in codes)


def test_a_rebuild_removes_the_dashboard_of_a_college_that_left_and_keeps_the_others(province):
    conn, site, codes, _inputs, _written = province
    gone, kept = codes[0], codes[1]
    conn.execute("delete from mart.element_warnings where school_code = ?", [gone])
    write_college_dashboards(load_site_inputs(conn), site)
    assert not (site / "schools" / gone / "index.html").exists()
    assert (site / "schools" / kept / "index.html").is_file()


def test_the_official_card_is_shown_apart_from_the_element_colours(province):
    _conn, site, codes, inputs, _ = province
    cards = {(row["school_code"], row["year"]): row["card"] for row in inputs.cards.iter_rows(named=True)}
    for code in codes:
        page = (site / "schools" / code / "index.html").read_text(encoding="utf-8")
        assert "办学条件黄牌/红牌（教发〔2004〕2号）" in page and "要素预警" in page
        latest = cards[(code, YEARS[-1])]
        label = {"限制招生": "限制招生（办学条件黄牌）", "暂停招生": "暂停招生（办学条件红牌）"}.get(latest, latest)
        assert label in page
    overview = (site / "province" / "index.html").read_text(encoding="utf-8")
    carded = [code for (code, year), card in cards.items() if year == YEARS[-1] and card in ("限制招生", "暂停招生")]
    assert carded, "the fixture should card at least one college in the latest year"
    section = overview[overview.index(f"{YEARS[-1]}年办学条件黄牌/红牌") :]
    for code in carded:
        assert school_name(int(code) - 90001) in section


def test_an_unconfirmed_threshold_line_says_so(province):
    from dashboards.college import threshold_lines

    _, _, _, inputs, _ = province
    threshold = inputs.thresholds.filter(
        (pl.col("indicator_code") == "books_per_student") & (pl.col("school_type") == "综合")
    ).row(0, named=True)
    names = [line["name"] for line in threshold_lines(threshold)]
    # 综合 合格 80 is read in the cited table; no 高职 限制招生 value is confirmed
    assert names == ["合格值", "限制招生值（未核实）"]
    assert [line["name"] for line in threshold_lines({**threshold, "restricted_confidence": "confirmed"})] == [
        "合格值",
        "限制招生值",
    ]
