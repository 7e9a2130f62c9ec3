"""`zhengai export`: the workbooks opened with openpyxl (headers, frozen header, filter, print set-up,
school names, values only), the per-college filter, and the one-line refusals."""

from __future__ import annotations

import duckdb
import openpyxl
import pytest

from pipelines.cli import main
from pipelines.settings import get_settings
from site_fixtures import add_issue, fixture_warehouse, populate_province, school_name

YEARS = [2023, 2024]


@pytest.fixture
def warehouse():
    """A published warehouse of three colleges, built by the site fixtures, with a formula-like reason."""
    path = get_settings().warehouse
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = fixture_warehouse(path)
    codes = populate_province(conn, 3, YEARS, seed=5, school_types=["理工"])
    add_issue(conn, codes[0], 2024, "A01", "error", 2, '=HYPERLINK("http://x","y")')
    conn.close()
    return codes


def export(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["export", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def column(sheet, header: str) -> list:
    headers = [cell.value for cell in sheet[1]]
    index = headers.index(header)
    return [row[index].value for row in sheet.iter_rows(min_row=2)]


@pytest.mark.parametrize(
    ("kind", "sheet_name", "headers"),
    [
        (
            "warnings",
            "要素预警",
            ["学校代码", "学校名称", "年份", "诊断要素代码", "诊断要素名称", "预警等级", "预警原因"],
        ),
        ("risk", "院校风险", ["学校代码", "学校名称", "年份", "风险排名", "风险分", "红色要素"]),
        ("quality", "数据表状态", ["学校代码", "学校名称", "年份", "数据表代码", "状态（代码）", "说明"]),
        (
            "issues",
            "数据问题",
            ["学校代码", "学校名称", "年份", "数据表代码", "字段", "严重程度（代码）", "问题行数", "问题说明"],
        ),
    ],
)
def test_each_workbook_has_headers_frozen_row_filter_print_setup_and_names(
    capsys, warehouse, kind, sheet_name, headers
):
    code, out, _ = export(capsys, kind, "--year", "2024")
    path = get_settings().exports / f"{kind}-2024.xlsx"
    assert code == 0 and str(path) in out
    sheet = openpyxl.load_workbook(path)[sheet_name]
    assert [cell.value for cell in sheet[1]][: len(headers)] == headers
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
    assert sheet.max_row > 1
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    # fitToWidth 1 is the OOXML default, which xlsxwriter leaves out
    assert (sheet.page_setup.fitToWidth or 1) == 1 and sheet.page_setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$1:$1"
    assert set(column(sheet, "学校名称")) == {school_name(i) for i in range(3)}
    assert set(column(sheet, "年份")) == {2024}
    assert sheet.column_dimensions["B"].width > 20


def test_no_cell_is_a_formula_even_when_the_data_look_like_one(capsys, warehouse):
    assert export(capsys, "issues", "--year", "2024")[0] == 0
    book = openpyxl.load_workbook(get_settings().exports / "issues-2024.xlsx")
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row]
    assert '=HYPERLINK("http://x","y")' in [cell.value for cell in cells]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []


def test_data_rows_written_directly_read_back_as_the_values_they_were(tmp_path):
    """The data rows bypass xlsxwriter (pipelines/excel.py with_sheet_bodies): text with XML's special
    characters, control characters, edge spaces, a list, numbers and blanks come back."""
    from pipelines.exports import KINDS, workbook_from_rows

    spec = KINDS["risk"][0]
    columns = list(spec.columns[:6])
    texts = ['a<b>&"c"', "tab\there\x01", "  edge  ", "=1+1", "中文"]
    rows = [(text, ["甲", "乙"], 2024, 3, 1.5, None) for text in texts]
    path = tmp_path / "book.xlsx"
    path.write_bytes(workbook_from_rows([(spec, columns, rows)]))
    sheet = openpyxl.load_workbook(path)[spec.title]
    assert sheet.max_row == len(rows) + 1 and sheet.auto_filter.ref == f"A1:F{len(rows) + 1}"
    read = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [row[0] for row in read] == ['a<b>&"c"', "tab\there_x0001_", "  edge  ", "=1+1", "中文"]
    assert {tuple(row[1:]) for row in read} == {("甲；乙", 2024, 3, 1.5, None)}
    assert [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"] == []
    assert sheet["A2"].alignment.wrap_text


def test_one_college_and_an_output_file(capsys, warehouse, tmp_path):
    out = tmp_path / "mine.xlsx"
    code, printed, _ = export(capsys, "warnings", "--year", "2023", "--school", warehouse[1], "--out", str(out))
    assert code == 0 and str(out) in printed
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["要素预警", "指标预警"]
    assert book["指标预警"].max_row == 1  # the fixture fills no indicator warnings: the sheet has its header only
    assert set(column(book["要素预警"], "学校代码")) == {warehouse[1]}
    assert set(column(book["要素预警"], "学校名称")) == {school_name(1)}


def test_default_year_is_the_latest(capsys, warehouse):
    code, out, _ = export(capsys, "risk")
    assert code == 0 and str(get_settings().exports / "risk-2024.xlsx") in out


@pytest.mark.parametrize(("args", "said"), [(["--school", "99999"], "99999"), (["--year", "2019"], "2019")])
def test_unknown_college_or_year_is_one_chinese_line(capsys, warehouse, args, said):
    code, out, err = export(capsys, "risk", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and said in err and "没有" in err and "Traceback" not in err
    assert not list(get_settings().exports.glob("*.xlsx")) if get_settings().exports.exists() else True


def test_without_a_warehouse_says_to_run_first(capsys):
    code, _, err = export(capsys, "risk")
    assert code == 2 and "zhengai run" in err and len(err.strip().splitlines()) == 1


def test_site_downloads_give_a_college_only_its_own_rows(tmp_path, warehouse):
    from pipelines.exports import write_downloads

    site = tmp_path / "site"
    conn = duckdb.connect(str(get_settings().warehouse), read_only=True)
    try:
        written = write_downloads(conn, site)
    finally:
        conn.close()
    province = sorted(p.name for p in (site / "province" / "downloads").iterdir())
    assert province == ["issues-2024.xlsx", "quality-2024.xlsx", "risk-2024.xlsx", "warnings-2024.xlsx"]
    assert written == 4 + 3 * 3
    page = (site / "province" / "downloads.html").read_text(encoding="utf-8")
    assert all(f'href="downloads/{name}"' in page for name in province)
    own = site / "schools" / warehouse[2]
    assert sorted(p.name for p in (own / "downloads").iterdir()) == [
        "issues-2024.xlsx",
        "quality-2024.xlsx",
        "warnings-2024.xlsx",
    ]
    for name in ("warnings-2024.xlsx", "quality-2024.xlsx"):
        book = openpyxl.load_workbook(own / "downloads" / name)
        sheet = book.worksheets[0]
        assert set(column(sheet, "学校代码")) == {warehouse[2]} and sheet.freeze_panes == "A2"
    assert 'href="downloads/warnings-2024.xlsx"' in (own / "downloads.html").read_text(encoding="utf-8")
