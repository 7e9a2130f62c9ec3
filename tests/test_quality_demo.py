"""End to end on a small demo province: synth --defects → ingest → quality.

Each defect in the generator's manifest must appear in `quality.issues` against its college, year
and table, the elements citing a table it makes unusable must be `insufficient` naming that table,
and no error may appear that no defect explains (no false alarms on clean data).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pytest

from assets import quality
from assets.ref import build_reference_tables
from pipelines.catalog import load_catalog
from pipelines.demo.province import generate_province
from pipelines.ingest import ingest_inbox
from pipelines.registry import build_schools_table, load_registry
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.settings import get_settings

YEARS = [2023, 2024]
CATALOG = load_catalog()
AS_OF = dt.date(2024, 12, 1)
# defect kind → (check names that must report it, table status it leaves, or None for a warning)
EXPECTED = {
    "missing_table": ({"missing_table"}, "missing"),
    "corrupt_file": ({"missing_table"}, "missing"),
    # a few bad rows of 6.1 (hundreds of teachers) leave those rows out, not the table
    "out_of_domain": ({"allowed_values", "range"}, "partial"),
    "duplicate_key": ({"unique_key"}, "partial"),
    "inconsistent_total": ({"expenditure_total"}, "invalid"),
    "stale_period": ({"stale_period"}, "stale"),
    "late_export": ({"late_export"}, "warn"),
    "not_submitted": ({"college_outdated"}, "missing"),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        settings = get_settings()
        manifest = generate_province(settings.inbox, 4, YEARS, 11, True)
        path = home / "work.duckdb"
        with duckdb.connect(str(path)) as conn:
            build_reference_tables(conn)
            build_schools_table(conn, load_registry(settings.registry))
            ingest_inbox(conn, settings)
        # the quality layer as production runs it: its assets, in Dagster
        dg.materialize(
            [quality.issues, quality.table_status, *quality.ASSETS, quality.element_data_status],
            resources={
                "warehouse": WarehouseResource(path=str(path), published_path=str(home / "pub.duckdb")),
                "run_options": RunOptions(as_of=AS_OF.isoformat()),
            },
        )
        conn = duckdb.connect(str(path), read_only=True)
        yield manifest, conn
        conn.close()


def issues_of(conn, school, year) -> list[dict]:
    return (
        conn.execute("select * from quality.issues where school_code = ? and year = ?", [school, year]).pl().to_dicts()
    )


def test_every_manifest_defect_is_found_against_its_college_year_and_table(demo):
    manifest, conn = demo
    defects = [d for d in manifest["defects"] if d["kind"] in EXPECTED]
    assert {d["kind"] for d in defects} == set(EXPECTED)
    for defect in defects:
        checks, status = EXPECTED[defect["kind"]]
        found = [
            issue
            for issue in issues_of(conn, defect["school_code"], defect["year"])
            if issue["check_name"] in checks
            and (defect["kind"] == "not_submitted" or issue["table_code"] == defect["table_code"])
        ]
        assert found, defect
        if defect["row_nos"]:
            reported = " ".join(issue["message_zh"] for issue in found)
            for row_no in defect["row_nos"]:
                assert str(row_no) in reported, (defect, reported)
        if defect["table_code"]:
            verdict = conn.execute(
                "select status from quality.table_status where school_code = ? and year = ? and table_code = ?",
                [defect["school_code"], defect["year"], defect["table_code"]],
            ).fetchone()
            assert verdict == (status,), defect


def test_elements_citing_an_unusable_table_are_insufficient_naming_it(demo):
    manifest, conn = demo
    for defect in manifest["defects"]:
        if (
            defect["kind"] not in EXPECTED
            or EXPECTED[defect["kind"]][1] in ("warn", "partial")
            or not defect["table_code"]
        ):
            continue
        elements = conn.execute(
            "select distinct element_code from ref.point_platform_codes where platform_code = ?", [defect["table_code"]]
        ).fetchall()
        for (element,) in elements:
            status, reasons = conn.execute(
                "select status, reasons_zh from quality.element_data_status "
                "where school_code = ? and year = ? and element_code = ?",
                [defect["school_code"], defect["year"], element],
            ).fetchone()
            assert status == "insufficient" and f"表{defect['table_code']}" in reasons, (defect, element, reasons)


def test_a_few_bad_rows_are_left_out_and_leave_the_elements_sufficient(demo):
    manifest, conn = demo
    partial = [d for d in manifest["defects"] if EXPECTED.get(d["kind"], (None, None))[1] == "partial"]
    assert partial
    for defect in partial:
        excluded = {
            row_no
            for (row_no,) in conn.execute(
                "select row_no from quality.excluded_rows where school_code = ? and year = ? and table_code = ?",
                [defect["school_code"], defect["year"], defect["table_code"]],
            ).fetchall()
        }
        if CATALOG.by_code(defect["table_code"]).column(defect["column_name"]).required:
            assert set(defect["row_nos"]) <= excluded, defect
        else:
            # an optional column's few implausible values are a reminder within optional_column_mostly
            # (reference/quality_rules.csv): reported as a warning, the row is kept
            severities = {
                severity
                for (severity,) in conn.execute(
                    "select severity from quality.issues where school_code = ? and year = ? and table_code = ? "
                    "and column_name = ?",
                    [defect["school_code"], defect["year"], defect["table_code"], defect["column_name"]],
                ).fetchall()
            }
            assert severities == {"warn"} and not set(defect["row_nos"]) & excluded, (defect, severities)
        status, reasons = conn.execute(
            "select status, reasons_zh from quality.table_status where school_code = ? and year = ? and table_code = ?",
            [defect["school_code"], defect["year"], defect["table_code"]],
        ).fetchone()
        assert status == "partial" and reasons.startswith(f"排除有误的 {len(excluded)} 行"), reasons
        blocked = conn.execute(
            "select count(*) from quality.element_data_status e "
            "join ref.point_platform_codes c using (element_code) "
            "where e.school_code = ? and e.year = ? and c.platform_code = ? and e.status = 'insufficient' "
            "and e.reasons_zh like ?",
            [defect["school_code"], defect["year"], defect["table_code"], f"%表{defect['table_code']}%"],
        ).fetchone()[0]
        assert blocked == 0, defect
    # a clean college loses no row
    assert (
        conn.execute(
            "select count(*) from quality.excluded_rows where school_code in (select unnest(?::varchar[]))",
            [manifest["clean_schools"]],
        ).fetchone()[0]
        == 0
    )


def test_no_error_that_no_defect_explains(demo):
    manifest, conn = demo
    explained = {(d["school_code"], d["year"], d["table_code"]) for d in manifest["defects"]}
    not_submitted = {(d["school_code"], d["year"]) for d in manifest["defects"] if d["kind"] == "not_submitted"}
    errors = conn.execute("select * from quality.issues where severity = 'error'").pl().to_dicts()
    unexplained = [
        issue
        for issue in errors
        if (issue["school_code"], issue["year"], issue["table_code"]) not in explained
        and (issue["school_code"], issue["year"]) not in not_submitted
    ]
    assert unexplained == []
    for school in manifest["clean_schools"]:
        assert not [issue for issue in errors if issue["school_code"] == school]
