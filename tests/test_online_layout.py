"""The online 采集与管理系统's layout loads: its renumbered tables land in their V2 tables, and its
teacher sub-tables (6.1 教职工基本信息, 6.2 个人其他信息, 6.3 授课情况) are joined on 教工号 into V2
6.1 with the teaching hours summed per teacher."""

from __future__ import annotations

import csv
import datetime as dt

import duckdb
import openpyxl
import pytest

from pipelines.catalog import load_catalog
from pipelines.demo.layouts import ONLINE_VERSION, write_layout_fixtures
from pipelines.demo.plan import plan_schools
from pipelines.demo.province import generate_province
from pipelines.ingest import SUBTABLE_NOTE, ingest_inbox
from pipelines.settings import REFERENCE_DIR, get_settings
from quality_fixtures import QualityWarehouse

CATALOG = load_catalog()
SCHOOL = plan_schools(1, 7, [2024])[0].code  # write_layout_fixtures' college (its default seed and year)
TEACHER_COLUMNS = "staff_no, teaching_hours, is_double_qualified, title_level, highest_degree, industry_years"


def indicator_columns() -> list[tuple[str, str]]:
    with open(REFERENCE_DIR / "indicator_columns.csv", encoding="utf-8") as handle:
        return sorted({(row["table_code"], row["column_name"]) for row in csv.DictReader(handle)})


def assert_indicator_columns_loaded(conn, school: str, year: int) -> None:
    """Every column an indicator reads has values for the college-year, and no file lacks it."""
    for code, column in indicator_columns():
        table = CATALOG.by_code(code)
        filled = conn.execute(
            f'select count("{column}") from raw."{table.table_name}" where school_code = ? and year = ?', [school, year]
        ).fetchone()[0]
        assert filled > 0, (school, code, column)
        lacking = conn.execute(
            "select source_file from raw.ingest_log where school_code = ? and year = ? "
            "and table_code = ? and list_contains(missing_columns, ?)",
            [school, year, code, column],
        ).fetchall()
        assert not lacking, (code, column, lacking)


def delivered(conn, school: str, year: int) -> dict[str, set[str]]:
    rows = conn.execute(
        "select table_code, status from raw.ingest_log where school_code = ? and year = ?", [school, year]
    ).fetchall()
    found: dict[str, set[str]] = {}
    for code, status in rows:
        found.setdefault(code, set()).add(status)
    return found


def test_online_fixtures_load_every_table_with_every_column_an_indicator_needs():
    entries = write_layout_fixtures(get_settings().inbox / SCHOOL / "2024", ONLINE_VERSION)
    conn = duckdb.connect()
    summary = ingest_inbox(conn, get_settings())
    assert summary.quarantined == 0 and summary.loaded == len(entries)
    assert delivered(conn, SCHOOL, 2024) == {code: {"loaded"} for code in CATALOG.codes}
    assert_indicator_columns_loaded(conn, SCHOOL, 2024)
    # every data row and no more: a header's lower level under a few columns only is not a data row
    for entry in entries:
        if entry["table_code"] != "6.1":
            table = CATALOG.by_code(entry["table_code"])
            assert conn.sql(f'select count(*) from raw."{table.table_name}"').fetchone()[0] == entry["rows"], entry[
                "path"
            ]
    # the three sub-tables' files are each logged under V2 6.1 with a note saying so
    notes = conn.execute("select reason from raw.ingest_log where table_code = '6.1' order by source_file").fetchall()
    assert len(notes) == 3 and all(note.startswith(SUBTABLE_NOTE) for (note,) in notes)


def test_online_teacher_subtables_give_the_rows_of_the_same_colleges_v2_export():
    write_layout_fixtures(get_settings().inbox / SCHOOL / "2024", ONLINE_VERSION)
    write_layout_fixtures(get_settings().inbox / "99999" / "2024", "V2")  # the same college's data, V2 layout
    conn = duckdb.connect()
    ingest_inbox(conn, get_settings())

    def teachers(school: str) -> list[tuple]:
        return conn.execute(
            f"select {TEACHER_COLUMNS} from raw.full_time_teachers where school_code = ? order by staff_no", [school]
        ).fetchall()

    online, v2 = teachers(SCHOOL), teachers("99999")
    assert len(online) == len(v2) > 0 and len({row[0] for row in online}) == len(online)  # one row per teacher
    assert online == v2
    assert sum(row[1] or 0 for row in online) > 0
    # 授课情况 (one row per course) is logged with the joined table's rows, one per teacher
    (logged,) = conn.execute("select rows from raw.ingest_log where source_file like '%授课情况%'").fetchone()
    assert logged == len(online)


def test_a_delivery_without_the_teaching_subtable_loads_the_others_with_hours_null():
    folder = get_settings().inbox / SCHOOL / "2024"
    entries = write_layout_fixtures(folder, ONLINE_VERSION)
    (teaching,) = [e for e in entries if e["platform_table_code"] == "6.3"]
    (folder / teaching["path"]).unlink()
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    summary = ingest_inbox(warehouse.conn, get_settings())
    assert summary.quarantined == 0
    rows = warehouse.conn.execute(
        "select count(*), count(teaching_hours), count(is_double_qualified), count(title_level) "
        "from raw.full_time_teachers"
    ).fetchone()
    base = next(e for e in entries if e["platform_table_code"] == "6.1")
    assert rows == (base["rows"], 0, base["rows"], base["rows"])
    logged = warehouse.conn.execute(
        "select source_file, missing_columns from raw.ingest_log where table_code = '6.1'"
    ).fetchall()
    assert len(logged) == 2 and all("teaching_hours" in missing for _, missing in logged)
    warehouse.run(dt.date(2024, 12, 1), suites=("6.1",))
    (issue,) = warehouse.issues(check_name="missing_column", table_code="6.1", column_name="teaching_hours")
    assert issue["school_code"] == SCHOOL
    assert not warehouse.issues(check_name="missing_column", table_code="6.1", column_name="is_double_qualified")


def test_a_rerun_leaves_the_joined_table_unchanged_and_a_new_subtable_reloads_it():
    folder = get_settings().inbox / SCHOOL / "2024"
    entries = write_layout_fixtures(folder, ONLINE_VERSION)
    (teaching,) = [e for e in entries if e["platform_table_code"] == "6.3"]
    held = (folder / teaching["path"]).read_bytes()
    (folder / teaching["path"]).unlink()
    conn = duckdb.connect()
    ingest_inbox(conn, get_settings())
    assert ingest_inbox(conn, get_settings()).loaded == 0
    (folder / teaching["path"]).write_bytes(held)  # the college sends 授课情况 later
    again = ingest_inbox(conn, get_settings())
    assert again.loaded == 3 and again.quarantined == 0
    assert (
        conn.sql("select count(*), count(teaching_hours) from raw.full_time_teachers").fetchone()
        == (next(e for e in entries if e["platform_table_code"] == "6.1")["rows"],) * 2
    )


@pytest.fixture(scope="module")
def mixed_province(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    manifest = generate_province(
        out / "inbox",
        4,
        [2024],
        seed=11,
        defects=False,
        registry=tmp_path_factory.mktemp("registry") / "registry.csv",
        layouts="mixed",
    )
    return out, manifest


def test_the_online_colleges_of_the_mixed_demo_layout_load_whole(mixed_province, monkeypatch):
    out, manifest = mixed_province
    monkeypatch.setenv("ZHENGAI_HOME", str(out))
    online = [
        (entry["school_code"], entry["year"]) for entry in manifest["layouts"] if entry["layout"] == ONLINE_VERSION
    ]
    assert online
    conn = duckdb.connect()
    summary = ingest_inbox(conn, get_settings())
    assert summary.quarantined == 0
    for school, year in online:
        assert set(delivered(conn, school, year)) >= {t.code for t in CATALOG.tables if t.required}
        assert_indicator_columns_loaded(conn, school, year)


def test_an_alias_rereads_every_subtable_from_the_archive_when_the_inbox_was_cleared(tmp_path, monkeypatch):
    aliases = tmp_path / "header_aliases.csv"
    aliases.write_bytes((REFERENCE_DIR / "header_aliases.csv").read_bytes())
    monkeypatch.setenv("ZHENGAI_HEADER_ALIASES", str(aliases))
    folder = get_settings().inbox / SCHOOL / "2024"
    write_layout_fixtures(folder, ONLINE_VERSION)
    conn = duckdb.connect()
    ingest_inbox(conn, get_settings())
    before = conn.sql(f"select {TEACHER_COLUMNS} from raw.full_time_teachers order by staff_no").fetchall()
    for path in folder.iterdir():
        path.unlink()  # the college's delivery was cleared from the inbox after the first run
    with open(aliases, "a", encoding="utf-8") as handle:
        handle.write("6.1,双师型,is_double_qualified,test\n")  # 6.1's mapping changes: its files are read again
    again = ingest_inbox(conn, get_settings())
    assert again.loaded == 3 and again.quarantined == 0  # all three sub-tables, not the one ingest_current names
    assert conn.sql(f"select {TEACHER_COLUMNS} from raw.full_time_teachers order by staff_no").fetchall() == before


def add_column(folder, entry: dict, header: str, value: str) -> None:
    """A column the catalog does not know, added at the right of a fixture's header and data rows."""
    workbook = openpyxl.load_workbook(folder / entry["path"])
    sheet = workbook.active
    header_row = next(row[0].row for row in sheet.iter_rows() if row[0].value == "序号")
    column = sheet.max_column + 1
    sheet.cell(header_row, column, header)
    for row in range(entry["first_data_row"], entry["first_data_row"] + entry["rows"]):
        sheet.cell(row, column, f"{value}{row}")
    workbook.save(folder / entry["path"])


def online_delivery() -> tuple:
    folder = get_settings().inbox / SCHOOL / "2024"
    entries = {
        entry["platform_table_code"]: entry
        for entry in write_layout_fixtures(folder, ONLINE_VERSION)
        if entry["table_code"] == "6.1"
    }
    return folder, entries


def teacher_log(conn) -> dict[str, dict]:
    frame = conn.sql("select * from raw.ingest_log where table_code = '6.1'").pl()
    return {row["source_file"].rsplit("/", 1)[-1].split()[0]: row for row in frame.to_dicts()}


def not_exported_by(version: str) -> list[str]:
    exported = {
        column.name
        for shape in CATALOG.shapes_of(version)
        if shape.table_name == "full_time_teachers"
        for column in shape.columns
    }
    return [column.name for column in CATALOG.by_code("6.1").columns if column.name not in exported]


def test_a_column_the_online_platform_does_not_export_is_no_omission_of_the_college():
    online_delivery()
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    ingest_inbox(warehouse.conn, get_settings())
    absent = not_exported_by(ONLINE_VERSION)
    assert "first_education" in absent and "teaching_hours" not in absent  # from the catalog's shapes
    for row in teacher_log(warehouse.conn).values():
        assert (row["missing_columns"], row["not_exported_columns"]) == ([], absent)
    warehouse.run(dt.date(2024, 12, 1), suites=("6.1",))
    assert not warehouse.issues(check_name="missing_column", table_code="6.1")
    issues = warehouse.issues(check_name="not_exported_column", table_code="6.1")
    assert sorted(issue["column_name"] for issue in issues) == sorted(absent)
    assert all(issue["severity"] == "info" and "本平台版本不导出该字段" in issue["message_zh"] for issue in issues)


def test_a_subtable_the_college_did_not_send_is_its_omission_not_the_platforms():
    folder, entries = online_delivery()
    (folder / entries["6.2"]["path"]).unlink()
    conn = duckdb.connect()
    ingest_inbox(conn, get_settings())
    for row in teacher_log(conn).values():
        assert {"is_double_qualified", "industry_years"} <= set(row["missing_columns"])
        assert row["not_exported_columns"] == not_exported_by(ONLINE_VERSION)
        assert not set(row["missing_columns"]) & set(row["not_exported_columns"])


def test_the_courses_of_the_teaching_subtable_are_kept_with_each_teacher_without_a_warning():
    online_delivery()
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    ingest_inbox(warehouse.conn, get_settings())
    teaching = teacher_log(warehouse.conn)["6.3"]
    assert (teaching["extra_columns"], teaching["unmapped_headers"]) == ([], [])
    assert "课程名称" in teaching["reason"]
    extra = dict(warehouse.conn.execute("select staff_no, extra from raw.full_time_teachers").fetchall())
    assert extra["20170001"]["课程名称"] == "课程01；课程02；课程03"
    warehouse.run(dt.date(2024, 12, 1), suites=("6.1",))
    assert not warehouse.issues(check_name="unknown_columns", table_code="6.1")


def test_unknown_columns_of_every_subtable_join_the_teachers_row_and_are_reported():
    folder, entries = online_delivery()
    add_column(folder, entries["6.1"], "办公地点", "楼")
    add_column(folder, entries["6.2"], "办公电话", "0771-")
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    ingest_inbox(warehouse.conn, get_settings())
    log = teacher_log(warehouse.conn)
    assert (log["6.1"]["extra_columns"], log["6.2"]["extra_columns"]) == (["办公地点"], ["办公电话"])
    extra = dict(warehouse.conn.execute("select staff_no, extra from raw.full_time_teachers").fetchall())
    first = entries["6.1"]["first_data_row"]
    assert extra["20170001"] == {
        "办公地点": f"楼{first}",
        "办公电话": f"0771-{first}",
        "课程名称": "课程01；课程02；课程03",
    }
    warehouse.run(dt.date(2024, 12, 1), suites=("6.1",))
    issues = warehouse.issues(check_name="unknown_columns", table_code="6.1")
    assert sorted(issue["samples"] for issue in issues) == ["办公地点", "办公电话"]
