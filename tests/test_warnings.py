"""Warning rules, each both ways; escalation across two years; 数据不足 never green; risk; the
DOMAIN.md §7 public 农林 example; the report page; one full materialisation."""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pytest

from indicator_fixtures import MiniWarehouse, typical_college
from pipelines.resources import WarehouseResource
from pipelines.sitebuild import site_build_path

YEAR = 2024
STUDENTS = 1080  # typical_college's 折合在校生
BOOKS = "books_per_student"


def books_for(per_student: float) -> int:
    return round(per_student * STUDENTS)


def one_college(books_per_student: float, school_type: str = "综合") -> MiniWarehouse:
    warehouse = MiniWarehouse()
    warehouse.school("10001", school_type)
    typical_college(warehouse, "10001", YEAR, books_total=books_for(books_per_student))
    warehouse.build()
    return warehouse


def test_the_typical_college_is_green_on_every_element_an_indicator_informs():
    warehouse = one_college(80)
    levels = dict(
        warehouse.conn.execute(
            "select element_code, level from mart.element_warnings where school_code = '10001'"
        ).fetchall()
    )
    assert len(levels) == 15
    # 1.4 信息系统 and 5.2 质量事故管控 cite tables but no indicator fits them; 5.3 and 5.4 cite none
    assert {code: level for code, level in levels.items() if level != "green"} == {
        "1.4": "no_indicator",
        "5.2": "no_indicator",
        "5.3": "no_coverage",
        "5.4": "no_coverage",
    }


def test_below_the_restricted_value_is_red_and_at_it_is_not():
    restricted = MiniWarehouse().threshold(BOOKS, "综合")["restricted_value"]
    below = one_college(restricted - 1).indicator_warning("10001", YEAR, BOOKS)
    assert below["level"] == "red" and below["below_restricted"]
    assert any(f"限制招生值{restricted:g}册" in reason for reason in below["reasons"])
    at = one_college(restricted).indicator_warning("10001", YEAR, BOOKS)
    assert not at["below_restricted"] and at["level"] == "yellow"


def test_below_the_qualified_value_is_yellow_and_at_it_is_green():
    threshold = MiniWarehouse().threshold(BOOKS, "综合")
    below = one_college(threshold["qualified_value"] - 1)
    verdict = below.indicator_warning("10001", YEAR, BOOKS)
    assert verdict["level"] == "yellow" and verdict["below_qualified"]
    sentence = next(reason for reason in verdict["reasons"] if "合格值" in reason)
    assert f"为{threshold['qualified_value'] - 1:.1f}册" in sentence and "表3.3 图书" in sentence
    for element in below.elements_of(BOOKS):
        assert below.element("10001", YEAR, element)["level"] == "yellow"
    at = one_college(threshold["qualified_value"]).indicator_warning("10001", YEAR, BOOKS)
    assert at["level"] == "green" and at["reasons"] == []


def test_a_lower_is_better_indicator_warns_above_its_threshold():
    warehouse = MiniWarehouse()
    warehouse.school("10001", "综合")
    typical_college(warehouse, "10001", YEAR)
    qualified = warehouse.threshold("student_teacher_ratio", "综合")["qualified_value"]
    # drop teachers until 折合在校生 ÷ 教师总数 exceeds the 合格 value
    warehouse.conn.execute("delete from raw.full_time_teachers where staff_no >= 'T045'")
    warehouse.build()
    verdict = warehouse.indicator_warning("10001", YEAR, "student_teacher_ratio")
    assert verdict["value"] > qualified and verdict["level"] == "yellow"
    assert any("高于合格值" in reason for reason in verdict["reasons"])


def peer_group(count: int, min_count: float | None = None) -> MiniWarehouse:
    """`count` 综合 colleges with 81, 82, … books per student (all above the 合格 value) and one 理工."""
    warehouse = MiniWarehouse()
    for i in range(count):
        code = f"2{i:04d}"
        warehouse.school(code, "综合")
        typical_college(warehouse, code, YEAR, books_total=books_for(81 + i))
    warehouse.school("29999", "理工")
    typical_college(warehouse, "29999", YEAR, books_total=books_for(70))
    warehouse.build(**({"peer_min_count": min_count} if min_count is not None else {}))
    return warehouse


def test_bottom_tenth_among_enough_same_type_peers_is_yellow():
    warehouse = peer_group(10)
    worst = warehouse.indicator_warning("20000", YEAR, BOOKS)
    assert worst["level"] == "yellow" and worst["in_peer_bottom"]
    assert any("在10所同类（综合）院校中排倒数第1" in reason for reason in worst["reasons"])
    second = warehouse.indicator_warning("20001", YEAR, BOOKS)
    assert second["level"] == "green" and not second["in_peer_bottom"]
    # the 理工 college is worse than every 综合 one but is not their peer
    assert warehouse.indicator_warning("29999", YEAR, BOOKS)["peer_count"] == 1


def test_no_peer_warning_below_the_minimum_peer_count():
    assert not peer_group(9).indicator_warning("20000", YEAR, BOOKS)["in_peer_bottom"]
    assert not peer_group(10, min_count=11).indicator_warning("20000", YEAR, BOOKS)["in_peer_bottom"]


def test_equal_values_put_nobody_in_the_bottom_tenth():
    warehouse = peer_group(10)
    flagged = warehouse.conn.execute(
        "select count(*) from mart.indicator_warnings where indicator_code = 'postgrad_teacher_share' and in_peer_bottom"
    ).fetchone()[0]
    assert flagged == 0


def history(books_by_year: dict[int, float], school_type: str = "综合") -> MiniWarehouse:
    warehouse = MiniWarehouse()
    warehouse.school("10001", school_type)
    for year, per_student in books_by_year.items():
        typical_college(warehouse, "10001", year, books_total=books_for(per_student))
    warehouse.build()
    return warehouse


def test_worsening_two_years_running_beyond_the_tolerance_is_yellow():
    # 100 → 93 → 87: each year more than 5 % worse, all above the 合格 value of 80
    warehouse = history({2022: 100, 2023: 93, 2024: 87})
    verdict = warehouse.indicator_warning("10001", 2024, BOOKS)
    assert verdict["worsening"] and verdict["level"] == "yellow"
    assert any("连续两年变差：2022年100.0册 → 2023年93.0册 → 2024年87.0册" in r for r in verdict["reasons"])
    assert not warehouse.indicator_warning("10001", 2023, BOOKS)["worsening"]


@pytest.mark.parametrize(
    "books_by_year",
    [
        {2022: 100, 2023: 93, 2024: 90},  # the second fall is 3 %, within the tolerance
        {2022: 100, 2023: 106, 2024: 99},  # up, then down
        {2021: 100, 2023: 93, 2024: 87},  # not consecutive years
    ],
)
def test_no_trend_warning_within_tolerance_or_without_two_consecutive_falls(books_by_year):
    verdict = history(books_by_year).indicator_warning("10001", 2024, BOOKS)
    assert not verdict["worsening"] and verdict["level"] == "green"


def test_a_yellow_below_the_qualified_value_two_years_running_escalates_after_its_cause():
    warehouse = history({2023: 79, 2024: 79})
    first = warehouse.indicator_warning("10001", 2023, BOOKS)
    second = warehouse.indicator_warning("10001", 2024, BOOKS)
    assert first["level"] == "yellow" and not first["escalated"]
    assert second["level"] == "red" and second["escalated"] and second["causes"] == ["persisting", "qualified"]
    assert second["reasons"][0].startswith(
        "生均图书为79.0册，低于合格值80册（连续两年低于合格值：2023年为79.0册，按规则升级为红色预警）"
    )
    for element in warehouse.elements_of(BOOKS):
        judged = warehouse.element("10001", 2024, element)
        assert judged["level"] == "red" and judged["is_escalated"] and judged["level_zh"] == "红"
        assert judged["driving_indicators"] == ["生均图书"] and judged["reasons"][0] == second["reasons"][0]
        assert not warehouse.element("10001", 2023, element)["is_escalated"]


@pytest.mark.parametrize("books_by_year", [{2023: 85, 2024: 79}, {2022: 79, 2024: 79}])
def test_no_escalation_without_yellow_in_the_year_before(books_by_year):
    warehouse = history(books_by_year)
    assert not warehouse.indicator_warning("10001", 2024, BOOKS)["escalated"]
    for element in warehouse.elements_of(BOOKS):
        assert warehouse.element("10001", 2024, element)["level"] == "yellow"


def test_a_trend_yellow_two_years_running_does_not_escalate():
    # 100 → 93 → 86.5 → 80.4: worse by more than 5 % each year, above the 合格 value of 80 throughout
    warehouse = history({2021: 100, 2022: 93, 2023: 86.5, 2024: 80.4})
    for year in (2023, 2024):
        verdict = warehouse.indicator_warning("10001", year, BOOKS)
        assert verdict["level"] == "yellow" and verdict["causes"] == ["trend"] and not verdict["escalated"], year


def test_a_peer_yellow_two_years_running_does_not_escalate():
    warehouse = MiniWarehouse()
    for i in range(10):
        code = f"2{i:04d}"
        warehouse.school(code, "综合")
        for year in (2023, 2024):
            typical_college(warehouse, code, year, books_total=books_for(81 + i))
    warehouse.build()
    for year in (2023, 2024):
        verdict = warehouse.indicator_warning("20000", year, BOOKS)
        assert verdict["level"] == "yellow" and verdict["causes"] == ["peer"] and not verdict["escalated"], year
    assert {warehouse.element("20000", 2024, element)["level"] for element in warehouse.elements_of(BOOKS)} == {
        "yellow"
    }


def test_an_exempt_indicator_meets_its_thresholds_and_says_why():
    warehouse = history({2024: 40})
    warehouse.conn.execute(
        "update mart.indicator_values set exempt = true, exempt_reason_zh = '测试豁免条件成立' "
        "where indicator_code = ?",
        [BOOKS],
    )
    from pipelines.sql import run_sql

    run_sql(
        warehouse.conn,
        "mart/indicator_warnings",
        {name: warehouse.rules[name] for name in ("peer_min_count", "peer_bottom_share", "trend_tolerance")},
    )
    verdict = warehouse.indicator_warning("10001", 2024, BOOKS)
    assert verdict["level"] == "green" and not verdict["below_restricted"] and not verdict["below_qualified"]
    assert any("测试豁免条件成立，按合格处理" in reason for reason in verdict["reasons"])


def test_insufficient_data_is_never_green():
    warehouse = MiniWarehouse()
    warehouse.school("10001")
    warehouse.school("10002")
    typical_college(warehouse, "10001", YEAR)
    typical_college(warehouse, "10002", YEAR)
    # worded as quality.element_data_status words it: the prefix is said once in the warning
    warehouse.element_status("10001", YEAR, "1.3", "insufficient", "数据不足：表8.7评教缺失")
    warehouse.element_status("10002", YEAR, "1.3", "sufficient")
    warehouse.element_status("10002", YEAR, "1.1", "insufficient", "表3.4无效")
    warehouse.build()
    judged = warehouse.element("10001", YEAR, "1.3")
    assert judged["level"] == "insufficient" and judged["level_zh"] == "数据不足"
    assert judged["reasons"][0] == "数据不足：表8.7评教缺失。"
    assert "数据不足：表3.4无效。" in warehouse.element("10002", YEAR, "1.1")["reasons"]
    assert warehouse.element("10002", YEAR, "1.3")["level"] == "green"


def test_a_warning_from_trusted_figures_still_shows_on_an_element_judged_insufficient():
    warehouse = MiniWarehouse()
    warehouse.school("10001")
    typical_college(warehouse, "10001", YEAR, books_total=books_for(40))
    warehouse.element_status("10001", YEAR, "4.1", "insufficient", "数据不足：表3.4无效")
    warehouse.build()
    element = warehouse.element("10001", YEAR, "4.1")
    assert element["level"] == "red" and element["data_status"] == "insufficient"
    # the cause first, naming its indicator; the data note after it
    assert element["driving_indicators"] == ["生均图书"] and "限制招生值" in element["reasons"][0]
    assert "数据不足：表3.4无效。" in element["reasons"]


def test_an_element_whose_indicators_all_lack_data_is_insufficient():
    warehouse = MiniWarehouse()
    warehouse.school("10001")
    typical_college(warehouse, "10001", YEAR)
    for table, code in (
        ("aid_coverage", "8.8"),
        ("daily_teaching_share", "5.2"),
        ("dormitory_area_per_student", "3.1"),
    ):
        warehouse.table_status("10001", YEAR, code, "invalid", f"{table} 测试")
    warehouse.build()
    element = warehouse.element("10001", YEAR, "4.2")
    assert element["level"] == "insufficient"
    assert warehouse.element("10001", YEAR, "1.3")["level"] == "green"


def test_elements_without_data_coverage_or_a_fitting_indicator_say_so_and_are_not_insufficient():
    warehouse = one_college(80)
    for code in ("5.3", "5.4"):
        element = warehouse.element("10001", YEAR, code)
        assert element["level"] == "no_coverage" and element["level_zh"] == "无数据覆盖" and not element["has_coverage"]
        assert element["reasons"][0].startswith("无数据覆盖：本要素的诊断点没有引用状态数据平台的数据表")
    information = warehouse.element("10001", YEAR, "1.4")
    assert information["level"] == "no_indicator" and information["level_zh"] == "无适用指标"
    assert information["has_coverage"] and information["indicator_count"] == 0
    assert information["reasons"][0].startswith("无适用指标：本要素的诊断点引用了表3.4、表8.1")


def test_every_element_of_every_college_has_a_level_and_a_college_that_sent_nothing_is_insufficient():
    warehouse = MiniWarehouse()
    for code in ("10001", "10002", "10003"):
        warehouse.school(code)
    typical_college(warehouse, "10001", YEAR)
    typical_college(warehouse, "10002", YEAR, books_total=books_for(40))
    warehouse.table_status("10003", YEAR, "6.1", "missing", "未提交")
    warehouse.build()
    grid = warehouse.conn.execute(
        "select school_code, count(*), count(level), list(distinct level) from mart.element_warnings group by 1 order by 1"
    ).fetchall()
    assert [(code, total, leveled) for code, total, leveled, _ in grid] == [
        ("10001", 15, 15),
        ("10002", 15, 15),
        ("10003", 15, 15),
    ]
    assert set(grid[2][3]) == {"insufficient", "no_indicator", "no_coverage"}


def test_school_risk_counts_each_flagged_indicator_once_and_ranks_the_riskiest_first():
    warehouse = MiniWarehouse()
    for code in ("10001", "10002", "10003"):
        warehouse.school(code)
    typical_college(warehouse, "10001", YEAR)
    typical_college(warehouse, "10002", YEAR, books_total=books_for(40))  # 生均图书 red
    typical_college(warehouse, "10003", YEAR, books_total=books_for(79))  # 生均图书 yellow
    warehouse.build()
    rules = warehouse.rules
    risk = {
        row["school_code"]: row
        for row in warehouse.conn.execute("select * from mart.school_risk").pl().iter_rows(named=True)
    }
    judged = warehouse.conn.execute("select count(distinct indicator_code) from ref.indicator_elements").fetchone()[0]
    for code, row in risk.items():
        levels = [
            level
            for (level,) in warehouse.conn.execute(
                "select level from mart.indicator_warnings where school_code = ?", [code]
            ).fetchall()
        ]
        weights = {
            "red": rules["weight_red"],
            "yellow": rules["weight_yellow"],
            "insufficient": rules["weight_insufficient"],
            "green": 0,
        }
        expected = 100 * sum(weights[level] for level in levels) / (rules["weight_red"] * judged)
        assert row["risk_score"] == pytest.approx(expected, abs=0.01) and row["judged_indicators"] == judged
    assert [risk[code]["rank"] for code in ("10002", "10003", "10001")] == [1, 2, 3]
    # 生均图书 informs two elements, both red; the score and the count take it once
    assert risk["10002"]["red_count"] == len(warehouse.elements_of(BOOKS)) == 2
    assert risk["10002"]["flagged_indicators"] == risk["10002"]["red_indicators"] == 1
    assert risk["10002"]["risk_score"] == pytest.approx(100 * 3 / (3 * judged), abs=0.01)
    assert risk["10002"]["flagged_zh"] == "生均图书（红）" and risk["10003"]["flagged_zh"] == "生均图书（黄）"
    assert risk["10001"]["risk_score"] == 0 and risk["10001"]["flagged_indicators"] == 0


def domain_example(warehouse: MiniWarehouse, school: str) -> None:
    """DOMAIN.md §7: a 农林 college with 生师比 19.24, 生均教学行政用房 14.13, 生均宿舍 4.93,
    新增设备比例 3.92 %, 生均图书 50 — on 1924 full-time students and 100 teachers."""
    warehouse.insert("students_enrolled", school, YEAR, [{"fulltime_total": 1924}])
    # 20 硕士 and 25 副高 of the 100 teachers keep the other teacher indicators above their 合格 values
    warehouse.insert(
        "full_time_teachers",
        school,
        YEAR,
        [
            {
                "staff_no": f"T{i:03d}",
                "highest_degree": "硕士" if i < 20 else "学士",
                "title_level": "副高级" if i < 25 else "中级",
            }
            for i in range(100)
        ],
    )
    warehouse.insert(
        "campus_area",
        school,
        YEAR,
        [{"teaching_research_area": 14.13 * 1924 - 2000, "admin_office_area": 2000, "dormitory_area": 4.93 * 1924}],
    )
    warehouse.insert("teaching_equipment", school, YEAR, [{"equipment_value": 1039.2, "equipment_value_new": 39.2}])
    warehouse.insert("library_holdings", school, YEAR, [{"books_total": 50 * 1924, "books_new": 0}])


def test_the_public_farming_college_example_gets_the_warnings_its_figures_call_for():
    warehouse = MiniWarehouse()
    warehouse.school("14001", "农林")
    domain_example(warehouse, "14001")
    warehouse.build()
    figures = {
        "student_teacher_ratio": ("19.24", "高于合格值18"),
        "teaching_admin_area_per_student": ("14.13平方米", "低于合格值16平方米"),
        "dormitory_area_per_student": ("4.93平方米", "低于合格值6.5平方米"),
        "new_equipment_share": ("3.92%", "低于合格值10%"),
        "books_per_student": ("50.0册", "低于合格值60册"),
    }
    for code, (value_zh, against) in figures.items():
        verdict = warehouse.indicator_warning("14001", YEAR, code)
        assert verdict["level"] == "yellow" and verdict["below_qualified"] and not verdict["below_restricted"], code
        assert any(f"为{value_zh}，{against}" in reason for reason in verdict["reasons"]), verdict["reasons"]
        elements = warehouse.elements_of(code)
        assert elements, code
        for element in elements:
            judged = warehouse.element("14001", YEAR, element)
            assert judged["level"] == "yellow", (code, element)
            assert any(value_zh in reason for reason in judged["reasons"]), (code, element)
    # the 农林 合格 values are read in the cited table (confirmed): the reasons say nothing about confidence
    area = warehouse.indicator_warning("14001", YEAR, "teaching_admin_area_per_student")["reasons"]
    ratio = warehouse.indicator_warning("14001", YEAR, "student_teacher_ratio")["reasons"]
    assert not any("未经核实" in reason for reason in area + ratio)
    # none of the five basic indicators is below its 限制招生 value: no 黄牌/红牌, but not 合格 either
    card = warehouse.conn.execute(
        "select card, deciding_indicators from mart.college_card where school_code = '14001' and year = ?", [YEAR]
    ).fetchone()
    assert card == ("未达合格", ["student_teacher_ratio", "teaching_admin_area_per_student", "books_per_student"])
    # the elements their meaning fits: 宿舍 → 4.2 成长环境 (生活环境), 生师比 → 专业条件保障 and 师资
    assert {"4.2", "5.1"} == set(warehouse.elements_of("dormitory_area_per_student"))
    assert {"2.1", "3.1", "3.2"} == set(warehouse.elements_of("student_teacher_ratio"))


def test_the_report_page_is_offline_chinese_grouped_and_has_the_attention_switch(tmp_path):
    from assets.site import write_warning_reports

    warehouse = history({2023: 79, 2024: 79})
    pages = write_warning_reports(warehouse.conn, tmp_path)
    assert pages == 2
    page = (tmp_path / "schools" / "10001" / "warnings-2024.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<article class="element level-', page)) == 15
    assert len(re.findall(r'<section class="item', page)) == 5
    assert 'id="attention-only"' in page and "只显示需要关注的要素" in page
    assert "body.attention-only .element.level-green" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "连续两年低于合格值：2023年为79.0册，按规则升级为红色预警" in page
    assert "预警指标：生均图书" in page and "无数据覆盖" in page and "无适用指标" in page
    earlier = (tmp_path / "schools" / "10001" / "warnings-2023.html").read_text(encoding="utf-8")
    assert "升级为红色预警" not in earlier


def test_the_mart_and_report_assets_materialise(tmp_path, zhengai_home):
    from assets import site
    from pipelines.definitions import layer_assets
    from pipelines.resources import RunOptions

    (zhengai_home / "registry").mkdir()
    (zhengai_home / "registry" / "schools.csv").write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
        "14001,广西示例农林职业技术学院,农林,公办,active,,2000,\n"
        "10001,广西示例职业学院,综合,公办,active,,2000,\n",
        encoding="utf-8",
    )
    work = tmp_path / "work.duckdb"
    staging = MiniWarehouse()
    domain_example(staging, "14001")
    typical_college(staging, "10001", YEAR)
    staging.element_status("14001", YEAR, "1.3", "insufficient", "表8.7缺失")
    staging.conn.execute(f"attach '{work}' as target")
    for schema in ("raw", "quality"):
        staging.conn.execute(f"create schema target.{schema}")
        for (table,) in staging.conn.execute(
            "select table_name from duckdb_tables() where database_name = 'memory' and schema_name = ?", [schema]
        ).fetchall():
            staging.conn.execute(f'create table target.{schema}."{table}" as select * from {schema}."{table}"')
    staging.conn.execute("detach target")
    resource = WarehouseResource(path=str(work), published_path=str(tmp_path / "pub.duckdb"))
    assets = [*layer_assets("ref"), *layer_assets("mart"), site.warning_reports]
    result = dg.materialize(assets, resources={"warehouse": resource, "run_options": RunOptions(as_of="2024-12-01")})
    assert result.success
    with duckdb.connect(str(work), read_only=True) as conn:
        assert conn.sql("select count(*) from mart.element_warnings").fetchone()[0] == 30
        assert conn.sql("select count(*) from mart.school_risk").fetchone()[0] == 2
    assert (site_build_path(result.run_id) / "schools" / "14001" / "warnings-2024.html").is_file()


def test_report_pages_of_years_no_longer_warned_about_are_removed(tmp_path):
    from assets.site import write_warning_reports

    warehouse = MiniWarehouse()
    typical_college(warehouse, "10001", 2023)
    typical_college(warehouse, "10001", 2024)
    warehouse.build()
    site = tmp_path / "site"
    assert write_warning_reports(warehouse.conn, site) == 2
    warehouse.conn.execute("delete from mart.element_warnings where year = 2023")
    assert write_warning_reports(warehouse.conn, site) == 1
    assert sorted(path.name for path in (site / "schools" / "10001").iterdir()) == ["warnings-2024.html"]
