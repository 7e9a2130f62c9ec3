"""The quality assets in Dagster (asset checks included) and the data-quality report pages."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from assets import site as site_assets
from dashboards.quality_report import issue_rows_html
from pipelines.catalog import load_catalog
from pipelines.definitions import layer_assets
from pipelines.quality.asset_checks import build_asset_checks
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.sitebuild import site_build_path
from quality_fixtures import QualityWarehouse, clean_rows

YEAR = 2024
GOOD, BAD, LATE = "13001", "13002", "13003"
NAMES = {GOOD: "广西甲等职业技术学院", BAD: "广西乙等职业技术学院", LATE: "广西丙等职业技术学院"}


def province(path) -> None:
    w = QualityWarehouse(path)
    for code, name in NAMES.items():
        w.add_school(code, name)
    for code in NAMES:
        w.deliver(code, 2023)
    w.deliver(GOOD, YEAR)
    teachers = clean_rows(w.table("6.1"), YEAR)
    teachers[1]["staff_no"] = teachers[0]["staff_no"]
    w.deliver(BAD, YEAR, rows={"6.1": teachers}, skip=("7.1",))
    w.conn.execute(
        "update raw.ingest_log set coercion_failures = 2 where school_code = ? and year = 2023 and table_code = '6.2'",
        [LATE],
    )
    w.conn.close()


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """One run of the quality assets and their checks, shared by the tests of this module."""
    home = tmp_path_factory.mktemp("home")
    path = home / "work.duckdb"
    province(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        result = materialize(home, path)
        yield result, site_build_path(result.run_id)  # the run's site build (published by the last step)


def materialize(tmp_path, path):
    result = dg.materialize(
        [
            *layer_assets("quality"),
            site_assets.college_quality_reports,
            site_assets.province_quality_report,
            *build_asset_checks(),
        ],
        resources={
            "warehouse": WarehouseResource(path=str(path), published_path=str(tmp_path / "pub.duckdb")),
            "run_options": RunOptions(as_of="2024-12-01"),
        },
        selection=dg.AssetSelection.all() | dg.AssetSelection.all_asset_checks(),
        raise_on_error=True,
    )
    return result


def test_quality_assets_materialize_and_checks_report_without_failing_the_run(materialized):
    result, _site = materialized
    assert result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    suite = evaluations[("raw/full_time_teachers", "expectation_suite")]
    assert not suite.passed and suite.severity == dg.AssetCheckSeverity.WARN
    assert suite.metadata["colleges_with_errors"].value == 1
    assert evaluations[("raw/courses", "expectation_suite")].passed
    assert "| 13002 | 2024 | 1 | 2 |" in suite.metadata["worst_colleges"].value  # one duplicate 教工号, two rows
    # 13002 lacks 7.1, 13003 every required table of 2024
    required = sum(table.required for table in load_catalog().tables)
    completeness = evaluations[("raw/ingest_log", "completeness")]
    assert not completeness.passed and completeness.metadata["colleges_with_errors"].value == 2
    assert completeness.metadata["error_issues"].value == required + 1
    worst = completeness.metadata["worst_colleges"].value
    assert worst.index(f"| 13003 | 2024 | {required} |") < worst.index("| 13002 | 2024 | 1 |")
    staleness = evaluations[("raw/ingest_log", "staleness")]  # 13003's latest data are 2023's
    assert not staleness.passed and staleness.metadata["colleges_with_errors"].value == 1
    assert "| 13003 | 2024 | 1 |" in staleness.metadata["worst_colleges"].value
    readability = evaluations[("raw/ingest_log", "readability")]  # 13003's unreadable cells: a warning only
    assert readability.passed and readability.metadata["warn_issues"].value == 1
    assert evaluations[("raw/funding_expenditure", "consistency")].passed
    assert len(evaluations) == 32 + 5


def test_the_checks_run_in_one_step(materialized):
    result, _site = materialized
    steps = {event.step_key for event in result.all_events if event.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert steps == {"quality_checks"}


def test_one_check_runs_alone_and_reports_only_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHENGAI_HOME", str(tmp_path))
    path = tmp_path / "work.duckdb"
    province(path)
    key = dg.AssetCheckKey(dg.AssetKey(["raw", "full_time_teachers"]), "expectation_suite")
    result = dg.materialize(
        [*layer_assets("quality"), *build_asset_checks()],
        resources={
            "warehouse": WarehouseResource(path=str(path), published_path=str(tmp_path / "pub.duckdb")),
            "run_options": RunOptions(as_of="2024-12-01"),
        },
        selection=dg.AssetSelection.assets(dg.AssetKey(["quality", "issues"])) | dg.AssetSelection.checks(key),
        raise_on_error=True,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.asset_key, evaluation.check_name) == (key.asset_key, key.name) and not evaluation.passed


def test_asset_checks_are_wired_into_the_code_location():
    from pipelines.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    keys = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert {"raw/full_time_teachers", "raw/courses", "raw/ingest_log"} <= keys
    assert {
        "quality/issues",
        "quality/table_status",
        "quality/element_data_status",
        "site/college_quality_reports",
        "site/province_quality_report",
    } <= {key.to_user_string() for key in definitions.resolve_all_asset_keys()}


def test_each_college_report_holds_only_its_own_data(materialized):
    _, site = materialized
    for code, name in NAMES.items():
        folder = site / "schools" / code
        pages = sorted(path.name for path in folder.iterdir())
        assert pages == ["quality-2023.html", "quality-2024.html", "quality.html"]
        others = [other for other in NAMES if other != code] + [NAMES[o] for o in NAMES if o != code]
        for page in folder.iterdir():
            html = page.read_text(encoding="utf-8")
            assert name in html
            assert not [other for other in others if other in html], page
            assert "cdn" not in html.lower() and "http" not in html


def test_a_college_report_says_which_file_and_row_and_what_to_fix(materialized):
    _, site = materialized
    html = (site / "schools" / BAD / f"quality-{YEAR}.html").read_text(encoding="utf-8")
    assert "表6.1 校内专任教师 第 4、5 行 教工号重复" in html
    assert f"{BAD}/{YEAR}/表6.1 校内专任教师.xlsx" in html
    assert "请核对后删除重复行或改正后重新导出" in html
    assert "未提交必填表7.1 专业设置" in html
    assert "数据不足" in html and "无数据覆盖" in html
    clean = (site / "schools" / GOOD / f"quality-{YEAR}.html").read_text(encoding="utf-8")
    assert "本年度所有数据表均未发现问题" in clean
    late = (site / "schools" / LATE / f"quality-{YEAR}.html").read_text(encoding="utf-8")
    assert "全校性问题" in late and "本校最新数据为 2023 年" in late
    # Warnings are folded away (shown open when a table has nothing worse).
    warned = (site / "schools" / LATE / "quality-2023.html").read_text(encoding="utf-8")
    assert "<details open><summary>提醒 1 项" in warned and "2 个单元格无法按规定格式识别" in warned


def test_the_province_summary_shows_complete_late_and_failing_tables(materialized):
    _, site = materialized
    html = (site / "province" / "quality.html").read_text(encoding="utf-8")
    for name in NAMES.values():
        assert name in html
    assert "未提交本年度数据" in html  # 13003
    assert "完整" in html and "不完整" in html
    assert "表6.1 校内专任教师" in html and "表7.1 专业设置" in html
    assert f'href="../schools/{BAD}/quality-{YEAR}.html"' in html


def test_a_report_lists_a_capped_number_of_problems_per_table():
    issues = pl.DataFrame(
        {
            "severity": ["error"] * 120,
            "message_zh": [f"问题{i}" for i in range(120)],
            "source_file": ["f.xlsx"] * 120,
            "failed_count": [1] * 120,
        }
    )
    html = issue_rows_html(issues, 50)
    assert html.count("<tr>") == 51 and "问题49" in html and "问题50" not in html
    assert "另有 70 项问题未在本页列出" in html


def test_an_empty_warehouse_gives_a_province_page_saying_so():
    from dashboards.quality_report import QualityReference, build_province_quality_page

    reference = QualityReference(
        tables=pl.DataFrame({"table_code": ["6.1"], "name_zh": ["校内专任教师"], "required": [True]}),
        elements=pl.DataFrame({"element_code": ["1.1"], "element_name": ["x"]}),
        as_of=dt.date(2024, 12, 1),
        current_year=2024,
        deadlines={},
        issues_per_table=50,
    )
    empty = pl.DataFrame(
        schema={
            "school_code": pl.String,
            "year": pl.Int32,
            "table_code": pl.String,
            "status": pl.String,
            "reasons_zh": pl.String,
        }
    )
    html = build_province_quality_page(reference, pl.DataFrame({"school_code": [], "name_zh": []}), empty, empty)
    assert "暂无数据质量检查结果" in html


def test_a_rebuild_removes_quality_pages_of_years_and_colleges_no_longer_checked(materialized):
    import duckdb

    _, site = materialized
    stale = [site / "schools" / GOOD / "quality-2019.html", site / "schools" / "19999" / "quality.html"]
    for page in stale:
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("旧页面", encoding="utf-8")
    conn = duckdb.connect(str(site.parents[1] / "work.duckdb"), read_only=True)  # home/site-builds/<build>
    try:
        reference = site_assets.load_reference(conn, RunOptions(as_of="2024-12-01"))
        site_assets.write_college_reports(reference, site_assets.load_colleges(conn), site)
    finally:
        conn.close()
    assert not any(page.exists() for page in stale)
    assert (site / "schools" / GOOD / f"quality-{YEAR}.html").is_file()
    assert (site / "schools" / GOOD / "quality.html").is_file()
