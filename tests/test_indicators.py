"""Indicators: each on a hand-computed college, empty denominators, the data-quality exclusion,
the external-teacher cap, and the indicator → element catalog."""

from __future__ import annotations

import csv
import re

import polars as pl
import pytest

from indicator_fixtures import MiniWarehouse, typical_college
from pipelines.settings import REFERENCE_DIR

SCHOOL, EMPTY, YEAR = "10001", "10002", 2024

# (indicator, numerator, denominator, value), worked out by hand from typical_college:
# 折合在校生 = 1000 + 10 + 20 + 100×0.3 + 200×0.1 = 1080; 全日制 = 1000;
# 教师总数 = 60 专任 + min(20 + 2 校外, ¼×60 = 15) × 0.5 = 67.5.
HAND_COMPUTED = [
    ("student_teacher_ratio", 1080, 67.5, 16.0),
    ("postgrad_teacher_share", 12, 60, 20.0),
    ("senior_title_share", 12, 60, 20.0),
    ("double_qualified_share", 30, 60, 50.0),
    # 20×150 校外兼职 hours over 60×400 + 5×100 + 20×150 + 2×50 = 27600 hours
    ("external_teaching_share", 3000, 27600, 3000 / 27600 * 100),
    ("teaching_admin_area_per_student", 15120, 1080, 14.0),
    ("dormitory_area_per_student", 6500, 1000, 6.5),
    ("equipment_value_per_student", 5_940_000, 1080, 5500.0),
    ("new_equipment_share", 54, 540, 10.0),
    ("books_per_student", 86_400, 1080, 80.0),
    ("new_books_per_student", 3_240, 1080, 3.0),
    ("computers_per_100_students", 108, 1080, 10.0),
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
    insert("campus_area", school, year, [{"teaching_research_area": 500, "admin_office_area": 100, "dormitory_area": 50}])
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
    warehouse.conn.execute("update raw.full_time_teachers set source_file = 'f.xlsx', row_no = 3 + cast(right(staff_no, 3) as int)")
    warehouse.conn.execute(
        "insert into quality.excluded_rows values (?, ?, '6.1', 'full_time_teachers', 'f.xlsx', 4, ['allowed_values']), "
        "(?, ?, '6.1', 'full_time_teachers', 'f.xlsx', 5, ['unique_key'])", [SCHOOL, YEAR, SCHOOL, YEAR]
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
    assert verdict["reasons"] == ["表6.1中有误的2行已排除（共60行，占3.3%，在容差5%以内），依据该表的指标按其余行计算。"]
    # said once per element, however many of its indicators read the table
    assert warehouse.element(SCHOOL, YEAR, "3.1")["reasons"].count(verdict["reasons"][0]) == 1
    # the other tables are read whole
    assert warehouse.indicator_warning(SCHOOL, YEAR, "books_per_student")["reasons"] == []


def test_the_external_teacher_cap_is_a_rule_parameter():
    warehouse = MiniWarehouse()
    warehouse.school(SCHOOL)
    typical_college(warehouse, SCHOOL, YEAR)
    warehouse.table_status(SCHOOL, YEAR, "6.1", "ok")
    warehouse.build(external_teacher_cap_share=100)
    # no cap: 60 + 22 × 0.5 = 71 teachers
    assert warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")["denominator"] == pytest.approx(71)
    warehouse.build(external_teacher_cap_share=0.25)
    assert warehouse.indicator(SCHOOL, YEAR, "student_teacher_ratio")["denominator"] == pytest.approx(67.5)


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
    breadth = links.group_by("indicator_code").agg(pl.len().alias("elements"), pl.col("breadth_zh").count().alias("said"))
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
            for fragment in quoted if fragment != point_name
        ), (indicator, element, rationale)


def test_the_links_follow_the_meaning_of_the_diagnosis_points(computed):
    # 质量管理制度文件数 speaks to 1.3's 质量保证制度 only; 教学用计算机 does not stand for 1.4 信息系统;
    # the indicators that decide 限制招生 reach beyond 4.1
    assert computed.elements_of("quality_documents") == ["1.3"]
    assert "1.4" not in computed.elements_of("computers_per_100_students")
    for code in ("student_teacher_ratio", "postgrad_teacher_share", "teaching_admin_area_per_student",
                 "equipment_value_per_student", "books_per_student"):
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


def test_thresholds_are_confirmed_only_where_domain_confirms_them(computed):
    confirmed = computed.conn.execute(
        "select distinct school_type from ref.thresholds where confidence = 'confirmed' order by 1"
    ).fetchall()
    assert {school_type for (school_type,) in confirmed} == {"综合", "理工", "农林"}
    farming = computed.conn.execute(
        "select indicator_code from ref.thresholds where school_type = '农林' and confidence = 'confirmed' order by 1"
    ).fetchall()
    assert [code for (code,) in farming] == ["books_per_student", "teaching_admin_area_per_student"]
    restricted = computed.conn.execute(
        "select count(*) from ref.thresholds where restricted_value is not null "
        "and (restricted_confidence <> 'unconfirmed' or restricted_source is null)"
    ).fetchone()[0]
    assert restricted == 0


def test_the_rule_parameters_file_must_name_every_parameter(tmp_path):
    from assets.mart import WARNING_RULES_FILE, load_warning_rules

    rules = load_warning_rules()
    assert rules["peer_bottom_share"] == pytest.approx(0.1) and rules["external_teacher_cap_share"] == pytest.approx(0.25)
    text = WARNING_RULES_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "warning_rules.csv"
    broken.write_text("\n".join(line for line in text.splitlines() if not line.startswith("trend_tolerance")),
                      encoding="utf-8")
    with pytest.raises(ValueError, match="trend_tolerance"):
        load_warning_rules(broken)


WIDE = "\n".join(f"books_per_student,{element},1,测试理由,{{breadth}}" for element in ("1.1", "1.2", "1.3", "2.1"))


@pytest.mark.parametrize(("lines", "fails"), [
    ("books_per_student,4.2,2,测试理由,", False),
    ("no_such_indicator,4.1,1,测试理由,", True),
    ("books_per_student,9.9,1,测试理由,", True),
    ("books_per_student,4.1,7,测试理由,", True),
    ("books_per_student,4.1,1,,", True),
    (WIDE.format(breadth=""), True),
    (WIDE.format(breadth="测试：说明为何关联四个要素"), False),
])
def test_a_link_file_naming_unknown_codes_or_lacking_a_rationale_stops_the_run(tmp_path, monkeypatch, lines, fails):
    import dagster as dg

    from assets import ref
    from pipelines.resources import WarehouseResource

    links = tmp_path / "indicator_elements.csv"
    links.write_text("indicator_code,element_code,point_no,rationale_zh,breadth_zh\n" + lines + "\n", encoding="utf-8")
    monkeypatch.setattr(ref, "INDICATOR_ELEMENTS_FILE", links)
    selected = [ref.diagnostic_items, ref.diagnostic_elements, ref.diagnostic_points, ref.platform_tables,
                ref.point_platform_codes, ref.indicators, ref.indicator_elements]
    resource = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    result = dg.materialize(selected, resources={"warehouse": resource}, raise_on_error=False)
    assert result.success is not fails


@pytest.mark.parametrize(("indicator", "fails"), [("books_per_student", False), ("no_such_indicator", True)])
def test_a_threshold_for_an_unknown_indicator_stops_the_run(tmp_path, monkeypatch, indicator, fails):
    import dagster as dg

    from assets import ref
    from pipelines.resources import WarehouseResource

    thresholds = tmp_path / "thresholds.csv"
    thresholds.write_text(
        "indicator_code,school_type,qualified_value,restricted_value,source,confidence,restricted_source,"
        f"restricted_confidence,note\n{indicator},综合,80,,测试,unconfirmed,,,\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(ref, "THRESHOLDS_FILE", thresholds)
    resource = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    result = dg.materialize([ref.indicators, ref.thresholds], resources={"warehouse": resource}, raise_on_error=False)
    assert result.success is not fails
