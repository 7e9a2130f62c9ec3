"""The ingest reading files: identification, header mapping, coercion, CSV encodings, workbooks with
several sheets, missing and unknown columns, what is quarantined and why."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import xlsxwriter

from ingest_fixtures import (
    EXPORTED_AT,
    TEACHERS_FILE,
    inbox,
    log_rows,
    run,
    sample_rows,
    snapshot,
    teacher_rows,
    teachers,
    write_college,
    write_csv,
    write_xlsx,
)
from pipelines.catalog import load_catalog
from pipelines.ingest import LABEL_COLUMNS, coerce, identify_table, normalise_header, period_year, type_chunk
from pipelines.settings import get_settings

CATALOG = load_catalog()
TEACHERS = CATALOG.by_code("6.1")


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("表6.1 校内专任教师", "6.1"),
        ("6-1 校内专任教师", "6.1"),
        ("表 1.3.1 当年招生计划", "1.3.1"),
        ("专职招生就业人员", "8.4"),
        ("表9.1 招生", "9.1"),
        ("表６.１校内专任教师", "6.1"),
    ],
)
def test_tables_are_identified_by_code_or_name(label, code):
    table, _ = identify_table(label, CATALOG)
    assert table is not None and table.code == code


@pytest.mark.parametrize("label", ["说明", "表6.1 校外兼职教师", "Sheet1"])
def test_unknown_or_contradictory_names_identify_nothing(label):
    assert identify_table(label, CATALOG)[0] is None


def test_headers_are_normalised_for_spaces_width_and_brackets():
    assert (
        normalise_header(" 专业技术职务（最高） ") == normalise_header("专业技术职务【最高】") == "专业技术职务(最高)"
    )
    assert normalise_header("出\u3000生 日期") == "出生日期"
    assert normalise_header("*姓名") == "姓名"


@pytest.mark.parametrize("variant", [0, 1, 2])
@pytest.mark.parametrize("code", ["1.3.2", "3.1", "6.1", "9.2", "8.8"])
def test_every_header_variant_maps_every_column(conn, code, variant):
    table = CATALOG.by_code(code)
    rows = sample_rows(table, 2)
    write_xlsx(inbox() / "13829" / "2024" / f"表{code} {table.name_zh}.xlsx", table, rows, variant=variant)
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (1, 0)
    loaded = conn.sql(f'select * from raw."{table.table_name}" order by row_no').pl()
    assert loaded.height == 2
    assert [c for c in loaded.columns if loaded[c].null_count() and c != "extra"] == []
    assert loaded["extra"].null_count() == 2  # no unrecognised column
    assert log_rows(conn)[0]["extra_columns"] == []


def test_two_level_header_is_flattened_and_row_numbers_are_sheet_rows(conn):
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    run(conn)
    loaded = teachers(conn)
    # title row 1, two header rows 2-3: data starts on sheet row 4
    assert loaded["row_no"].to_list() == [4, 5]
    assert loaded["first_education"].to_list() == ["大学本科", "专科"]
    assert loaded["first_degree"].to_list() == ["学士", "无"]  # 无 is an allowed value here, not a blank
    assert loaded["highest_degree"].to_list() == ["硕士", "学士"]
    assert loaded["birth_date"].to_list() == [dt.date(1985, 7, 12), dt.date(1990, 3, 1)]
    assert loaded["teaching_hours"].to_list() == [320, 280]
    assert loaded["is_double_qualified"].to_list() == [True, False]


def test_title_rows_above_a_sheet_that_starts_lower_keep_row_numbers(conn):
    path = inbox() / "13829" / "2024" / "表7.1 专业设置.xlsx"
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("表7.1")
    sheet.write(2, 1, "某学院 表7.1 专业设置（2023-2024学年）")
    sheet.write(3, 1, "填报单位：教务处")
    for j, text in enumerate(["序号", "专业代码", "专业名称", "在校生数"], start=1):
        sheet.write(4, j, text)
    sheet.write_row(5, 1, [1, "460103", "数控技术", 320])
    workbook.close()
    run(conn)
    row = conn.sql("select major_code, major_name, enrolled_students, row_no from raw.majors").fetchall()
    assert row == [("460103", "数控技术", 320, 6)]
    (log,) = log_rows(conn)
    assert log["title"] == "某学院 表7.1 专业设置（2023-2024学年） 填报单位：教务处"
    assert log["period_year"] == 2024


def test_total_rows_are_dropped_and_a_total_column_is_kept(conn):
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows(), total={"teaching_hours": 600})
    income = CATALOG.by_code("5.1")
    rows = [{"income_total": 100.0, "fiscal_appropriation": 60.0, "tuition": 40.0}]
    write_xlsx(
        inbox() / "13829" / "2024" / "表5.1 经费收入.xlsx",
        income,
        rows,
        variant=2,
        columns=["income_total", "fiscal_appropriation", "tuition"],
    )
    run(conn)
    assert teachers(conn)["teaching_hours"].to_list() == [320, 280]
    assert conn.sql("select income_total, tuition from raw.funding_income").fetchall() == [(100.0, 40.0)]


def test_blank_and_numbered_template_rows_are_dropped(conn):
    rows = [*teacher_rows(), {}, {"name": " "}]  # rows 6 and 7: only their 序号 (and a space) filled
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, rows)
    run(conn)
    assert teachers(conn)["row_no"].to_list() == [4, 5]
    assert log_rows(conn)[0]["rows"] == 2


def test_extra_columns_are_kept_aside_not_fatal(conn):
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows(), extra_headers=("备注", "联系电话"))
    summary = run(conn)
    assert summary.loaded == 1
    assert log_rows(conn)[0]["extra_columns"] == ["备注", "联系电话"]
    assert teachers(conn).height == 2


# -- coercion -------------------------------------------------------------------------------------


def coerced(code: str, column: str, values: list) -> list:
    value, _ = coerce(pa.array(values, pa.string()), CATALOG.by_code(code).column(column))
    return value.to_pylist()


def test_dates_in_every_written_form():
    values = [
        "1985-07-12",
        "1985.07",
        "198507",
        "19850712",
        "1985/7/12",
        "1985年7月",
        "31240",
        "1985-07-12 00:00:00",
        "",
        "无",
        "-",
        "—",
        "不详",
        "1985.13",
    ]
    assert coerced("6.1", "birth_date", values) == [
        dt.date(1985, 7, 12),
        dt.date(1985, 7, 1),
        dt.date(1985, 7, 1),
        dt.date(1985, 7, 12),
        dt.date(1985, 7, 12),
        dt.date(1985, 7, 1),
        dt.date(1985, 7, 12),
        dt.date(1985, 7, 12),
        None,
        None,
        None,
        None,
        None,
        None,
    ]


def test_numbers_as_text_full_width_and_blanks():
    assert coerced("6.1", "teaching_hours", ["320", "３２０", " 1,200 ", "12.0", "12.5", "无", "-", "abc"]) == [
        320,
        320,
        1200,
        12,
        None,
        None,
        None,
        None,
    ]
    assert coerced("3.1", "land_area", ["1234.5", "１２３４．５", "", "—"]) == [1234.5, 1234.5, None, None]


def test_booleans_categories_and_text():
    assert coerced("6.1", "is_double_qualified", ["是", "否", " 是 ", "", "也许"]) == [True, False, True, None, None]
    assert coerced("6.1", "title_level", ["无", "中级", "-"]) == ["无", "中级", None]
    assert coerced("7.2", "course_type", ["Ａ", " B "]) == ["A", "B"]
    assert coerced("6.1", "vocational_certificate", ["无", "电工证", "\u3000"]) == [None, "电工证", None]


def extracted_text(rows: list[dict], file_id: int) -> pa.Table:
    """Rows as `extract` hands them to typing: text cells, the 序号 label, sheet row number, file id."""
    names = sorted({name for row in rows for name in row if name != "序号"})
    columns = {name: pa.array([row.get(name) for row in rows], pa.string()) for name in names}
    columns["__label0"] = pa.array([row.get("序号") for row in rows], pa.string())
    for number in range(1, LABEL_COLUMNS):
        columns[f"__label{number}"] = pa.nulls(len(rows), pa.string())
    columns["row_no"] = pa.array(range(4, 4 + len(rows)), pa.int32())
    columns["__file"] = pa.array([file_id] * len(rows), pa.int32())
    return pa.table(columns)


def test_tables_typed_together_in_a_chunk_come_out_as_each_typed_alone():
    # integer columns of both tables share one coercion pass: each cell must come back to its own row
    teachers = [
        {"序号": "1", "staff_no": "T1", "teaching_hours": "320", "birth_date": "1985.07"},
        {"序号": "2", "staff_no": "T2", "teaching_hours": "很多", "birth_date": "不详"},
        {"序号": "3"},
        {"序号": "合计", "teaching_hours": "320"},
    ]
    majors = [
        {"序号": "1", "major_code": "460103", "enrolled_students": "１２０", "new_students": "四十"},
        {"序号": "小计", "enrolled_students": "120"},
        {"序号": "2", "major_code": "460104", "enrolled_students": "-", "duration_years": "3"},
    ]
    files = {
        1: ("13829", 2024, "a.xlsx", "a" * 64, dt.datetime(2024, 12, 1)),
        2: ("13829", 2024, "b.xlsx", "b" * 64, dt.datetime(2024, 12, 1)),
    }
    together = type_chunk(
        {"full_time_teachers": [extracted_text(teachers, 1)], "majors": [extracted_text(majors, 2)]}, CATALOG, files
    )
    alone = [
        type_chunk({"full_time_teachers": [extracted_text(teachers, 1)]}, CATALOG, files),
        type_chunk({"majors": [extracted_text(majors, 2)]}, CATALOG, files),
    ]
    assert together[1] == {1: (2, 2), 2: (2, 1)}  # (rows, coercion failures) per file
    assert together[1] == {**alone[0][1], **alone[1][1]}
    assert together[0]["full_time_teachers"].equals(alone[0][0]["full_time_teachers"])
    assert together[0]["majors"].equals(alone[1][0]["majors"])
    typed_majors = together[0]["majors"].to_pydict()
    assert typed_majors["enrolled_students"] == [120, None]
    assert typed_majors["new_students"] == [None, None]
    assert typed_majors["row_no"] == [4, 6]
    assert together[0]["full_time_teachers"].to_pydict()["teaching_hours"] == [320, None]
    # whole columns, not a chunk per file: DuckDB's scan and the pickle to the main process pay per chunk
    several_files = type_chunk({"majors": [extracted_text(majors, 2), extracted_text(majors, 1)]}, CATALOG, files)[0]
    assert {column.num_chunks for column in several_files["majors"].columns} == {1}


def test_uncoercible_values_become_null_and_are_counted(conn):
    rows = teacher_rows()
    rows[0]["birth_date"] = "不详"
    rows[1]["teaching_hours"] = "很多"
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, rows)
    summary = run(conn)
    assert summary.loaded == 1
    assert teachers(conn)["birth_date"].to_list() == [None, dt.date(1990, 3, 1)]
    assert teachers(conn)["teaching_hours"].to_list() == [320, None]
    assert log_rows(conn)[0]["coercion_failures"] == 2


def test_title_period_and_export_time_are_logged(conn):
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows(), year=2023)
    run(conn)
    (log,) = log_rows(conn)
    assert log["title"] == "广西测试职业技术学院 表6.1 校内专任教师（2022-2023学年）"
    assert (log["period_year"], log["year"], log["exported_at"]) == (2023, 2024, EXPORTED_AT)
    assert period_year("（２０２３－２０２４学年）") == 2024 and period_year("无学年") is None


# -- formats and layouts --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_each_encoding_loads_like_the_workbook(conn, encoding):
    rows = teacher_rows()
    if encoding == "gb18030":
        rows[0]["name"] = "张𠮷"  # not encodable in GBK
    write_csv(inbox() / "13829" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows, encoding=encoding)
    write_xlsx(inbox() / "13830" / "2024" / TEACHERS_FILE, TEACHERS, rows)
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (2, 0)
    csv_rows, xlsx_rows = (
        teachers(conn, school).drop("school_code", "source_file", "file_sha256", "row_no")
        for school in ("13829", "13830")
    )
    assert csv_rows.equals(xlsx_rows)
    assert teachers(conn, "13829")["row_no"].to_list() == [3, 4]
    csv_log = next(row for row in log_rows(conn) if row["school_code"] == "13829")
    assert csv_log["exported_at"] is None and csv_log["period_year"] == 2024


def test_workbook_with_sheets_named_by_table(conn):
    path = inbox() / "13829" / "2024" / "13829 状态数据 2024.xlsx"
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": EXPORTED_AT})
    majors = CATALOG.by_code("7.1")
    write_xlsx(path, TEACHERS, teacher_rows(), workbook=workbook, sheet="表6.1 校内专任教师")
    write_xlsx(path, majors, sample_rows(majors, 3), workbook=workbook, sheet="7-1专业设置")
    workbook.add_worksheet("填表说明").write(0, 0, "请按模板填写")
    workbook.close()
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (2, 0)
    assert [(r["table_code"], r["rows"]) for r in log_rows(conn)] == [("6.1", 2), ("7.1", 3)]
    assert teachers(conn).height == 2
    assert run(conn).unchanged == 2


# -- bad inputs: quarantined with a reason, nothing else changed ---------------------------------


def test_corrupt_workbook_is_quarantined_and_nothing_else_changes(conn):
    write_college(inbox(), "13830", 2024, ["6.1", "7.1"])
    run(conn)
    before = snapshot(conn)
    good = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    good.write_bytes(good.read_bytes()[:1500])
    summary = run(conn)
    assert (summary.loaded, summary.unchanged, summary.quarantined) == (0, 2, 1)
    assert snapshot(conn) == before
    quarantined = [row for row in log_rows(conn) if row["status"] == "quarantined"]
    assert [(r["source_file"], r["table_code"]) for r in quarantined] == [(f"13829/2024/{TEACHERS_FILE}", "6.1")]
    assert "已损坏" in quarantined[0]["reason"] and "damaged" in quarantined[0]["reason_en"]
    folder = get_settings().quarantine / "13829" / "2024"
    assert (folder / TEACHERS_FILE).read_bytes() == good.read_bytes()
    reason = (folder / f"{TEACHERS_FILE}.reason.txt").read_text(encoding="utf-8")
    assert f"13829/2024/{TEACHERS_FILE}" in reason and "6.1 校内专任教师" in reason and "重新导出" in reason
    assert good.exists()


def test_unknown_table_is_quarantined(conn):
    write_xlsx(inbox() / "13829" / "2024" / "学校简介.xlsx", TEACHERS, teacher_rows(), sheet="Sheet1")
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 1)
    (log,) = log_rows(conn)
    assert log["table_code"] is None and "无法识别文件 学校简介.xlsx 属于哪张表" in log["reason"]
    assert (get_settings().quarantine / "13829" / "2024" / "学校简介.xlsx.reason.txt").is_file()


def test_missing_column_loads_the_rows_with_it_null_and_keeps_the_unknown_header_per_row(conn):
    columns = [c.name for c in TEACHERS.columns if c.name != "birth_date"]
    rows = [{**row, "生日": f"1985.0{n}"} for n, row in enumerate(teacher_rows(), start=1)]
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, rows, columns=columns, extra_headers=("生日",))
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (1, 0)
    (log,) = log_rows(conn)
    assert log["missing_columns"] == ["birth_date"] and log["extra_columns"] == ["生日"]
    assert log["unmapped_headers"] == [
        {"header": "生日", "likely_column": "birth_date", "samples": ["1985.01", "1985.02"]}
    ]
    loaded = teachers(conn)
    assert loaded["staff_no"].to_list() == ["T001", "T002"] and loaded["birth_date"].null_count() == 2
    assert conn.sql("select extra['生日'] from raw.full_time_teachers order by row_no").fetchall() == [
        ("1985.01",),
        ("1985.02",),
    ]


def test_a_file_without_any_key_column_is_quarantined_naming_what_it_has(conn):
    columns = [c.name for c in TEACHERS.columns if c.name != "staff_no"]
    write_xlsx(
        inbox() / "13829" / "2024" / TEACHERS_FILE,
        TEACHERS,
        teacher_rows(),
        columns=columns,
        extra_headers=("人员编码",),
    )
    assert run(conn).quarantined == 1
    (log,) = log_rows(conn)
    assert "没有区分各行记录的列（教工号）" in log["reason"] and "未识别的表头：人员编码" in log["reason"]
    assert "重新导出" not in log["reason"] and "staff_no" in log["reason_en"]
    assert teachers(conn).height == 0


def test_sheet_without_recognisable_header_is_quarantined(conn):
    path = inbox() / "13829" / "2024" / TEACHERS_FILE
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for r in range(5):
        sheet.write_row(r, 0, [r, r * 2, "x"])
    workbook.close()
    assert run(conn).quarantined == 1
    assert "找不到表头" in log_rows(conn)[0]["reason"]


def test_a_bad_sheet_stays_quarantined_beside_its_good_sibling_on_rerun(conn):
    path = inbox() / "13829" / "2024" / "状态数据.xlsx"
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(str(path))
    majors = CATALOG.by_code("7.1")
    write_xlsx(path, TEACHERS, teacher_rows(), workbook=workbook, sheet="表6.1")
    write_xlsx(path, majors, sample_rows(majors, 2), workbook=workbook, sheet="表7.1", columns=["major_name"])
    workbook.close()
    first = run(conn)
    assert (first.loaded, first.quarantined) == (1, 1)
    second = run(conn)
    assert (second.unchanged, second.quarantined) == (1, 1)
    assert [(row["table_code"], row["status"]) for row in log_rows(conn)] == [
        ("6.1", "unchanged"),
        ("7.1", "quarantined"),
    ]
    assert "工作表“表7.1”" in log_rows(conn)[1]["reason"] and "专业代码" in log_rows(conn)[1]["reason"]


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("广西某某职业技术学院 表6.1 校内专任教师（2023-2024学年）", 2024),
        ("6.1 教职工基本信息 学校名称：某某学院（10082）\u3000采集时段：2022-09-01至2023-08-31", 2023),  # online system
        ("采集时段：2022年9月1日至2023年8月31日", 2023),
        ("采集时段：2022-09-01至2023-06-30", None),  # a window that is not a 学年 names none
        ("表6.1 校内专任教师", None),
    ],
)
def test_the_period_is_read_from_either_platform_title(title, year):
    from pipelines.ingest import period_year

    assert period_year(title) == year
