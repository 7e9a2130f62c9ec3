"""The ingest: inbox layouts, header mapping, coercion, idempotence, archive and quarantine."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
import pytest
import xlsxwriter

from assets import raw
from ingest_fixtures import EXPORTED_AT, sample_rows, write_college, write_csv, write_xlsx
from pipelines.catalog import load_catalog
from pipelines.ingest import (LABEL_COLUMNS, Delivery, Ingest, SchoolWork, _write_once, chunks_by_bytes, coerce, identify_table,
                              ingest_inbox, normalise_header, period_year, type_chunk)
from pipelines.resources import WarehouseResource
from pipelines.settings import get_settings

CATALOG = load_catalog()
TEACHERS = CATALOG.by_code("6.1")
TEACHERS_FILE = "表6.1 校内专任教师.xlsx"


def teacher_rows() -> list[dict]:
    return [
        {"staff_no": "T001", "name": "张三", "gender": "男", "birth_date": dt.date(1985, 7, 12),
         "first_education": "大学本科", "first_degree": "学士", "highest_education": "硕士研究生",
         "highest_degree": "硕士", "title_level": "副高级", "is_double_qualified": "是", "teaching_hours": 320},
        {"staff_no": "T002", "name": "李四", "gender": "女", "birth_date": "1990.03",
         "first_education": "专科", "first_degree": "无", "highest_education": "大学本科",
         "highest_degree": "学士", "title_level": "中级", "is_double_qualified": "否", "teaching_hours": "２８０"},
    ]


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def run(conn):
    return ingest_inbox(conn, get_settings())


def inbox() -> Path:
    return get_settings().inbox


def log_rows(conn) -> list[dict]:
    frame = conn.sql("select * from raw.ingest_log order by source_file, table_code").pl()
    return frame.to_dicts()


def snapshot(conn) -> dict[str, list[tuple]]:
    """Every raw table's rows, sorted: to prove that nothing else changed."""
    tables = {t.table_name: conn.sql(f'select * from raw."{t.table_name}" order by all').fetchall()
              for t in CATALOG.tables}
    tables["ingest_log"] = conn.sql(
        "select * exclude (status) from raw.ingest_log where status <> 'quarantined' order by all"
    ).fetchall()
    return tables


def teachers(conn, school: str = "13829") -> pl.DataFrame:
    return conn.sql(f"select * from raw.full_time_teachers where school_code = '{school}' order by row_no").pl()


# -- identification and headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "code"),
    [("表6.1 校内专任教师", "6.1"), ("6-1 校内专任教师", "6.1"), ("表 1.3.1 当年招生计划", "1.3.1"),
     ("专职招生就业人员", "8.4"), ("表9.1 招生", "9.1"), ("表６.１校内专任教师", "6.1")],
)
def test_tables_are_identified_by_code_or_name(label, code):
    table, _ = identify_table(label, CATALOG)
    assert table is not None and table.code == code


@pytest.mark.parametrize("label", ["说明", "表6.1 校外兼职教师", "Sheet1"])
def test_unknown_or_contradictory_names_identify_nothing(label):
    assert identify_table(label, CATALOG)[0] is None


def test_headers_are_normalised_for_spaces_width_and_brackets():
    assert normalise_header(" 专业技术职务（最高） ") == normalise_header("专业技术职务【最高】") == "专业技术职务(最高)"
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
    write_xlsx(inbox() / "13829" / "2024" / "表5.1 经费收入.xlsx", income, rows, variant=2,
               columns=["income_total", "fiscal_appropriation", "tuition"])
    run(conn)
    assert teachers(conn)["teaching_hours"].to_list() == [320, 280]
    assert conn.sql("select income_total, tuition from raw.funding_income").fetchall() == [(100.0, 40.0)]


def test_blank_and_numbered_template_rows_are_dropped(conn):
    rows = teacher_rows() + [{}, {"name": " "}]  # rows 6 and 7: only their 序号 (and a space) filled
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
    values = ["1985-07-12", "1985.07", "198507", "19850712", "1985/7/12", "1985年7月", "31240",
              "1985-07-12 00:00:00", "", "无", "-", "—", "不详", "1985.13"]
    assert coerced("6.1", "birth_date", values) == [
        dt.date(1985, 7, 12), dt.date(1985, 7, 1), dt.date(1985, 7, 1), dt.date(1985, 7, 12),
        dt.date(1985, 7, 12), dt.date(1985, 7, 1), dt.date(1985, 7, 12), dt.date(1985, 7, 12),
        None, None, None, None, None, None,
    ]


def test_numbers_as_text_full_width_and_blanks():
    assert coerced("6.1", "teaching_hours", ["320", "３２０", " 1,200 ", "12.0", "12.5", "无", "-", "abc"]) == [
        320, 320, 1200, 12, None, None, None, None,
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
    teachers = [{"序号": "1", "staff_no": "T1", "teaching_hours": "320", "birth_date": "1985.07"},
                {"序号": "2", "staff_no": "T2", "teaching_hours": "很多", "birth_date": "不详"},
                {"序号": "3"},
                {"序号": "合计", "teaching_hours": "320"}]
    majors = [{"序号": "1", "major_code": "460103", "enrolled_students": "１２０", "new_students": "四十"},
              {"序号": "小计", "enrolled_students": "120"},
              {"序号": "2", "major_code": "460104", "enrolled_students": "-", "duration_years": "3"}]
    files = {1: ("13829", 2024, "a.xlsx", "a" * 64, dt.datetime(2024, 12, 1)),
             2: ("13829", 2024, "b.xlsx", "b" * 64, dt.datetime(2024, 12, 1))}
    together = type_chunk({"full_time_teachers": [extracted_text(teachers, 1)], "majors": [extracted_text(majors, 2)]},
                          CATALOG, files)
    alone = [type_chunk({"full_time_teachers": [extracted_text(teachers, 1)]}, CATALOG, files),
             type_chunk({"majors": [extracted_text(majors, 2)]}, CATALOG, files)]
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
        teachers(conn, school).drop("school_code", "source_file", "file_sha256", "row_no") for school in ("13829", "13830")
    )
    assert csv_rows.equals(xlsx_rows)
    assert teachers(conn, "13829")["row_no"].to_list() == [3, 4]
    csv_log = next(row for row in log_rows(conn) if row["school_code"] == "13829")
    assert csv_log["exported_at"] is None and csv_log["period_year"] == 2024


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def xlsx_bytes(tmp_path: Path, table, rows, **kwargs) -> bytes:
    return write_xlsx(tmp_path / "build" / f"{table.code}.xlsx", table, rows, **kwargs).read_bytes()


def test_zip_delivery_in_one_folder_loads_and_is_archived(conn, tmp_path):
    majors = CATALOG.by_code("7.1")
    members = {"13829_2024/表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows()),
               "13829_2024/表7.1 专业设置.xlsx": xlsx_bytes(tmp_path, majors, sample_rows(majors, 4))}
    zip_path = make_zip(inbox() / "13829_2024.zip", members)
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (2, 0)
    assert [row["source_file"] for row in log_rows(conn)] == [
        "13829_2024.zip/表6.1 校内专任教师.xlsx", "13829_2024.zip/表7.1 专业设置.xlsx"]
    assert teachers(conn)["year"].to_list() == [2024, 2024]
    assert conn.sql("select count(*) from raw.majors where school_code = '13829'").fetchone()[0] == 4
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert (get_settings().archive / digest[:2] / f"{digest}.zip").read_bytes() == zip_path.read_bytes()
    assert zip_path.exists()  # the inbox is left in place
    assert run(conn).unchanged == 2


def test_zip_member_escaping_its_folder_is_refused(conn, tmp_path):
    members = {"表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows()),
               "../../evil.xlsx": b"payload"}
    make_zip(inbox() / "13829_2024.zip", members)
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 1)
    (log,) = log_rows(conn)
    assert log["source_file"] == "13829_2024.zip" and log["status"] == "quarantined"
    assert "../../evil.xlsx" in log["reason"] and "文件夹之外" in log["reason"] and "outside" in log["reason_en"]
    assert teachers(conn).height == 0
    assert not (get_settings().home.parent / "evil.xlsx").exists()
    reason = (get_settings().quarantine / "13829" / "2024" / "13829_2024.zip.reason.txt").read_text(encoding="utf-8")
    assert "13829_2024.zip" in reason and "refused" in reason


def test_zip_bomb_is_refused(conn, tmp_path):
    make_zip(inbox() / "13829_2024.zip", {"表6.1 校内专任教师.xlsx": b"\0" * (20 * 1024 * 1024)})
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 1)
    (log,) = log_rows(conn)
    assert "解压后过大" in log["reason"] and "expands too far" in log["reason_en"]


def test_zip_over_the_size_setting_is_refused(conn, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHENGAI_ZIP_MAX_BYTES", "1000")
    make_zip(inbox() / "13829_2024.zip", {"表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows())},
             compression=zipfile.ZIP_STORED)
    assert run(conn).quarantined == 1
    assert "1000 字节" in log_rows(conn)[0]["reason"]


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
    assert log["unmapped_headers"] == [{"header": "生日", "likely_column": "birth_date", "samples": ["1985.01", "1985.02"]}]
    loaded = teachers(conn)
    assert loaded["staff_no"].to_list() == ["T001", "T002"] and loaded["birth_date"].null_count() == 2
    assert conn.sql("select extra['生日'] from raw.full_time_teachers order by row_no").fetchall() == [
        ("1985.01",), ("1985.02",)]


def test_a_file_without_any_key_column_is_quarantined_naming_what_it_has(conn):
    columns = [c.name for c in TEACHERS.columns if c.name != "staff_no"]
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows(), columns=columns,
               extra_headers=("人员编码",))
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


def test_file_outside_a_year_folder_is_quarantined(conn):
    write_xlsx(inbox() / "13829" / TEACHERS_FILE, TEACHERS, teacher_rows())
    write_xlsx(inbox() / "13829" / "2024年" / TEACHERS_FILE, TEACHERS, teacher_rows())
    (inbox() / "manifest.json").write_text("{}")  # a generator's manifest is not a delivery
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 2)
    assert all("inbox/<学校代码>/<采集年份>/" in row["reason"] for row in log_rows(conn))
    assert (get_settings().quarantine / "13829" / "2024年" / f"{TEACHERS_FILE}.reason.txt").is_file()


def test_bad_re_export_keeps_the_previous_data(conn):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    run(conn)
    before = snapshot(conn)
    path.write_bytes(b"not a workbook")
    assert run(conn).quarantined == 1
    assert snapshot(conn)["full_time_teachers"] == before["full_time_teachers"]
    assert "此前已载入的该表数据保持不变" in log_rows(conn)[0]["reason"]


# -- idempotence and replacement ------------------------------------------------------------------


def test_second_run_is_all_unchanged_with_identical_tables(conn):
    written = write_college(inbox(), "13829", 2024)
    write_college(inbox(), "13830", 2024, ["6.1", "9.2"])
    first = run(conn)
    assert (first.loaded, first.quarantined) == (len(written) + 2, 0)
    before = snapshot(conn)
    log_before = conn.sql("select * from raw.ingest_log order by all").fetchall()
    second = run(conn)
    assert (second.loaded, second.unchanged, second.quarantined) == (0, len(written) + 2, 0)
    assert snapshot(conn) == before
    log_after = conn.sql("select * exclude (status) from raw.ingest_log order by all").fetchall()
    assert log_after == [row[:6] + row[7:] for row in log_before]
    for table in CATALOG.tables:
        count = conn.sql(f"select count(*) from raw.\"{table.table_name}\" where school_code = '13829'").fetchone()[0]
        assert count == written[table.code], table.code


def test_re_export_of_one_college_replaces_only_its_rows(conn):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13830", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13829", 2023, ["6.1"])
    run(conn)
    before = snapshot(conn)
    new_rows = sample_rows(TEACHERS, 5, seed=10)
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, new_rows)
    summary = run(conn)
    assert (summary.loaded, summary.unchanged) == (1, 4)
    after = snapshot(conn)
    assert {name for name in after if after[name] != before[name]} == {"full_time_teachers", "ingest_log"}
    changed = conn.sql("select school_code, year, staff_no from raw.full_time_teachers order by all").fetchall()
    untouched = [row for row in changed if (row[0], row[1]) != ("13829", 2024)]
    assert len(untouched) == 6
    assert [row[2] for row in changed if (row[0], row[1]) == ("13829", 2024)] == sorted(
        f"staff_no-{n}" for n in range(11, 16))
    old = [r for r in before["full_time_teachers"] if r[-7] != "13829" or r[-6] != 2024]
    new = [r for r in after["full_time_teachers"] if r[-7] != "13829" or r[-6] != 2024]
    assert old == new


def test_a_run_that_fails_part_way_leaves_the_warehouse_as_it_was(conn, monkeypatch):
    for school in ("13829", "13830", "13831"):
        write_college(inbox(), school, 2024, ["6.1", "7.1"])
    run(conn)
    before = snapshot(conn)
    for school in ("13829", "13830", "13831"):  # every college re-exports its teachers
        write_xlsx(inbox() / school / "2024" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 4, seed=int(school)))
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "1")
    monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")  # one college per chunk
    monkeypatch.setenv("ZHENGAI_INGEST_BATCH_ROWS", "1")  # and a write after each
    merged = []
    original = Ingest.merge

    def fail_on_the_third_college(self, result):
        if len(merged) == 2:
            raise OSError("disk full")
        merged.append(result)
        original(self, result)

    monkeypatch.setattr(Ingest, "merge", fail_on_the_third_college)
    with pytest.raises(OSError, match="disk full"):
        run(conn)
    assert len(merged) == 2  # two colleges' new rows had been written when it failed
    assert snapshot(conn) == before
    monkeypatch.setattr(Ingest, "merge", original)
    assert run(conn).loaded == 3
    assert snapshot(conn)["full_time_teachers"] != before["full_time_teachers"]


def test_two_exports_of_one_table_use_the_newer(conn):
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows(),
               created=dt.datetime(2024, 10, 1))
    write_xlsx(inbox() / "13829" / "2024" / "表6.1 校内专任教师（更正）.xlsx", TEACHERS, teacher_rows()[:1],
               created=dt.datetime(2024, 10, 20))
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (1, 1)
    assert teachers(conn)["source_file"].to_list() == ["13829/2024/表6.1 校内专任教师（更正）.xlsx"]
    (old,) = [row for row in log_rows(conn) if row["status"] == "quarantined"]
    assert old["source_file"] == f"13829/2024/{TEACHERS_FILE}" and "较新的" in old["reason"]


def test_every_file_is_archived_by_hash(conn):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    (inbox() / "13829" / "2024" / "notes.docx").write_bytes(b"word")
    run(conn)
    rows = log_rows(conn)
    assert {row["status"] for row in rows} == {"loaded", "quarantined"}
    for row in rows:
        archived = get_settings().home / row["archived_path"]
        assert archived.name == f"{row['file_sha256']}{Path(row['source_file']).suffix}"
        assert archived.parent.name == row["file_sha256"][:2]
    assert (get_settings().home / rows[1]["archived_path"]).read_bytes() == path.read_bytes()
    assert "不支持的文件格式 .docx" in rows[0]["reason"]


def test_archive_is_a_copy_unless_hard_links_are_asked_for(conn, monkeypatch):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    run(conn)
    (row,) = log_rows(conn)
    archived = get_settings().home / row["archived_path"]
    assert archived.read_bytes() == path.read_bytes() and not archived.samefile(path)

    monkeypatch.setenv("ZHENGAI_ARCHIVE_HARDLINK", "1")
    other = write_xlsx(inbox() / "13830" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows()[:1])
    run(conn)
    (row,) = [row for row in log_rows(conn) if row["school_code"] == "13830"]
    linked = get_settings().home / row["archived_path"]
    assert linked.samefile(other) and linked.read_bytes() == other.read_bytes()


def test_a_file_replaced_after_it_was_read_is_archived_as_read_not_linked(tmp_path):
    source = tmp_path / "inbox.xlsx"
    source.write_bytes(b"as read")
    read = os.stat(source)
    replacement = tmp_path / "new.xlsx"
    replacement.write_bytes(b"a newer export")
    os.replace(replacement, source)  # the college replaced the file between the read and the archive
    target = tmp_path / "archive" / "ab" / "abc.xlsx"
    _write_once(target, b"as read", (source, read))
    assert target.read_bytes() == b"as read" and not target.samefile(source)


# -- the Dagster asset ----------------------------------------------------------------------------


def test_raw_asset_materializes_every_table_and_the_log(tmp_path):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    warehouse = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    result = dg.materialize(raw.assets(), resources={"warehouse": warehouse})
    assert result.success
    keys = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert keys == {"raw/ingest_log"} | {f"raw/{t.table_name}" for t in CATALOG.tables}
    log_event = next(e for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey(["raw", "ingest_log"]))
    metadata = log_event.materialization.metadata
    assert (metadata["files_loaded"].value, metadata["files_quarantined"].value) == (2, 0)
    with duckdb.connect(str(tmp_path / "work.duckdb")) as check:
        assert check.sql("select count(*) from raw.full_time_teachers").fetchone()[0] == 3


def test_raw_assets_depend_on_the_catalog():
    (multi,) = raw.assets()
    catalog_keys = {dg.AssetKey(["ref", "platform_tables"]), dg.AssetKey(["ref", "platform_columns"])}
    for key in multi.keys:
        assert catalog_keys <= set(multi.asset_deps[key])


# -- the demo province end to end -----------------------------------------------------------------


def synth_province(seed: int = 7) -> dict:
    from pipelines.synth import generate_province

    return generate_province(inbox(), schools=3, years=[2023, 2024], seed=seed, defects=True)


def test_demo_province_ingests_as_its_manifest_says(conn):
    manifest = synth_province()
    summary = run(conn)
    corrupt = {(d["school_code"], d["year"], d["table_code"]) for d in manifest["defects"] if d["kind"] == "corrupt_file"}
    assert corrupt and summary.quarantined == len(corrupt)
    assert summary.loaded == len(manifest["files"]) - len(corrupt)
    log = {(row["source_file"], row["table_code"]): row for row in log_rows(conn)}
    for entry in manifest["files"]:
        table = CATALOG.by_code(entry["table_code"])
        count = conn.execute(f'select count(*) from raw."{table.table_name}" where school_code = ? and year = ?',
                             [entry["school_code"], entry["year"]]).fetchone()[0]
        row = log[(entry["path"], entry["table_code"])]
        if (entry["school_code"], entry["year"], entry["table_code"]) in corrupt:
            assert (count, row["status"]) == (0, "quarantined") and "已损坏" in row["reason"]
            continue
        assert (count, row["rows"], row["status"]) == (entry["rows"], entry["rows"], "loaded"), entry["path"]
        assert row["period_year"] == entry["period_year"]
        expected_export = dt.datetime.fromisoformat(entry["exported_at"]) if entry["exported_at"] else None
        assert row["exported_at"] == expected_export
    for defect in manifest["defects"]:
        school, year, code = defect["school_code"], defect["year"], defect["table_code"]
        if defect["kind"] == "missing_table":
            table = CATALOG.by_code(code)
            assert conn.execute(f'select count(*) from raw."{table.table_name}" where school_code = ? and year = ?',
                                [school, year]).fetchone()[0] == 0
        elif defect["kind"] == "not_submitted":
            assert not [r for r in log.values() if (r["school_code"], r["year"]) == (school, year)]
        elif defect["kind"] == "out_of_domain" and defect["column_name"] == "gender":
            bad = conn.execute("select row_no from raw.full_time_teachers where school_code = ? and year = ? "
                               "and gender = '未知' order by row_no", [school, year]).fetchall()
            assert [r[0] for r in bad] == defect["row_nos"]
        elif defect["kind"] == "duplicate_key":
            rows = conn.execute("select row_no, staff_no from raw.full_time_teachers where school_code = $s "
                                "and year = $y order by row_no", {"s": school, "y": year}).fetchall()
            staff = {row_no: staff_no for row_no, staff_no in rows}
            first, second = defect["row_nos"]
            assert staff[first] == staff[second]
        elif defect["kind"] in ("gbk_csv", "zip_delivery"):
            assert all(r["status"] == "loaded" for r in log.values()
                       if (r["school_code"], r["year"]) == (school, year) and r["table_code"] not in
                       {c[2] for c in corrupt if c[:2] == (school, year)})


def test_demo_province_rerun_is_unchanged_and_a_re_export_touches_one_college(conn):
    manifest = synth_province()
    first = run(conn)
    before = snapshot(conn)
    second = run(conn)
    assert (second.loaded, second.unchanged, second.quarantined) == (0, first.loaded, first.quarantined)
    assert snapshot(conn) == before
    entry = next(e for e in manifest["files"] if e["table_code"] == "6.1" and e["archive"] is None
                 and e["format"] == "xlsx")
    school, year = entry["school_code"], entry["year"]
    write_xlsx(inbox() / entry["path"], TEACHERS, sample_rows(TEACHERS, 4), year=year)
    third = run(conn)
    assert (third.loaded, third.quarantined) == (1, first.quarantined)
    after = snapshot(conn)
    assert {name for name in after if after[name] != before[name]} == {"full_time_teachers", "ingest_log"}
    outside = "select * from raw.full_time_teachers where not (school_code = $s and year = $y) order by all"
    kept = conn.execute(outside, {"s": school, "y": year}).fetchall()
    assert kept == [row for row in before["full_time_teachers"] if (row[-7], row[-6]) != (school, year)]
    assert conn.execute("select count(*) from raw.full_time_teachers where school_code = $s and year = $y",
                        {"s": school, "y": year}).fetchone()[0] == 4


def test_worker_processes_give_the_same_warehouse_as_one_process(monkeypatch):
    synth_province()
    at = dt.datetime(2024, 11, 1, 2, 0)
    results = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", workers)
        monkeypatch.setenv("ZHENGAI_INGEST_POOL_MIN_SCHOOLS", "2")
        monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")  # one college per task: several tasks
        monkeypatch.setenv("ZHENGAI_INGEST_BATCH_ROWS", "2000")  # several flushes
        with duckdb.connect() as connection:
            summary = ingest_inbox(connection, get_settings(), ingested_at=at)
            results[workers] = (summary.loaded, summary.quarantined, snapshot(connection),
                                connection.sql("select * from raw.ingest_log order by all").fetchall())
    assert results["1"] == results["2"]


def test_worker_tasks_hold_whole_colleges_of_about_the_chunk_size(tmp_path):
    def college(code: str, *sizes: int) -> SchoolWork:
        deliveries = [Delivery(f"{code}/2024/{n}.xlsx", code, 2024, (code, "2024"), tmp_path, dt.datetime(2024, 1, 1),
                               size=size) for n, size in enumerate(sizes)]
        return SchoolWork(code, deliveries, {}, {}, 0)

    colleges = [college("10001", 300, 300), college("10002", 500), college("10003", 900, 400), college("10004", 100)]
    chunks = [[work.school for work in chunk] for chunk in chunks_by_bytes(colleges, 1000)]
    # 600 + 500 would pass 1000; a college above the limit is a task of its own, never split
    assert chunks == [["10001"], ["10002"], ["10003"], ["10004"]]
    assert [[w.school for w in c] for c in chunks_by_bytes(colleges, 1100)] == [["10001", "10002"], ["10003"], ["10004"]]
    assert [[w.school for w in c] for c in chunks_by_bytes(colleges, 10**6)] == [["10001", "10002", "10003", "10004"]]


def test_zip_member_with_a_bad_checksum_is_quarantined_and_the_rest_loads(conn, tmp_path):
    majors = CATALOG.by_code("7.1")
    teachers_bytes = xlsx_bytes(tmp_path, TEACHERS, teacher_rows())
    zip_path = make_zip(inbox() / "13829_2024.zip", {"表6.1 校内专任教师.xlsx": teachers_bytes,
                                                     "表7.1 专业设置.xlsx": xlsx_bytes(tmp_path, majors, sample_rows(majors, 2))},
                        compression=zipfile.ZIP_STORED)
    content = bytearray(zip_path.read_bytes())
    at = content.find(teachers_bytes[100:140])
    content[at] ^= 0xFF
    zip_path.write_bytes(bytes(content))
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (1, 1)
    (bad,) = [row for row in log_rows(conn) if row["status"] == "quarantined"]
    assert bad["source_file"] == "13829_2024.zip/表6.1 校内专任教师.xlsx" and "无法读取文件" in bad["reason"]
    assert conn.sql("select count(*) from raw.majors").fetchone()[0] == 2


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
    assert [(row["table_code"], row["status"]) for row in log_rows(conn)] == [("6.1", "unchanged"), ("7.1", "quarantined")]
    assert "工作表“表7.1”" in log_rows(conn)[1]["reason"] and "专业代码" in log_rows(conn)[1]["reason"]


@pytest.mark.parametrize(("title", "year"), [
    ("广西某某职业技术学院 表6.1 校内专任教师（2023-2024学年）", 2024),
    ("6.1 教职工基本信息 学校名称：某某学院（10082）\u3000采集时段：2022-09-01至2023-08-31", 2023),  # online system
    ("采集时段：2022年9月1日至2023年8月31日", 2023),
    ("采集时段：2022-09-01至2023-06-30", None),  # a window that is not a 学年 names none
    ("表6.1 校内专任教师", None),
])
def test_the_period_is_read_from_either_platform_title(title, year):
    from pipelines.ingest import period_year

    assert period_year(title) == year
