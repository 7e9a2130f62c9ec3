"""Real exports load: tolerant header matching, units, partial loading, .xls, empty tables, and the
data officer's aliases (`zhengai catalog`)."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import polars as pl
import pytest

from assets.mart import build_marts
from dashboards.quality_report import QualityReference, build_province_quality_page
from ingest_fixtures import sample_rows, write_college, write_grid_xlsx, write_xls, write_xlsx
from pipelines import cli
from pipelines.catalog import load_catalog, load_header_aliases
from pipelines.ingest import header_unit, ingest_inbox, loose_header, normalise_header
from pipelines.settings import REFERENCE_DIR, get_settings
from pipelines.sql import run_sql
from quality_fixtures import QualityWarehouse, clean_rows

CATALOG = load_catalog()
SCHOOL, YEAR = "13829", 2024
AS_OF = dt.date(2024, 12, 1)


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def alias_file(tmp_path, monkeypatch):
    """Every test edits its own copy of reference/header_aliases.csv."""
    path = tmp_path / "header_aliases.csv"
    path.write_bytes((REFERENCE_DIR / "header_aliases.csv").read_bytes())
    monkeypatch.setenv("ZHENGAI_HEADER_ALIASES", str(path))
    return path


def folder():
    return get_settings().inbox / SCHOOL / str(YEAR)


def log_row(conn, table_code: str) -> dict:
    return conn.execute("select * from raw.ingest_log where table_code = ?", [table_code]).pl().to_dicts()[0]


def loose(text: str) -> str:
    return loose_header(normalise_header(text))


# -- matching, pure -----------------------------------------------------------------------------


def test_loose_headers_leave_out_units_and_notes_and_read_qualifiers_and_wording_alike():
    assert loose("专业技术职务（最高）") == loose("最高专业技术职务") == "最高专业技术职务"
    assert loose("最后学历/学位") == loose("最高学历 / 学位") == "最高学历/学位"
    assert loose("占地面积（亩）") == loose("占地面积(平方米)") == "占地面积"
    assert loose("课程类型（A/B/C）") == "课程类型"  # a `/` inside brackets is not a level
    assert loose("其中：当年新增") == loose("当年新增")
    # different words stay different
    assert loose("第一学历/学位") != loose("最高学历/学位")
    assert loose("教学用计算机（台）") != loose("教学科研仪器设备值（万元）")


def test_header_units_are_read_only_when_they_are_units():
    assert header_unit("占地面积（亩）") == "亩"
    assert header_unit("设备值(单位:万元)") == "万元"
    assert header_unit("教学科研仪器设备值（元）") == "元"
    assert header_unit("课程类型（A/B/C）") is None
    assert header_unit("专业技术职务（最高）") is None
    assert header_unit("占地面积") is None


# -- real-style layouts -------------------------------------------------------------------------


def real_teacher_sheet() -> tuple[list[list], tuple]:
    """表6.1 as exports lay it out: two title rows and a 填报说明 row above a two-level header whose
    cells carry line breaks, full-width spaces and brackets, units and the 最高 wording; a note
    right below the header and a note and signature under the data."""
    header_top = [
        "序号",
        "教工号",
        "姓\u3000名",
        "性别",
        "出生\n年月",
        "最高学历",
        None,
        "最高专业技术职务",
        "专业技术\n职务级别",
        "是否双师\n素质教师",
        "学年授课\n学时（学时）",
        "行业企业工作\n时间(年)",
        "备注",
    ]
    header_low = [None, None, None, None, None, "学历", "学位", None, None, None, None, None, None]
    rows = [
        ["广西测试职业技术学院人才培养工作状态数据采集表"],
        ["表6.1 校内专任教师（2023-2024学年）"],
        ["填报说明：时点数据以学年末（8月31日）为准"],
        header_top,
        header_low,
        ["注：学历指最高学历"],
        [1, "T001", "张三", "男", "1985.07", "硕士研究生", "硕士", "副教授", "副高级", "是", 320, 5, ""],
        [2, "T002", "李四", "女", "1990-03-01", "大学本科", "学士", "讲师", "中级", "否", "２８０", 0, "外聘转入"],
        ["注：本表由人事处填报"],
        ["单位负责人：王五"],
    ]
    vertical = [(3, c, 4, c) for c, text in enumerate(header_top) if text and c not in (5,)]
    return rows, (*vertical, (3, 5, 3, 6))


def test_real_style_two_level_export_with_title_and_note_rows_loads(conn):
    rows, merges = real_teacher_sheet()
    write_grid_xlsx(folder() / "表6.1 校内专任教师.xlsx", rows, merges)
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 0)
    loaded = conn.sql("select * from raw.full_time_teachers order by row_no").pl()
    assert loaded["row_no"].to_list() == [7, 8]  # notes above and below are not rows
    assert loaded["staff_no"].to_list() == ["T001", "T002"]
    assert loaded["name"].to_list() == ["张三", "李四"]
    assert loaded["birth_date"].to_list() == [dt.date(1985, 7, 1), dt.date(1990, 3, 1)]
    assert loaded["highest_degree"].to_list() == ["硕士", "学士"]
    assert loaded["title"].to_list() == ["副教授", "讲师"]
    assert loaded["teaching_hours"].to_list() == [320, 280]
    assert loaded["industry_years"].to_list() == [5.0, 0.0]
    assert loaded["extra"].to_list()[1] == [("备注", "外聘转入")] or dict(loaded["extra"].to_list()[1]) == {
        "备注": "外聘转入"
    }
    log = log_row(conn, "6.1")
    written = {
        "staff_no",
        "name",
        "gender",
        "birth_date",
        "highest_education",
        "highest_degree",
        "title",
        "title_level",
        "is_double_qualified",
        "teaching_hours",
        "industry_years",
    }
    assert set(log["missing_columns"]) == {c.name for c in CATALOG.by_code("6.1").columns} - written
    assert log["extra_columns"] == ["备注"] and log["period_year"] == 2024


def test_units_in_headers_and_titles_are_converted_and_recorded(conn):
    area = [
        ["表3.1 占地与校舍面积（2023-2024学年）"],
        ["占地面积（亩）", "校舍面积（平方米）", None, None, None, None],
        [None, "合计", "教学科研及辅助用房", "行政办公用房", "学生宿舍", "实践场所"],
        [300, 120000, 60000, 10000, 40000, 10000],
    ]
    write_grid_xlsx(folder() / "表3.1 占地与校舍面积.xlsx", area, ((1, 0, 2, 0), (1, 1, 1, 5)))
    equipment = [
        ["表3.2 教学科研仪器设备（2023-2024学年）"],
        ["单位：元"],
        ["教学科研仪器设备值", "当年新增"],
        [12_345_678, 2_000_000],
    ]
    write_grid_xlsx(folder() / "表3.2 教学科研仪器设备.xlsx", equipment)
    # no 序号 column here: the note rows below the header and under the data fall in catalogued columns
    same_unit = [
        ["表3.3 图书"],
        ["纸质图书总数（册）", "当年新增（册）"],
        ["填报说明：含合订本"],
        [500000, 20000],
        ["注：电子图书另表填报"],
    ]
    write_grid_xlsx(folder() / "表3.3 图书.xlsx", same_unit)
    assert ingest_inbox(conn, get_settings()).loaded == 3
    assert conn.sql("select land_area, dormitory_area from raw.campus_area").fetchall() == [
        (pytest.approx(200000.0), 40000.0)
    ]
    assert conn.sql("select equipment_value, equipment_value_new from raw.teaching_equipment").fetchall() == [
        (pytest.approx(1234.5678), pytest.approx(200.0))
    ]
    assert conn.sql("select books_total, books_new, row_no from raw.library_holdings").fetchall() == [
        (500000, 20000, 4)
    ]
    assert log_row(conn, "3.3")["coercion_failures"] == 0
    assert log_row(conn, "3.1")["conversions"] == ["land_area: 亩 ×666.667"]
    assert log_row(conn, "3.2")["conversions"] == ["equipment_value: 元 ×0.0001", "equipment_value_new: 元 ×0.0001"]
    assert log_row(conn, "3.3")["conversions"] == []


# -- formats ------------------------------------------------------------------------------------


def table_grid(code: str, rows: list[dict]) -> list[list]:
    table = CATALOG.by_code(code)
    return [
        [f"表{code} {table.name_zh}（{YEAR - 1}-{YEAR}学年）"],
        ["序号"] + [c.headers[0] for c in table.columns],
    ] + [
        [n] + [str(row[c.name]) if isinstance(row[c.name], dt.date) else row[c.name] for c in table.columns]
        for n, row in enumerate(rows, start=1)
    ]


def test_xls_workbook_with_a_table_per_sheet_loads_like_xlsx(conn, tmp_path):
    majors, courses = sample_rows(CATALOG.by_code("7.1"), 3), sample_rows(CATALOG.by_code("7.2"), 4)
    write_xls(
        folder() / "状态数据.xls",
        [("表7.1 专业设置", table_grid("7.1", majors)), ("表7.2 课程设置", table_grid("7.2", courses))],
    )
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (2, 0)
    other = duckdb.connect()
    settings = type(get_settings())(tmp_path / "xlsx_home")
    write_xlsx(settings.inbox / SCHOOL / str(YEAR) / "表7.1 专业设置.xlsx", CATALOG.by_code("7.1"), majors)
    ingest_inbox(other, settings)
    columns = ", ".join(f'"{c.name}"' for c in CATALOG.by_code("7.1").columns)
    assert (
        conn.sql(f"select {columns} from raw.majors order by all").fetchall()
        == other.sql(f"select {columns} from raw.majors order by all").fetchall()
    )
    assert conn.sql("select count(*) from raw.courses").fetchone() == (4,)


def test_damaged_xls_is_quarantined_not_fatal(conn):
    path = folder() / "表7.1 专业设置.xls"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really a workbook")
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (0, 1)


def test_a_table_with_a_header_and_no_rows_is_delivered_with_zero_rows():
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    write_college(get_settings().inbox, SCHOOL, YEAR, ["4.3", "9.3", "6.1"])
    write_xlsx(folder() / "表6.1 校内专任教师.xlsx", CATALOG.by_code("6.1"), [])  # header only
    ingest_inbox(warehouse.conn, get_settings())
    assert log_row(warehouse.conn, "6.1")["rows"] == 0 and log_row(warehouse.conn, "6.1")["status"] == "loaded"
    warehouse.run(AS_OF, suites=())
    assert warehouse.status(SCHOOL, YEAR, "6.1")[0] != "missing"
    assert not warehouse.issues(table_code="6.1", check_name="missing_table")
    assert warehouse.status(SCHOOL, YEAR, "7.1")[0] == "missing"  # a table not sent at all still is


# -- partial loading, quality and indicators ------------------------------------------------------


def deliver_all(skip_columns: dict[str, set[str]], extra: dict[str, dict[str, str]] | None = None) -> None:
    """Every table of one college-year with clean values; `skip_columns` leaves columns out of a
    table's file, `extra` adds unrecognised columns (header → value in every row)."""
    for table in CATALOG.tables:
        rows = clean_rows(table, YEAR)
        added = (extra or {}).get(table.code, {})
        rows = [{**row, **added} for row in rows]
        columns = [c.name for c in table.columns if c.name not in skip_columns.get(table.code, set())]
        write_xlsx(
            folder() / f"表{table.code} {table.name_zh}.xlsx",
            table,
            rows,
            year=YEAR,
            columns=columns,
            extra_headers=tuple(added),
        )


def judged(warehouse: QualityWarehouse) -> dict[str, str]:
    warehouse.run(AS_OF, suites=("3.1", "6.1"))
    build_marts(warehouse.conn)
    return dict(
        warehouse.conn.execute(
            "select indicator_code, status from mart.indicator_values where school_code = ? and year = ?",
            [SCHOOL, YEAR],
        ).fetchall()
    )


def test_a_missing_column_costs_only_the_indicators_that_read_it():
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    deliver_all({"3.1": {"dormitory_area", "practice_area"}})
    summary = ingest_inbox(warehouse.conn, get_settings())
    assert summary.quarantined == 0
    assert warehouse.conn.sql("select land_area is not null, dormitory_area from raw.campus_area").fetchall() == [
        (True, None)
    ]
    status = judged(warehouse)
    (missing,) = warehouse.issues(check_name="missing_column", column_name="dormitory_area")
    assert missing["severity"] == "error" and "生均宿舍面积" in missing["message_zh"]
    assert not re.search("请.*(导出|补齐|提交)", missing["message_zh"])
    (optional,) = warehouse.issues(check_name="missing_column", column_name="practice_area")
    assert optional["severity"] == "warn" and "没有指标依赖" in optional["message_zh"]
    # the suites' not-null finding on the absent column is not repeated beside missing_column
    assert not [
        i
        for i in warehouse.issues(table_code="3.1")
        if i["column_name"] == "dormitory_area" and i["check_name"] != "missing_column"
    ]
    assert warehouse.status(SCHOOL, YEAR, "3.1")[0] == "warn"
    assert status["dormitory_area_per_student"] == "excluded"
    assert status["teaching_admin_area_per_student"] == "ok"  # same table, other columns
    assert {code for code, value in status.items() if value == "excluded"} == {"dormitory_area_per_student"}
    reasons = warehouse.conn.execute(
        "select level, reasons from mart.indicator_warnings where indicator_code = 'dormitory_area_per_student'"
    ).fetchone()
    assert reasons[0] == "insufficient" and "学生宿舍" in " ".join(reasons[1])


def test_a_complete_delivery_excludes_no_indicator():
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    deliver_all({})
    ingest_inbox(warehouse.conn, get_settings())
    status = judged(warehouse)
    assert not warehouse.issues(check_name="missing_column")
    assert "excluded" not in status.values()


def test_an_alias_recovers_the_column_on_the_next_run_without_a_new_export(alias_file, capsys):
    warehouse = QualityWarehouse()
    warehouse.add_school(SCHOOL)
    deliver_all({"6.1": {"is_double_qualified"}}, extra={"6.1": {"双师型教师（是/否）": "是"}})
    assert ingest_inbox(warehouse.conn, get_settings()).loaded == len(CATALOG.tables)
    assert warehouse.conn.sql("select count(is_double_qualified) from raw.full_time_teachers").fetchone() == (0,)
    assert judged(warehouse)["double_qualified_share"] == "excluded"
    run_sql(warehouse.conn, "quality/unmapped_headers")
    (row,) = warehouse.conn.sql("select * from quality.unmapped_headers").pl().to_dicts()
    # shown as normalised (NFKC: half-width brackets); matching ignores the difference
    assert (row["table_code"], row["header"], row["files"], row["colleges"]) == ("6.1", "双师型教师(是/否)", 1, 1)
    assert (row["samples"], row["likely_column"]) == (["是"], "is_double_qualified")

    assert cli.main(["catalog", "map", "6.1", row["header"], "is_double_qualified"]) == 0
    assert "已登记" in capsys.readouterr().out
    assert ("6.1", "双师型教师(是/否)", "is_double_qualified") in {
        (a.table_code, a.header, a.column_name) for a in load_header_aliases(alias_file)
    }

    second = ingest_inbox(warehouse.conn, get_settings())  # the same files: only 6.1 is read again
    assert (second.loaded, second.unchanged) == (1, len(CATALOG.tables) - 1)
    assert warehouse.conn.sql(
        "select count(*), count(*) filter (where is_double_qualified) from raw.full_time_teachers"
    ).fetchone() == (3, 3)
    assert log_row(warehouse.conn, "6.1")["missing_columns"] == []
    assert judged(warehouse)["double_qualified_share"] == "ok"
    run_sql(warehouse.conn, "quality/unmapped_headers")
    assert warehouse.conn.sql("select count(*) from quality.unmapped_headers").fetchone() == (0,)
    third = ingest_inbox(warehouse.conn, get_settings())
    assert (third.loaded, third.unchanged) == (0, len(CATALOG.tables))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["9.9", "X", "name"], "没有表 9.9"),
        (["6.1", "X", "nonexistent"], "没有列 nonexistent"),
        (["6.1", "出生年月", "name"], "已对应列 birth_date"),
    ],
)
def test_catalog_map_refuses_unknown_tables_and_columns_and_contradictions(alias_file, capsys, arguments, message):
    before = alias_file.read_bytes()
    assert cli.main(["catalog", "map", *arguments]) == 2
    assert message in capsys.readouterr().err
    assert alias_file.read_bytes() == before


def test_an_alias_file_row_naming_an_unknown_column_is_refused_but_costs_the_ingest_only_that_alias(alias_file, conn):
    alias_file.write_text(
        "table_code,header,column_name,note\n6.1,工号2,no_such_column,\n6.1,双师型,is_double_qualified,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="line 2"):
        load_header_aliases(alias_file)
    table = CATALOG.by_code("6.1")
    columns = [c.name for c in table.columns if c.name != "is_double_qualified"]
    rows = [{**row, "双师型": "是"} for row in sample_rows(table, 2)]
    write_xlsx(folder() / "表6.1 校内专任教师.xlsx", table, rows, columns=columns, extra_headers=("双师型",))
    assert ingest_inbox(conn, get_settings()).loaded == 1
    assert conn.sql("select count(*) filter (where is_double_qualified) from raw.full_time_teachers").fetchone() == (2,)


def test_catalog_unmapped_lists_the_published_warehouse_headers(capsys):
    settings = get_settings()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as published:
        published.execute("create schema quality")
        published.execute(
            "create table quality.unmapped_headers as select * from (values "
            "(2023, '6.1', '校内专任教师', '双师型', 2::bigint, 2::bigint, ['138"
            "29', '13830'], ['是'], 'is_double_qualified', '是否双师素质教师'), "
            "(2024, '6.1', '校内专任教师', '双师型', 1::bigint, 1::bigint, "
            "['13829'], ['否'], 'is_double_qualified', '是否双师素质教师'), "
            "(2024, '3.1', '占地与校舍面积', '绿化面积', 1::bigint, 1::bigint, ['13830'], ['5000'], null, null)) "
            "as t(year, table_code, name_zh, header, files, colleges, school_codes, samples, likely_column, likely_header_zh)"
        )
    assert cli.main(["catalog", "unmapped", "--json"]) == 0
    rows = {row["header"]: row for row in json.loads(capsys.readouterr().out)}
    assert (rows["双师型"]["files"], rows["双师型"]["colleges"], rows["双师型"]["years"]) == (3, 2, [2023, 2024])
    assert cli.main(["catalog", "unmapped", "--year", "2023"]) == 0
    out = capsys.readouterr().out
    assert "双师型" in out and "是否双师素质教师（is_double_qualified）" in out and "绿化面积" not in out


def test_the_province_quality_page_lists_the_unmapped_headers():
    reference = QualityReference(
        tables=pl.DataFrame({"table_code": ["6.1"], "name_zh": ["校内专任教师"], "required": [True]}),
        elements=pl.DataFrame({"element_code": ["1.1"], "element_name": ["x"]}),
        as_of=AS_OF,
        current_year=YEAR,
        deadlines={YEAR: dt.date(YEAR, 10, 31)},
        issues_per_table=10,
    )
    status = pl.DataFrame(
        {"school_code": [SCHOOL], "year": [YEAR], "table_code": ["6.1"], "status": ["warn"], "reasons_zh": ["缺少列"]}
    )
    issues = pl.DataFrame(
        schema={
            "school_code": pl.String,
            "year": pl.Int32,
            "table_code": pl.String,
            "check_name": pl.String,
            "severity": pl.String,
            "message_zh": pl.String,
        }
    )
    unmapped = pl.DataFrame(
        {
            "year": [YEAR],
            "table_code": ["6.1"],
            "name_zh": ["校内专任教师"],
            "header": ["双师型"],
            "files": [4],
            "colleges": [3],
            "school_codes": [["1", "2", "3"]],
            "samples": [["是", "否"]],
            "likely_column": ["is_double_qualified"],
            "likely_header_zh": ["是否双师素质教师"],
        }
    )
    schools = pl.DataFrame({"school_code": [SCHOOL], "name_zh": ["测试学院"]})
    page = build_province_quality_page(reference, schools, status, issues, unmapped)
    assert "未识别的表头" in page and "双师型" in page and "是否双师素质教师（is_double_qualified）" in page
    assert "zhengai catalog map" in page
    clean = build_province_quality_page(reference, schools, status, issues, unmapped.clear())
    assert "双师型" not in clean and "各校文件的表头均已识别" in clean


def test_every_indicator_column_is_catalogued_cited_and_read_by_the_mart():
    import csv

    from pipelines.settings import SQL_DIR

    with open(REFERENCE_DIR / "indicators.csv", encoding="utf-8") as handle:
        indicators = {row["indicator_code"]: row for row in csv.DictReader(handle)}
    with open(REFERENCE_DIR / "indicator_columns.csv", encoding="utf-8") as handle:
        used = list(csv.DictReader(handle))
    assert {row["indicator_code"] for row in used} == set(indicators)
    base = (SQL_DIR / "mart" / "school_base.sql").read_text(encoding="utf-8")
    for row in used:
        indicator = indicators[row["indicator_code"]]
        assert row["table_code"] in indicator["source_tables"].split("|"), row
        CATALOG.by_code(row["table_code"]).column(row["column_name"])  # KeyError when not catalogued
        family = (SQL_DIR / "mart" / f"indicator_values_{indicator['family']}.sql").read_text(encoding="utf-8")
        assert re.search(rf"\b{row['column_name']}\b", family + base), row


def test_a_newer_platform_numbering_is_identified_through_the_crosswalk(tmp_path):
    from pipelines.catalog import load_crosswalk
    from pipelines.ingest import identify_table

    path = tmp_path / "platform_crosswalk.csv"
    path.write_text(
        "platform_version,table_code,table_name_zh,v2_table_code,note,source,confidence\n"
        "online2017,6.4,校内兼课人员,6.2,,,low\n"
        "online2017,6.1,教职工基本信息,6.1,,,low\n"
        "online2017,6.2,个人其他信息,6.1,,,low\n",
        encoding="utf-8",
    )
    crosswalk = load_crosswalk(path)
    assert identify_table("表6.4 校内兼课人员", CATALOG)[0] is None  # V2 6.4 is 校外兼课教师: ambiguous
    assert identify_table("表6.4 校内兼课人员", CATALOG, crosswalk)[0].code == "6.2"
    assert identify_table("表6.1 校内专任教师", CATALOG, crosswalk)[0].code == "6.1"  # V2 names still win
    # sub-tables joined into one V2 table are not loaded as if each were the whole table
    table, why = identify_table("表6.2 个人其他信息", CATALOG, crosswalk)
    assert table is None and "须与同版本的其他子表合并为表6.1" in why
    assert load_crosswalk(tmp_path / "absent.csv") == ()


def test_an_alias_reaches_a_file_no_longer_in_the_inbox_through_the_archive(conn, alias_file):
    table = CATALOG.by_code("6.1")
    rows = [{**row, "双师型": "是"} for row in sample_rows(table, 2)]
    columns = [c.name for c in table.columns if c.name != "is_double_qualified"]
    path = write_xlsx(folder() / "表6.1 校内专任教师.xlsx", table, rows, columns=columns, extra_headers=("双师型",))
    ingest_inbox(conn, get_settings())
    path.unlink()  # the college's delivery was cleared from the inbox after the first run
    assert ingest_inbox(conn, get_settings()).loaded == 0  # nothing new, nothing stale
    assert cli.main(["catalog", "map", "6.1", "双师型", "is_double_qualified"]) == 0
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 0)
    assert (
        conn.sql("select is_double_qualified, source_file from raw.full_time_teachers").fetchall()
        == [(True, f"{SCHOOL}/{YEAR}/表6.1 校内专任教师.xlsx")] * 2
    )
    assert log_row(conn, "6.1")["missing_columns"] == []
