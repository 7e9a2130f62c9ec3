"""DuckDB's screen of the expectation suites (pipelines/quality/screen.py): it finds every
college-year and expectation GX would fail, so that screened runs report exactly what GX alone
reports, and it clears clean data without GX."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from quality_fixtures import QualityWarehouse, clean_rows

SCHOOL = "13001"  # the college with the defect
OTHER = "13002"  # a clean college
YEAR = 2024
AS_OF = dt.date(2024, 12, 1)


def duplicate_staff_no(rows):
    rows[3]["staff_no"] = rows[4]["staff_no"]


def practice_over_total(rows):
    rows[0]["practice_hours"] = rows[0]["total_hours"] + 1


def second_income_row(rows):
    rows.append(dict(rows[0]))


# (table code, how the defective college's rows are broken, the check that must report it)
DEFECTS = {
    "required_text_missing": ("6.1", lambda rows: rows[2].update(staff_no=None), "required"),
    "not_an_allowed_value": ("6.1", lambda rows: rows[5].update(gender="X"), "allowed_values"),
    "duplicate_key": ("6.1", duplicate_staff_no, "unique_key"),
    "out_of_range": ("6.1", lambda rows: rows[7].update(industry_years=99), "range"),
    "derived_age_out_of_range": ("6.1", lambda rows: rows[1].update(birth_date=dt.date(YEAR - 10, 1, 1)), "age_range"),
    "pair_out_of_order": ("7.2", practice_over_total, "practice_within_total"),
    "nan_is_null_for_gx": ("5.1", lambda rows: rows[0].update(income_total=float("nan")), "required"),
    "two_rows_for_one": ("5.1", second_income_row, "one_row"),
}


def warehouse_with(code: str, change) -> QualityWarehouse:
    from pipelines.quality.calendar import quality_params
    from pipelines.quality.inputs import prepare_inputs

    w = QualityWarehouse()
    for school in (SCHOOL, OTHER):
        w.add_school(school)
    table = w.table(code)
    broken = clean_rows(table, YEAR, 12 if table.grain != "school" else None)
    change(broken)
    w.deliver(SCHOOL, YEAR, rows={code: broken})
    w.deliver(OTHER, YEAR, rows={code: clean_rows(table, YEAR, 12 if table.grain != "school" else None)})
    prepare_inputs(w.conn, quality_params(AS_OF))
    return w


def ordered(found: list[dict]) -> list[dict]:
    return sorted(found, key=lambda i: json.dumps(i, sort_keys=True, ensure_ascii=False))


def screened(w: QualityWarehouse, code: str, suite: dict | None = None) -> dict:
    from pipelines.quality.screen import screened_college_years
    from pipelines.quality.suites import load_suite

    table = w.table(code)
    return screened_college_years(w.conn, table, suite or load_suite(table.table_name), "college_years")


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_the_screen_finds_each_defect_and_screened_runs_report_what_gx_alone_reports(defect):
    from pipelines.quality.calendar import quality_params
    from pipelines.quality.gx_runner import suite_issues
    from pipelines.quality.suites import load_suite

    code, change, check = DEFECTS[defect]
    w = warehouse_with(code, change)
    params = quality_params(AS_OF)
    gx_alone = ordered(suite_issues(w.conn, params, tables=(code,), cache=False))
    assert check in {i["check_name"] for i in gx_alone if i["school_code"] == SCHOOL}
    assert ordered(suite_issues(w.conn, params, tables=(code,))) == gx_alone

    suite = load_suite(w.table(code).table_name)
    flagged = screened(w, code)
    assert set(flagged) == {(SCHOOL, YEAR)}  # the clean college is cleared without GX
    assert check in {suite["expectations"][index]["meta"]["check"] for index in flagged[(SCHOOL, YEAR)]}


def test_clean_data_needs_no_gx(monkeypatch):
    import pipelines.quality.gx_runner as runner
    from pipelines.quality.calendar import quality_params

    def no_gx():
        raise AssertionError("clean data must not need GX")

    monkeypatch.setattr(runner, "gx_context", no_gx)
    w = warehouse_with("6.1", lambda rows: None)
    assert screened(w, "6.1") == {}
    assert runner.suite_issues(w.conn, quality_params(AS_OF), tables=("6.1", "7.2", "5.1")) == []


def test_an_expectation_the_screen_cannot_read_is_left_to_gx_for_every_college_year():
    from pipelines.quality.suites import load_suite

    w = warehouse_with("6.1", lambda rows: None)
    suite = load_suite("full_time_teachers")
    unknown = {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "staff_no", "regex": "^T"}}
    condition = {**suite["expectations"][4], "kwargs": {**suite["expectations"][4]["kwargs"], "row_condition": "x"}}
    missing = {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["no_such"], "exact_match": False}}
    wider = {**suite, "expectations": [*suite["expectations"], unknown, condition, missing]}
    added = set(range(len(suite["expectations"]), len(wider["expectations"])))
    assert screened(w, "6.1", wider) == {(SCHOOL, YEAR): added, (OTHER, YEAR): added}
