"""Indicators: each on a hand-computed college, empty denominators, the data-quality exclusion,
the external-teacher cap, and the indicator → element catalog."""

from __future__ import annotations

import csv
import re

import polars as pl
import pytest

from indicator_fixtures import MiniWarehouse, rows, typical_college
from pipelines.settings import REFERENCE_DIR

SCHOOL, EMPTY, YEAR = "10001", "10002", 2024

# (indicator, numerator, denominator, value), worked out by hand from typical_college (教发〔2004〕2号 测算办法):
# 折合在校生 = 1000 高职 + 5 留学生×3 + 5 预科 + 10 进修 + 20 成人脱产 + 50 夜大×0.3 + 150 函授×0.1 = 1080;
# 全日制在校生 = 1000 + 5 + 5 + 10 + 20 = 1040; 全日制高职在校生 = 1000;
# 教师总数 (default reading: cap the converted number) = 60 专任 + min((20 + 2 校外) × 0.5 = 11, ¼×60 = 15) = 71.
HAND_COMPUTED = [
    ("student_teacher_ratio", 1080, 71, 1080 / 71),
    ("postgrad_teacher_share", 12, 60, 20.0),
    ("senior_title_share", 12, 60, 20.0),
    ("double_qualified_share", 30, 60, 50.0),
    # 20×150 校外兼职 hours over 60×400 + 5×100 + 20×150 + 2×50 = 27600 hours
    ("external_teaching_share", 3000, 27600, 3000 / 27600 * 100),
    ("teaching_admin_area_per_student", 14560, 1040, 14.0),  # (12000 + 2560) ÷ 全日制 1040
    ("dormitory_area_per_student", 6760, 1040, 6.5),  # ÷ 全日制在校生, not 全日制高职在校生
    ("equipment_value_per_student", 5_940_000, 1080, 5500.0),
    ("new_equipment_share", 54, 540, 10.0),
    ("books_per_student", 86_400, 1080, 80.0),
    ("new_books_per_student", 3_240, 1080, 3.0),
    ("computers_per_100_students", 104, 1040, 10.0),  # ÷ 全日制在校生 × 100
    ("land_area_per_student", 62_400, 1040, 60.0),
    ("multimedia_seats_per_100_students", 832, 1040, 80.0),  # (780 多媒体 + 52 语音室) ÷ 1040 × 100
    ("workstations_per_student", 500, 1000, 0.5),
    ("practice_hours_share", 100, 200, 50.0),
    ("industry_course_share", 1, 4, 25.0),
    ("internship_relevance_rate", 120, 150, 80.0),
    ("enrolment_report_rate", 360, 400, 90.0),
    ("employment_rate", 270, 300, 90.0),
    ("employment_relevance_rate", 216, 270, 80.0),
    ("fiscal_appropriation_per_student", 12_960_000, 1080, 12000.0),
    ("daily_teaching_share", 1000, 5000, 20.0),
    ("evaluation_good_share", 8, 10, 80.0),
    ("aid_coverage", 200, 1000, 20.0),
    ("leader_lectures_per_leader", 40, 4, 10.0),
    ("management_staff_per_100_students", 15, 1000, 1.5),
    ("quality_documents", 3, None, 3.0),
]


def catalog_codes() -> list[str]:
    with open(REFERENCE_DIR / "indicators.csv", encoding="utf-8", newline="") as handle:
        return [row["indicator_code"] for row in csv.DictReader(handle)]


def zero_denominator_college(warehouse: MiniWarehouse, school: str, year: int) -> None:
    """Tables delivered with every denominator zero or absent (no students, teachers, courses, graduates…)."""
    insert = warehouse.insert
    insert("students_enrolled", school, year, [{"fulltime_total": 0}])
    insert(
        "campus_area", school, year, [{"teaching_research_area": 500, "admin_office_area": 100, "dormitory_area": 50}]
    )
    insert("teaching_equipment", school, year, [{"equipment_value": 10, "equipment_value_new": 10}])
    insert("library_holdings", school, year, [{"books_total": 100, "books_new": 10}])
    insert("it_facilities", school, year, [{"teaching_computers": 5}])
    insert("onsite_training_bases", school, year, [{"base_name": "A", "workstations": 5}])
    insert("internships", school, year, [{"major_code": "M1", "interns": 0, "relevant_interns": 0}])
    insert("admissions", school, year, [{"major_code": "M1", "admitted": 0, "registered": 0}])
    insert("employment", school, year, [{"major_code": "M1", "graduates": 0, "employed": 0, "relevant_employed": 0}])
    insert("funding_income", school, year, [{"fiscal_appropriation": 10}])
    insert("funding_expenditure", school, year, [{"expenditure_total": 0, "daily_teaching": 0}])
    insert("student_aid", school, year, [{"aid_name": "助学金", "students": 3}])
    insert("teaching_admin_staff", school, year, [{"staff_no": "S1"}])


@pytest.fixture(scope="module")
def computed():
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    warehouse.school(EMPTY)
    typical_college(warehouse, SCHOOL, YEAR)
    zero_denominator_college(warehouse, EMPTY, YEAR)
    warehouse.table_status(SCHOOL, YEAR, "6.1", "ok")
    warehouse.build()
    return warehouse


def test_the_hand_computed_cases_cover_every_catalogued_indicator():
    assert sorted(code for code, *_ in HAND_COMPUTED) == sorted(catalog_codes())
    assert len(catalog_codes()) >= 26


@pytest.mark.parametrize(("code", "numerator", "denominator", "value"), HAND_COMPUTED)
def test_indicator_on_a_hand_computed_college(computed, code, numerator, denominator, value):
    row = computed.indicator(SCHOOL, YEAR, code)
    assert row["numerator"] == pytest.approx(numerator)
    assert row["denominator"] == (pytest.approx(denominator) if denominator is not None else None)
    assert row["value"] == pytest.approx(value)
    assert row["status"] == "ok"


@pytest.mark.parametrize("code", [code for code, _, denominator, _ in HAND_COMPUTED if denominator is not None])
def test_empty_denominator_gives_no_value_and_insufficient_not_a_warning(computed, code):
    row = computed.indicator(EMPTY, YEAR, code)
    assert row["value"] is None and row["status"] == "no_denominator"
    verdict = computed.indicator_warning(EMPTY, YEAR, code)
    assert verdict["level"] == "insufficient"
    assert any("分母" in reason and "为空或为零" in reason for reason in verdict["reasons"])


def test_a_count_indicator_without_its_table_has_no_value(computed):
    row = computed.indicator(EMPTY, YEAR, "quality_documents")
    assert row["value"] is None and row["status"] == "no_data"


def test_a_partial_table_is_read_without_its_bad_rows_and_its_indicators_say_so():
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    # two of the 60 teachers (a 博士 and a 硕士) were left out by the quality layer
    warehouse.conn.execute(
        "update raw.full_time_teachers set source_file = 'f.xlsx', row_no = 3 + cast(right(staff_no, 3) as int)"
    )
    warehouse.conn.execute(
        "insert into quality.excluded_rows values (?, ?, '6.1', 'full_time_teachers', 'f.xlsx', 4, ['allowed_values']), "
        "(?, ?, '6.1', 'full_time_teachers', 'f.xlsx', 5, ['unique_key'])",
        [SCHOOL, YEAR, SCHOOL, YEAR],
    )
    warehouse.table_status(SCHOOL, YEAR, "6.1", "partial", "测试")
    warehouse.conn.execute(
        "update quality.table_status set excluded_rows = 2, row_count = 60, tolerance_share = 0.05 where table_code = '6.1'"
    )
    warehouse.build()
    postgrad = warehouse.indicator(SCHOOL, YEAR, "postgrad_teacher_share")
    assert postgrad["status"] == "ok" and (postgrad["numerator"], postgrad["denominator"]) == (10, 58)
    verdict = warehouse.indicator_warning(SCHOOL, YEAR, "postgrad_teacher_share")
    assert verdict["level"] == "green"
    assert verdict["reasons"] == [
        "表6.1中有误的2行已排除（共60行，占3.3%，在容差5%以内），依据该表的指标按其余行计算。"
    ]
    # said once per element, however many of its indicators read the table
    assert warehouse.element(SCHOOL, YEAR, "3.1")["reasons"].count(verdict["reasons"][0]) == 1
    # the other tables are read whole
    assert warehouse.indicator_warning(SCHOOL, YEAR, "books_per_student")["reasons"] == []


def add_external_teachers(warehouse: MiniWarehouse, school: str, year: int, count: int) -> None:
    warehouse.insert(
        "external_part_time_teachers",
        school,
        year,
        rows(count, name=[f"X{i}" for i in range(count)], teaching_hours=100),
    )


# typical_college has 60 专任 and 22 校外 (20 兼职 + 2 兼课); 20 more make 42, above the ¼ cap (15) under both
# readings. (cap_on_converted, extra 校外, 教师总数 by hand):
CAP_READINGS = [
    (1, 0, 60 + min(22 * 0.5, 15)),  # 60 + min(11, 15) = 71: the converted number is under the cap
    (0, 0, 60 + min(22, 15) * 0.5),  # 60 + 15 × 0.5 = 67.5: the head count 22 is capped at 15 first
    (1, 20, 60 + min(42 * 0.5, 15)),  # 60 + min(21, 15) = 75
    (0, 20, 60 + min(42, 15) * 0.5),  # 60 + 15 × 0.5 = 67.5
]


@pytest.mark.parametrize(("on_converted", "extra", "teachers"), CAP_READINGS)
def test_both_readings_of_the_external_teacher_cap(on_converted, extra, teachers):
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    add_external_teachers(warehouse, SCHOOL, YEAR, extra)
    warehouse.build(external_teacher_cap_on_converted=on_converted)
    ratio = warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")
    assert ratio["denominator"] == pytest.approx(teachers)
    assert ratio["value"] == pytest.approx(1080 / teachers)  # 折合在校生 1080 (留学生×3, 预科, 成人, 夜大, 函授)
    base = warehouse.conn.execute(
        "select vocational_students, fulltime_students, equivalent_students, external_teachers "
        "from mart.school_base where school_code = ? and year = ?",
        [SCHOOL, YEAR],
    ).fetchone()
    assert base == (1000, 1040, pytest.approx(1080), 22 + extra)
    # the denominators that do not depend on the cap reading
    assert warehouse.indicator(SCHOOL, YEAR, "teaching_admin_area_per_student")["denominator"] == 1040
    assert warehouse.indicator(SCHOOL, YEAR, "dormitory_area_per_student")["denominator"] == 1040
    assert warehouse.indicator(SCHOOL, YEAR, "computers_per_100_students")["denominator"] == 1040
    assert warehouse.indicator(SCHOOL, YEAR, "equipment_value_per_student")["denominator"] == pytest.approx(1080)


def test_without_a_cap_every_external_teacher_counts_half():
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    warehouse.build(external_teacher_cap_share=100)
    # no cap: 60 + 22 × 0.5 = 71 teachers
    assert warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")["denominator"] == pytest.approx(71)


@pytest.mark.parametrize(
    ("on_converted", "teachers"), [(1, 534 + min(405 * 0.5, 534 / 4)), (0, 534 + min(405, 534 / 4) * 0.5)]
)
def test_the_published_case_fits_the_default_reading(on_converted, teachers):
    """石家庄职业技术学院 2015 (DOMAIN.md §7): 专任 534, 校外 338 + 67 = 405, published 教师总数 669.
    Converted-number cap: 534 + min(202.5, 133.5) = 667.5 (1.5 off); head-count cap: 534 + 133.5 × 0.5 = 600.75."""
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    warehouse.insert("students_enrolled", SCHOOL, YEAR, [{"fulltime_total": 10000}])
    warehouse.insert("full_time_teachers", SCHOOL, YEAR, rows(534, staff_no=[f"T{i}" for i in range(534)]))
    warehouse.insert("external_part_time_teachers", SCHOOL, YEAR, rows(338, name=[f"E{i}" for i in range(338)]))
    warehouse.insert("external_guest_teachers", SCHOOL, YEAR, rows(67, name=[f"G{i}" for i in range(67)]))
    warehouse.build(external_teacher_cap_on_converted=on_converted)
    total = warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")["denominator"]
    assert total == pytest.approx(teachers)
    assert (abs(total - 669) <= 1.5) is (on_converted == 1)


def test_the_default_reading_is_the_one_the_published_case_supports():
    from assets.mart import load_warning_rules

    assert load_warning_rules()["external_teacher_cap_on_converted"] == 1


@pytest.mark.parametrize(
    ("table_code", "status", "excluded"),
    [
        ("3.1", "invalid", True),
        ("3.1", "stale", True),
        ("3.1", "missing", True),
        ("3.1", "warn", False),
        ("3.1", "partial", False),
        ("3.1", "ok", False),
    ],
)
def test_an_untrusted_source_table_excludes_its_indicators(table_code, status, excluded):
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    warehouse.table_status(SCHOOL, YEAR, table_code, status, "测试")
    warehouse.build()
    dormitory = warehouse.indicator(SCHOOL, YEAR, "dormitory_area_per_student")
    assert (dormitory["value"] is None) is excluded
    assert (dormitory["status"] == "excluded") is excluded
    assert dormitory["excluded_tables"] == (["3.1"] if excluded else [])
    assert warehouse.indicator(SCHOOL, YEAR, "books_per_student")["status"] == "ok"
    if excluded:
        verdict = warehouse.indicator_warning(SCHOOL, YEAR, "dormitory_area_per_student")
        assert verdict["level"] == "insufficient"
        assert any("表3.1" in reason and "不参与预警" in reason for reason in verdict["reasons"])


def test_a_missing_optional_table_does_not_exclude_but_a_missing_required_one_does():
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    warehouse.table_status(SCHOOL, YEAR, "6.4", "missing")  # 校外兼课教师: optional
    warehouse.build()
    assert warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")["status"] == "ok"
    warehouse.table_status(SCHOOL, YEAR, "6.3", "missing")  # 校外兼职教师: required
    warehouse.build()
    assert warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")["status"] == "excluded"


def test_elements_with_data_coverage_but_no_fitting_indicator_are_named(computed):
    without_indicator = computed.conn.execute(
        "select distinct element_code from ref.point_platform_codes "
        "except select element_code from ref.indicator_elements order by 1"
    ).fetchall()
    # 1.4 信息系统 (the status-data platform itself) and 5.2 质量事故管控: no indicator measures them
    assert without_indicator == [("1.4",), ("5.2",)]
    without_coverage = computed.conn.execute(
        "select element_code from ref.diagnostic_elements "
        "except select element_code from ref.point_platform_codes order by 1"
    ).fetchall()
    assert without_coverage == [("5.3",), ("5.4",)]


def test_every_link_has_a_rationale_and_no_indicator_informs_more_than_three_elements_unexplained(computed):
    links = computed.conn.execute("select * from ref.indicator_elements").pl()
    assert links.height > 0
    assert links.filter(pl.col("rationale_zh").fill_null("").str.strip_chars() == "").height == 0
    assert links.filter(pl.col("point_name").is_null()).height == 0
    breadth = links.group_by("indicator_code").agg(
        pl.len().alias("elements"), pl.col("breadth_zh").count().alias("said")
    )
    assert breadth.filter((pl.col("elements") > 3) & (pl.col("said") < pl.col("elements"))).height == 0
    catalog = {code for (code,) in computed.conn.execute("select indicator_code from ref.indicators").fetchall()}
    assert set(links["indicator_code"]) == catalog


def test_every_rationale_names_its_point_and_quotes_its_hint(computed):
    """Reviewed against 附件2: each rationale names the point (“点名”) and quotes its hint text (a
    “…” fragment of at least four characters, “……” marking an omission, found in the hint)."""
    links = computed.conn.execute(
        "select l.indicator_code, l.element_code, l.rationale_zh, p.point_name, p.hint "
        "from ref.indicator_elements l join ref.diagnostic_points p using (element_code, point_no)"
    ).fetchall()
    for indicator, element, rationale, point_name, hint in links:
        quoted = re.findall(r"“([^”]+)”", rationale)
        assert point_name in quoted, (indicator, element, rationale)
        assert any(
            len(fragment) >= 4 and all(piece in hint for piece in fragment.split("……"))
            for fragment in quoted
            if fragment != point_name
        ), (indicator, element, rationale)


def test_the_links_follow_the_meaning_of_the_diagnosis_points(computed):
    # 质量管理制度文件数 speaks to 1.3's 质量保证制度 only; 教学用计算机 does not stand for 1.4 信息系统;
    # the indicators that decide 限制招生 reach beyond 4.1
    assert computed.elements_of("quality_documents") == ["1.3"]
    assert "1.4" not in computed.elements_of("computers_per_100_students")
    for code in (
        "student_teacher_ratio",
        "postgrad_teacher_share",
        "teaching_admin_area_per_student",
        "equipment_value_per_student",
        "books_per_student",
    ):
        assert set(computed.elements_of(code)) - {"4.1"}, code
    cited = computed.conn.execute(
        "select link, via_tables from ref.indicator_elements "
        "where indicator_code = 'student_teacher_ratio' and element_code = '3.1'"
    ).fetchone()
    assert cited == ("cited", ["6.1", "6.3", "6.4"])
    judgement = computed.conn.execute(
        "select link, via_tables from ref.indicator_elements "
        "where indicator_code = 'dormitory_area_per_student' and element_code = '4.2'"
    ).fetchone()
    assert judgement == ("judgement", [])


# 教发〔2004〕2号 表一 基本办学条件指标：合格, 专科（高职）院校, transcribed from the reproduction cited in
# thresholds.csv (http://tianhezy.com/gzc/zdfg/sjfg/14384.htm; its last four rows as DOMAIN.md §7 gives them):
# 生师比 / 具有研究生学位教师比例 % / 生均教学行政用房 m² / 生均教学科研仪器设备值 元 / 生均图书 册.
OFFICIAL_QUALIFIED = {
    "综合、师范、民族院校": (18, 15, 14, 4000, 80),
    "工科、农、林院校": (18, 15, 16, 4000, 60),
    "医学院校": (16, 15, 16, 4000, 60),
    "语文、财经、政法院校": (18, 15, 9, 3000, 80),
    "体育院校": (13, 15, 22, 3000, 70),
    "艺术院校": (13, 15, 18, 3000, 80),
}
OFFICIAL_ROW_OF_TYPE = {
    "综合": "综合、师范、民族院校",
    "师范": "综合、师范、民族院校",
    "民族": "综合、师范、民族院校",
    "理工": "工科、农、林院校",
    "农林": "工科、农、林院校",
    "医药": "医学院校",
    "语文": "语文、财经、政法院校",
    "财经": "语文、财经、政法院校",
    "政法": "语文、财经、政法院校",
    "体育": "体育院校",
    "艺术": "艺术院校",
}
BASIC_INDICATORS = (
    "student_teacher_ratio",
    "postgrad_teacher_share",
    "teaching_admin_area_per_student",
    "equipment_value_per_student",
    "books_per_student",
)


def threshold_rows() -> list[dict]:
    with open(REFERENCE_DIR / "thresholds.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# (设备总值 万元, 当年新增 万元, exempt): 教发〔2004〕2号 表三 备注1, "超过" read strictly
EQUIPMENT_EXEMPTIONS = [(12_000, 1_200, True), (10_000, 1_200, False), (12_000, 1_000, False), (9_000, 2_000, False)]


@pytest.mark.parametrize(("total", "new", "exempt"), EQUIPMENT_EXEMPTIONS)
def test_a_large_equipment_stock_with_large_additions_is_exempt(total, new, exempt):
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    warehouse.conn.execute(
        "update raw.teaching_equipment set equipment_value = ?, equipment_value_new = ?", [total, new]
    )
    warehouse.build()
    row = warehouse.indicator(SCHOOL, YEAR, "new_equipment_share")
    assert row["value"] == pytest.approx(100 * new / (total - new))  # the value itself is still computed
    assert row["exempt"] is exempt
    assert (row["exempt_reason_zh"] is not None and "1亿元" in row["exempt_reason_zh"]) is exempt
    assert warehouse.indicator(SCHOOL, YEAR, "books_per_student")["exempt"] is False


# (全日制高职在校生, 当年进书 册, exempt): 表三 备注2, 折合在校生 > 30000 and 进书 > 90000
BOOK_EXEMPTIONS = [(31_000, 95_000, True), (30_000, 95_000, False), (31_000, 90_000, False)]


@pytest.mark.parametrize(("students", "books_new", "exempt"), BOOK_EXEMPTIONS)
def test_a_large_college_buying_many_books_is_exempt(students, books_new, exempt):
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    warehouse.insert("students_enrolled", SCHOOL, YEAR, [{"fulltime_total": students}])
    warehouse.insert("library_holdings", SCHOOL, YEAR, [{"books_total": 80 * students, "books_new": books_new}])
    warehouse.build()
    row = warehouse.indicator(SCHOOL, YEAR, "new_books_per_student")
    assert row["value"] == pytest.approx(books_new / students) and row["exempt"] is exempt


def test_an_excluded_indicator_is_never_exempt():
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    warehouse.conn.execute("update raw.teaching_equipment set equipment_value = 12000, equipment_value_new = 1200")
    warehouse.table_status(SCHOOL, YEAR, "3.2", "invalid", "测试")
    warehouse.build()
    row = warehouse.indicator(SCHOOL, YEAR, "new_equipment_share")
    assert row["status"] == "excluded" and row["exempt"] is False and row["exempt_reason_zh"] is None


def test_every_threshold_row_cites_its_source():
    for row in threshold_rows():
        assert row["source"].strip() and row["confidence"] in ("confirmed", "unconfirmed"), row
        if row["restricted_value"]:
            # no 限制招生 value for 高职 was found in a citable source: each says so
            assert row["restricted_source"].startswith("未核实") and row["restricted_confidence"] == "unconfirmed", row


@pytest.mark.parametrize("school_type", sorted(OFFICIAL_ROW_OF_TYPE))
def test_the_qualified_values_follow_the_official_table(school_type):
    official = OFFICIAL_QUALIFIED[OFFICIAL_ROW_OF_TYPE[school_type]]
    rows_of_type = {row["indicator_code"]: row for row in threshold_rows() if row["school_type"] == school_type}
    for code, expected in zip(BASIC_INDICATORS, official):
        row = rows_of_type[code]
        assert float(row["qualified_value"]) == expected, (school_type, code)
        assert OFFICIAL_ROW_OF_TYPE[school_type] in row["source"], (school_type, code)
        # only the rows read in the cited reproduction are confirmed
        confirmed = OFFICIAL_ROW_OF_TYPE[school_type] in ("综合、师范、民族院校", "工科、农、林院校")
        assert (row["confidence"] == "confirmed") is confirmed, (school_type, code)
        restricted = float(row["restricted_value"])
        assert restricted > expected if code == "student_teacher_ratio" else restricted < expected, (school_type, code)


def test_the_monitoring_indicators_have_thresholds_but_no_restricted_value():
    monitoring = (
        "senior_title_share",
        "land_area_per_student",
        "dormitory_area_per_student",
        "computers_per_100_students",
        "multimedia_seats_per_100_students",
        "new_equipment_share",
        "new_books_per_student",
    )
    rows = threshold_rows()
    for code in monitoring:
        of_code = [row for row in rows if row["indicator_code"] == code]
        assert {row["school_type"] for row in of_code} == set(OFFICIAL_ROW_OF_TYPE), code
        assert all(row["qualified_value"] and not row["restricted_value"] for row in of_code), code


def test_the_rule_parameters_file_must_name_every_parameter(tmp_path):
    from assets.mart import WARNING_RULES_FILE, load_warning_rules

    rules = load_warning_rules()
    assert rules["peer_bottom_share"] == pytest.approx(0.1) and rules["external_teacher_cap_share"] == pytest.approx(
        0.25
    )
    text = WARNING_RULES_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "warning_rules.csv"
    broken.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("trend_tolerance")), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="trend_tolerance"):
        load_warning_rules(broken)


WIDE = "\n".join(f"books_per_student,{element},1,测试理由,{{breadth}}" for element in ("1.1", "1.2", "1.3", "2.1"))
LINKS_FILE = "indicator_elements.csv"
UNKNOWN_LINK = f"{LINKS_FILE} names unknown indicators, elements or points"


def materialize_ref(tmp_path, selected: list, step: str, refusal: str | None):
    """Materialize the `selected` ref assets on a scratch warehouse. With `refusal`, exactly `step`
    must fail, its error saying `refusal` (returns None); else every step must succeed (returns a
    read-only connection to the warehouse)."""
    import dagster as dg
    import duckdb

    from pipelines.resources import WarehouseResource

    resource = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    result = dg.materialize(selected, resources={"warehouse": resource}, raise_on_error=False)
    failures = {
        event.step_key: event.event_specific_data.error.to_string()
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    }
    if refusal:
        assert list(failures) == [step], failures
        assert refusal in failures[step]
        return None
    assert result.success, failures
    return duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True)


@pytest.mark.parametrize(
    ("lines", "refusal"),
    [
        ("books_per_student,4.2,2,测试理由,", None),
        ("no_such_indicator,4.1,1,测试理由,", f"{UNKNOWN_LINK}: [('no_such_indicator', '4.1', 1)]"),
        ("books_per_student,9.9,1,测试理由,", f"{UNKNOWN_LINK}: [('books_per_student', '9.9', 1)]"),
        ("books_per_student,4.1,7,测试理由,", f"{UNKNOWN_LINK}: [('books_per_student', '4.1', 7)]"),
        (
            "books_per_student,4.1,1,,",
            f"{LINKS_FILE}: every link needs its rationale (rationale_zh): [('books_per_student', '4.1')]",
        ),
        (
            WIDE.format(breadth=""),
            f"{LINKS_FILE}: indicators informing more than 3 elements must say why on each of "
            "their rows (breadth_zh): ['books_per_student']",
        ),
        (WIDE.format(breadth="测试：说明为何关联四个要素"), None),
    ],
)
def test_a_link_file_naming_unknown_codes_or_lacking_a_rationale_stops_the_run(tmp_path, monkeypatch, lines, refusal):
    from assets import ref

    links = tmp_path / LINKS_FILE
    links.write_text("indicator_code,element_code,point_no,rationale_zh,breadth_zh\n" + lines + "\n", encoding="utf-8")
    monkeypatch.setattr(ref, "INDICATOR_ELEMENTS_FILE", links)
    selected = [
        ref.diagnostic_items,
        ref.diagnostic_elements,
        ref.diagnostic_points,
        ref.platform_tables,
        ref.point_platform_codes,
        ref.indicators,
        ref.indicator_elements,
    ]
    conn = materialize_ref(tmp_path, selected, "indicator_elements", refusal)
    if conn is None:
        return
    with conn:
        loaded = conn.execute(
            "select indicator_code, element_code, point_no, point_name is not null from ref.indicator_elements order by 2"
        ).fetchall()
    expected = [line.split(",")[:3] for line in lines.splitlines()]
    assert loaded == [(code, element, int(point), True) for code, element, point in expected]


@pytest.mark.parametrize(
    ("indicator", "refusal"),
    [
        ("books_per_student", None),
        ("no_such_indicator", "thresholds.csv names unknown indicators: ['no_such_indicator']"),
    ],
)
def test_a_threshold_for_an_unknown_indicator_stops_the_run(tmp_path, monkeypatch, indicator, refusal):
    from assets import ref

    thresholds = tmp_path / "thresholds.csv"
    thresholds.write_text(
        "indicator_code,school_type,qualified_value,restricted_value,source,confidence,restricted_source,"
        f"restricted_confidence,note\n{indicator},综合,80,,测试,unconfirmed,,,\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(ref, "THRESHOLDS_FILE", thresholds)
    conn = materialize_ref(tmp_path, [ref.indicators, ref.thresholds], "thresholds", refusal)
    if conn is None:
        return
    with conn:
        loaded = conn.execute("select indicator_code, school_type, qualified_value from ref.thresholds").fetchall()
    assert loaded == [("books_per_student", "综合", 80)]
