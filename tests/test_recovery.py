"""The recovery measure on a generated college run through the real mart SQL: a drawn level the
pipeline recovers counts as a match, a defect of the college-year in the indicator's source table
explains a miss, anything else is an unexplained miss; `zhengai demo-check` prints the matrix."""

from __future__ import annotations

import json

from indicator_fixtures import MiniWarehouse, typical_college
from pipelines.cli import main
from pipelines.demo.recovery import outcomes, report, unexplained_misses

YEAR = 2024
SCHOOL = "10001"


def manifest(levels: dict[str, str], defects: list[dict] | None = None) -> dict:
    return {
        "defects": defects or [],
        "schools_planned": [{"school_code": SCHOOL, "school_type": "综合", "levels": {str(YEAR): levels}}],
    }


def warehouse(books_per_student: float) -> MiniWarehouse:
    built = MiniWarehouse()
    built.school(SCHOOL)
    typical_college(built, SCHOOL, YEAR, books_total=round(books_per_student * 1080))
    built.build()
    return built


def test_a_recovered_level_matches_and_a_wrong_one_is_an_unexplained_miss():
    conn = warehouse(79).conn  # 生均图书 79 < 合格 80: yellow
    rows = outcomes(conn, manifest({"books_per_student": "yellow", "employment_rate": "green"}))
    assert [(row.indicator_code, row.recovered, row.matched) for row in rows] == [
        ("books_per_student", "yellow", True),
        ("employment_rate", "green", True),
    ]
    wrong = outcomes(conn, manifest({"books_per_student": "red"}))
    assert unexplained_misses(wrong) == wrong


def test_a_defect_in_a_source_table_explains_a_miss_and_one_elsewhere_does_not():
    built = warehouse(90)
    built.table_status(SCHOOL, YEAR, "3.3", "missing", "未提交")
    built.build()
    drawn = manifest(
        {"books_per_student": "green"},
        [{"kind": "missing_table", "school_code": SCHOOL, "year": YEAR, "table_code": "3.3"}],
    )
    [row] = outcomes(built.conn, drawn)
    assert (row.recovered, row.explained_by) == ("insufficient", ("missing_table",)) and not unexplained_misses([row])
    elsewhere = manifest(
        {"books_per_student": "green"},
        [{"kind": "missing_table", "school_code": SCHOOL, "year": YEAR, "table_code": "6.1"}],
    )
    assert len(unexplained_misses(outcomes(built.conn, elsewhere))) == 1


def test_an_undrawn_indicator_is_left_out_and_the_report_shows_the_matrix():
    conn = warehouse(79).conn
    rows = outcomes(conn, manifest({"books_per_student": "yellow", "new_books_per_student": None}))
    assert [row.indicator_code for row in rows] == ["books_per_student"]
    lines = report(rows)
    assert lines[1].split() == ["drawn", "\\", "recovered", "绿", "黄", "红", "数据不足"]
    assert lines[2].split() == ["黄", "0", "1", "0", "0"]
    assert "match: 100.0% of indicators with thresholds" in lines[4]


def test_demo_check_prints_the_matrix_from_the_published_warehouse(zhengai_home, capsys):
    built = warehouse(79)
    published = zhengai_home / "warehouse.duckdb"
    built.conn.execute(f"attach '{published}' as published")
    built.conn.execute("copy from database memory to published")
    built.conn.execute("detach published")
    path = zhengai_home / "manifest.json"
    path.write_text(json.dumps(manifest({"books_per_student": "yellow"})), encoding="utf-8")
    assert main(["demo-check", "--manifest", str(path), "--strict"]) == 0
    printed = capsys.readouterr().out
    assert "recovered levels" in printed and "unexplained: 0" in printed
    assert "red elements without a threshold cause (only an escalated peer or trend yellow): 0" in printed
    path.write_text(json.dumps(manifest({"books_per_student": "green"})), encoding="utf-8")
    assert main(["demo-check", "--manifest", str(path), "--strict"]) == 1
