"""A small in-memory warehouse for the indicator and warning tests.

The ref tables are built from the real reference files with the real SQL, the raw tables with
`create_raw_tables`, the quality tables empty by the quality layer's builders
(tests/warehouse_fixtures.py); a test then sets the few verdicts it needs, and `build` runs the
mart layer's builder (assets/mart.py). `typical_college` fills every raw table with round figures
whose indicator values are worked out by hand in tests/test_indicators.py.
"""

from __future__ import annotations

import itertools

import duckdb

from assets.mart import build_marts, load_warning_rules
from assets.ref import build_reference_tables
from pipelines.catalog import create_raw_tables, load_catalog
from warehouse_fixtures import empty_quality_tables, empty_schools


def rows(count: int, **columns) -> list[dict]:
    """`count` identical rows; a column given as a list is spread over the rows instead."""
    return [
        {name: (value[i] if isinstance(value, list) else value) for name, value in columns.items()}
        for i in range(count)
    ]


class MiniWarehouse:
    def __init__(self) -> None:
        self.conn = duckdb.connect()
        build_reference_tables(self.conn)
        empty_schools(self.conn)
        create_raw_tables(self.conn)
        empty_quality_tables(self.conn)
        self.rules = load_warning_rules()

    def school(self, code: str, school_type: str = "综合", name: str | None = None) -> None:
        self.conn.execute(
            "insert into ref.schools values (?, ?, ?, '公办', 'active', [], 2000, null)",
            [code, name or f"测试学院{code}", school_type],
        )

    def insert(self, table: str, school: str, year: int, records: list[dict]) -> None:
        """Insert raw rows; the quality layer would judge a delivered table `ok`, so record that."""
        self.table_status(school, year, load_catalog().by_name(table).code, "ok")
        # one statement per run of records with the same columns: a statement per row made a peer group of
        # ten colleges cost seconds
        for record_columns, same_columns in itertools.groupby(records, key=tuple):
            batch = list(same_columns)
            columns = ["school_code", "year", *record_columns]
            row = "(" + ", ".join("?" for _ in columns) + ")"
            names = ", ".join(f'"{name}"' for name in columns)
            values = [value for record in batch for value in (school, year, *record.values())]
            self.conn.execute(f'insert into raw."{table}" ({names}) values {", ".join([row] * len(batch))}', values)

    def table_status(self, school: str, year: int, table_code: str, status: str, reasons: str = "") -> None:
        """Set (replace) the quality verdict on one table of one college-year."""
        self.conn.execute(
            "delete from quality.table_status where school_code = ? and year = ? and table_code = ?",
            [school, year, table_code],
        )
        self.conn.execute(
            "insert into quality.table_status (school_code, year, table_code, status, reasons_zh) values (?, ?, ?, ?, ?)",
            [school, year, table_code, status, reasons],
        )

    def missing_column(self, school: str, year: int, table_code: str, column_name: str) -> None:
        """Record that the college's file of `table_code` lacks `column_name` (as check_columns.sql would)."""
        self.conn.execute(
            "insert into quality.issues (school_code, year, table_code, column_name, check_name, severity) "
            "values (?, ?, ?, ?, 'missing_column', 'error')",
            [school, year, table_code, column_name],
        )

    def element_status(self, school: str, year: int, element_code: str, status: str, reasons: str = "") -> None:
        self.conn.execute(
            "insert into quality.element_data_status (school_code, year, element_code, status, reasons_zh) "
            "values (?, ?, ?, ?, ?)",
            [school, year, element_code, status, reasons],
        )

    def build(self, **rule_overrides: float) -> None:
        build_marts(self.conn, {**self.rules, **rule_overrides})

    def indicator(self, school: str, year: int, code: str) -> dict:
        frame = self.conn.execute(
            "select * from mart.indicator_values where school_code = ? and year = ? and indicator_code = ?",
            [school, year, code],
        ).pl()
        return frame.row(0, named=True)

    def indicator_warning(self, school: str, year: int, code: str) -> dict:
        frame = self.conn.execute(
            "select * from mart.indicator_warnings where school_code = ? and year = ? and indicator_code = ?",
            [school, year, code],
        ).pl()
        return frame.row(0, named=True)

    def element(self, school: str, year: int, element_code: str) -> dict:
        frame = self.conn.execute(
            "select * from mart.element_warnings where school_code = ? and year = ? and element_code = ?",
            [school, year, element_code],
        ).pl()
        return frame.row(0, named=True)

    def elements_of(self, indicator_code: str) -> list[str]:
        found = self.conn.execute(
            "select element_code from ref.indicator_elements where indicator_code = ? order by 1", [indicator_code]
        ).fetchall()
        return [code for (code,) in found]

    def threshold(self, indicator_code: str, school_type: str) -> dict:
        frame = self.conn.execute(
            "select * from ref.thresholds where indicator_code = ? and school_type = ?", [indicator_code, school_type]
        ).pl()
        return frame.row(0, named=True)


def typical_college(warehouse: MiniWarehouse, school: str, year: int, books_total: int = 86_400) -> None:
    """Every raw table of one college-year; the figures are chosen to give round indicator values."""
    # long: one college's rows table by table, each beside the comment that derives its figures
    insert = warehouse.insert
    # 折合在校生 = 1000 高职 + 5 留学生×3 + 5 预科 + 10 进修 + 20 成人脱产 + 50 夜大×0.3 + 150 函授×0.1 = 1080;
    # 全日制在校生 = 1000 + 5 + 5 + 10 + 20 = 1040
    insert(
        "students_enrolled",
        school,
        year,
        [
            {
                "fulltime_total": 1000,
                "international_students": 5,
                "preparatory_students": 5,
                "further_study": 10,
                "adult_fulltime": 20,
                "evening": 50,
                "correspondence": 150,
            }
        ],
    )
    # 60 专任: 2 博士 + 10 硕士 degrees, 3 正高 + 9 副高, 30 双师, 400 hours each
    insert(
        "full_time_teachers",
        school,
        year,
        rows(
            60,
            staff_no=[f"T{i:03d}" for i in range(60)],
            highest_degree=["博士"] * 2 + ["硕士"] * 10 + ["学士"] * 48,
            title_level=["正高级"] * 3 + ["副高级"] * 9 + ["中级"] * 48,
            is_double_qualified=[True] * 30 + [False] * 30,
            teaching_hours=400,
        ),
    )
    insert(
        "internal_part_time_teachers", school, year, rows(5, staff_no=[f"P{i}" for i in range(5)], teaching_hours=100)
    )
    insert("external_part_time_teachers", school, year, rows(20, name=[f"E{i}" for i in range(20)], teaching_hours=150))
    insert("external_guest_teachers", school, year, rows(2, name=["G0", "G1"], teaching_hours=50))
    insert(
        "campus_area",
        school,
        year,
        [{"land_area": 62_400, "teaching_research_area": 12_000, "admin_office_area": 2_560, "dormitory_area": 6_760}],
    )
    insert("teaching_equipment", school, year, [{"equipment_value": 594, "equipment_value_new": 54}])
    insert("library_holdings", school, year, [{"books_total": books_total, "books_new": 3_240}])
    insert(
        "it_facilities", school, year, [{"teaching_computers": 104, "multimedia_seats": 780, "language_lab_seats": 52}]
    )
    insert("onsite_training_bases", school, year, rows(3, base_name=["A", "B", "C"], workstations=[100, 150, 250]))
    insert(
        "courses",
        school,
        year,
        rows(
            4,
            course_code=["C1", "C2", "C3", "C4"],
            total_hours=[64, 32, 48, 56],
            practice_hours=[32, 0, 48, 20],
            is_industry_developed=[True, False, False, False],
        ),
    )
    insert("internships", school, year, rows(2, major_code=["M1", "M2"], interns=[100, 50], relevant_interns=[80, 40]))
    insert("admissions", school, year, rows(2, major_code=["M1", "M2"], admitted=[300, 100], registered=[270, 90]))
    insert(
        "employment",
        school,
        year,
        rows(2, major_code=["M1", "M2"], graduates=[200, 100], employed=[180, 90], relevant_employed=[150, 66]),
    )
    insert("funding_income", school, year, [{"fiscal_appropriation": 1_296}])
    insert("funding_expenditure", school, year, [{"expenditure_total": 5_000, "daily_teaching": 1_000}])
    insert(
        "teaching_evaluations",
        school,
        year,
        rows(10, staff_no=[f"T{i:03d}" for i in range(10)], result=["优"] * 4 + ["良"] * 4 + ["中", "差"]),
    )
    insert("student_aid", school, year, rows(2, aid_name=["国家助学金", "校级奖学金"], students=[150, 50]))
    insert("leader_engagement", school, year, rows(4, name=["甲", "乙", "丙", "丁"], lectures_observed=[10, 12, 8, 10]))
    for table, count in (
        ("teaching_admin_staff", 2),
        ("student_affairs_staff", 8),
        ("admissions_employment_staff", 3),
        ("supervision_staff", 1),
        ("teaching_research_staff", 1),
    ):
        insert(table, school, year, rows(count, staff_no=[f"{table}{i}" for i in range(count)]))
    insert(
        "management_documents",
        school,
        year,
        rows(5, document_title=[f"文件{i}" for i in range(5)], category=["质量保证"] * 3 + ["教学管理", "其他"]),
    )
