"""The official college-level card of 教发〔2004〕2号 (mart.college_card) across years: 合格, 限制招生
(黄牌) on one indicator below its 限制招生 value, 暂停招生 (红牌) on two, 红牌 after three 黄牌 years
running, and back to 合格."""

from __future__ import annotations

import pytest

from indicator_fixtures import MiniWarehouse, typical_college

STUDENTS = 1080  # typical_college's 折合在校生; it meets every 综合 合格 value


def college_year(
    warehouse: MiniWarehouse, school: str, year: int, books_per_student: float = 80, equipment_per_student: float = 5500
) -> None:
    """typical_college with its 生均图书 and 生均设备值 set (综合: 合格 80 / 4000, 限制招生 50 / 3000)."""
    typical_college(warehouse, school, year, books_total=round(books_per_student * STUDENTS))
    warehouse.conn.execute(
        "update raw.teaching_equipment set equipment_value = ?, equipment_value_new = ? "
        "where school_code = ? and year = ?",
        [equipment_per_student * STUDENTS / 10000, equipment_per_student * STUDENTS / 10000 / 11, school, year],
    )


def card(warehouse: MiniWarehouse, school: str, year: int) -> dict:
    frame = warehouse.conn.execute(
        "select * from mart.college_card where school_code = ? and year = ?", [school, year]
    ).pl()
    return frame.row(0, named=True)


@pytest.fixture(scope="module")
def province():
    warehouse = MiniWarehouse()
    for code in ("10001", "10002", "10003"):
        warehouse.school(code)
    # 10001: 合格, then 生均图书 40 (< 限制招生 50) three years running, then recovered, then 70 (< 合格 80)
    for year, books in {2019: 80, 2020: 40, 2021: 40, 2022: 40, 2023: 85, 2024: 70}.items():
        college_year(warehouse, "10001", year, books_per_student=books)
    # 10002: 2024 both 生均图书 40 and 生均设备值 2000 (< 3000)
    college_year(warehouse, "10002", 2023)
    college_year(warehouse, "10002", 2024, books_per_student=40, equipment_per_student=2000)
    # 10003: 黄牌 in 2020 and 2022 with a year without data between them: not three years running
    college_year(warehouse, "10003", 2020, books_per_student=40)
    college_year(warehouse, "10003", 2022, books_per_student=40)
    college_year(warehouse, "10003", 2023, books_per_student=40)
    warehouse.build()
    return warehouse


# (school, year, card, red by consecutive years, yellow run, deciding indicators)
EXPECTED = [
    ("10001", 2019, "合格", False, 0, None),
    ("10001", 2020, "限制招生", False, 1, ["books_per_student"]),
    ("10001", 2021, "限制招生", False, 2, ["books_per_student"]),
    ("10001", 2022, "暂停招生", True, 3, ["books_per_student"]),  # 表二备注4: 第三年即为红牌
    ("10001", 2023, "合格", False, 0, None),
    ("10001", 2024, "未达合格", False, 0, ["books_per_student"]),
    ("10002", 2023, "合格", False, 0, None),
    ("10002", 2024, "暂停招生", False, 1, ["equipment_value_per_student", "books_per_student"]),  # 表二备注3
    ("10003", 2020, "限制招生", False, 1, ["books_per_student"]),
    ("10003", 2021, "数据不足", False, 0, None),
    ("10003", 2022, "限制招生", False, 1, ["books_per_student"]),
    ("10003", 2023, "限制招生", False, 2, ["books_per_student"]),
]


@pytest.mark.parametrize(("school", "year", "expected", "by_run", "run", "deciding"), EXPECTED)
def test_the_card_follows_the_rule_across_years(province, school, year, expected, by_run, run, deciding):
    row = card(province, school, year)
    assert row["card"] == expected
    assert row["red_by_consecutive_years"] is by_run
    assert row["yellow_run_years"] == run
    if deciding is not None:
        assert row["deciding_indicators"] == deciding
    assert row["reasons_zh"]


def test_a_card_says_why_and_whether_it_rests_on_unconfirmed_values(province):
    yellow = card(province, "10001", 2020)
    assert any(
        "生均图书为40.0册，低于限制招生值50册（该限制招生值未经核实）" in reason for reason in yellow["reasons_zh"]
    )
    assert yellow["rests_on_unconfirmed"] is True  # no 高职 限制招生 value is confirmed
    red = card(province, "10001", 2022)
    assert any("连续3年" in reason and "表二备注4" in reason for reason in red["reasons_zh"])
    two = card(province, "10002", 2024)
    assert two["below_restricted_count"] == 2 and any("暂停招生（红牌）" in reason for reason in two["reasons_zh"])
    qualified = card(province, "10001", 2023)
    assert qualified["deciding_indicators"] == [
        "student_teacher_ratio",
        "postgrad_teacher_share",
        "teaching_admin_area_per_student",
        "equipment_value_per_student",
        "books_per_student",
    ]
    assert qualified["rests_on_unconfirmed"] is False  # the 综合 合格 values are confirmed
    missing = card(province, "10003", 2021)
    assert missing["missing_indicators"] and any("无法确定" in reason for reason in missing["reasons_zh"])


def test_the_run_length_is_a_rule_parameter():
    warehouse = MiniWarehouse()
    warehouse.school("10001")
    for year in (2020, 2021):
        college_year(warehouse, "10001", year, books_per_student=40)
    warehouse.build(card_yellow_years_to_red=2)
    assert card(warehouse, "10001", 2021)["card"] == "暂停招生"
    warehouse.build(card_yellow_years_to_red=3)
    assert card(warehouse, "10001", 2021)["card"] == "限制招生"
