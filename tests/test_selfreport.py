"""The self-diagnosis report (附件3): template, filled as a college would, imported and recorded; every
limit broken by one character refused naming element and field; missing element and unsigned refused;
the status-data aid ignored on import; the .xlsx path; how 字 are counted; the submissions register."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import docx
import duckdb
import openpyxl
import pytest

from assets import review as review_assets
from pipelines.cli import main
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.secretariat.selfreport import count_chars, load_limits, problem_share, selfreport_rows
from pipelines.secretariat.selfreport_form import AID_PREFIX, COLUMNS
from pipelines.settings import get_settings
from test_review import ELEMENTS, SCHOOLS, write_warehouse

SCHOOL = SCHOOLS[0][0]
YEAR = 2024
LIMITS = load_limits()
# a sentence per required part (目标达成, 成绩, 问题, 原因); problems and causes about half of the text
OPINION = "本年度目标基本达成。主要成绩是专业建设取得进展。存在问题是实训条件不足。原因是经费投入不够。"
MEASURES = "增加实训经费投入，完善设备采购计划。"
EFFECTS = "实训工位已增加，学生满意度有所提高。"
OVERVIEW = "学校按照方案开展自我诊改，覆盖全部诊断要素。"


def pad(text: str, total: int) -> str:
    """`text` lengthened with 。 to exactly `total` 字 (keeps its keywords and sentence shares sensible)."""
    return text + "。" * (total - count_chars(text))


@pytest.fixture
def warehouse():
    return write_warehouse(warnings=[(SCHOOL, 2023, "3.1", "red", 3.0, ["生师比 24.1，低于限制招生值。"])])


def template(tmp_path: Path) -> Path:
    out = tmp_path / "form.docx"
    assert main(["selfreport", "template", "--school", SCHOOL, "--year", str(YEAR), "--out", str(out)]) == 0
    return out


def element_rows(document) -> dict[str, object]:
    table = next(t for t in document.tables if t.rows[0].cells[0].text == COLUMNS[0])
    return {row.cells[1].text.split()[0]: row for row in table.rows[1:] if not row.cells[0].text.startswith(AID_PREFIX)}


def fill(path: Path, out: Path, fields: dict | None = None, skip: str | None = None, signed: bool = True) -> Path:
    """Fill the template as a college would; `fields` overrides (element_code, column index) → text."""
    document = docx.Document(str(path))
    document.tables[0].cell(0, 0).text = OVERVIEW if not fields or "overview" not in fields else fields["overview"]
    rows = element_rows(document)
    for code, row in rows.items():
        if code == skip:
            row._tr.getparent().remove(row._tr)
            continue
        for index, text in ((2, OPINION), (3, MEASURES), (4, EFFECTS)):
            row.cells[index].text = (fields or {}).get((code, index), text)
    signature = document.tables[-1]
    signature.cell(0, 1).text = "张三" if signed else ""
    signature.cell(1, 1).text = "2024年12月20日"
    document.save(str(out))
    return out


def import_form(path: Path, *extra: str) -> int:
    return main(["selfreport", "import", str(path), "--year", str(YEAR), *extra])


def stored(home: Path) -> Path:
    return home / "selfreports" / str(YEAR) / f"{SCHOOL}.docx"


def test_count_chars_examples():
    assert count_chars("ABC 12，质量") == 8  # letters, digits, punctuation and 汉字 each one; the space none
    assert count_chars("质量\u3000保证\n体系 ") == 6  # full-width spaces and line breaks do not count
    assert count_chars("“目标”。") == 5


def test_problem_share_measures_sentences():
    assert problem_share(OPINION, ["问题", "原因"]) == pytest.approx(0.5, abs=0.05)
    assert problem_share("目标达成。成绩显著。", ["问题", "原因"]) == 0.0


def test_template_carries_elements_and_marked_evidence(tmp_path, warehouse):
    document = docx.Document(str(template(tmp_path)))
    rows = element_rows(document)
    assert sorted(rows, key=lambda c: tuple(map(int, c.split(".")))) == ELEMENTS
    aids = [
        p.text for t in document.tables for r in t.rows for p in r.cells[0].paragraphs if p.text.startswith(AID_PREFIX)
    ]
    assert len(aids) == len(ELEMENTS)
    assert any("3.1" not in a and "生师比 24.1" in a for a in aids)
    assert sum("无数据" in a for a in aids) == len(ELEMENTS) - 1
    assert "w:shd" in document.tables[1].rows[2].cells[0]._tc.xml


def test_template_without_warehouse_says_no_data(tmp_path, capsys):
    write_warehouse()
    get_settings().warehouse.unlink()
    (get_settings().registry).parent.mkdir(parents=True, exist_ok=True)
    get_settings().registry.write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
        "13801,广西甲职业技术学院,综合,公办,active,,,\n",
        encoding="utf-8",
    )
    document = docx.Document(str(template(tmp_path)))
    assert "无数据" in capsys.readouterr().out
    assert all("无数据" in t for t in (r.cells[0].text for r in document.tables[1].rows) if t.startswith(AID_PREFIX))


def test_filled_form_imported_recorded_and_loaded(tmp_path, warehouse, zhengai_home, capsys):
    assert import_form(fill(template(tmp_path), tmp_path / "done.docx")) == 0
    assert stored(zhengai_home).is_file()
    rows = selfreport_rows()
    assert len(rows) == len(ELEMENTS) and {r["self_diagnosis"] for r in rows} == {OPINION}
    assert all(
        AID_PREFIX not in r["self_diagnosis"] + r["improvement_measures"] + r["improvement_effects"] for r in rows
    )
    work = tmp_path / "work.duckdb"
    result = dg.materialize(
        dg.load_assets_from_modules([review_assets], key_prefix="mart"),
        selection=["mart/selfreport_elements"],
        resources={"warehouse": WarehouseResource(path=str(work)), "run_options": RunOptions()},
    )
    assert result.success
    with duckdb.connect(str(work)) as conn:
        assert conn.execute("select count(*), min(improvement_effects) from mart.selfreport_elements").fetchone() == (
            15,
            EFFECTS,
        )
    capsys.readouterr()
    assert main(["selfreport", "status", "--year", str(YEAR), "--json"]) == 0
    register = {row["school_code"]: row for row in json.loads(capsys.readouterr().out)}
    assert register[SCHOOL]["selfreport"] and register[SCHOOL]["selfreport_signed"] == "2024-12-20"
    assert register["13802"]["selfreport"] is None and register[SCHOOL]["质量年报"] is None


@pytest.mark.parametrize(
    ("key", "field_zh", "limit"),
    [
        ("overview", "自我诊改工作概述", "overview_max_chars"),
        (("2.1", 2), "自我诊断意见", "opinion_max_chars"),
        (("3.2", 3), "改进措施", "measures_max_chars"),
        (("5.4", 4), "改进成效", "effects_max_chars"),
    ],
)
def test_each_limit_at_and_over_by_one(tmp_path, warehouse, zhengai_home, capsys, key, field_zh, limit):
    base = {"overview": OVERVIEW, ("2.1", 2): OPINION, ("3.2", 3): MEASURES, ("5.4", 4): EFFECTS}[key]
    limit_chars = int(LIMITS[limit])
    form = template(tmp_path)
    assert import_form(fill(form, tmp_path / "at.docx", {key: pad(base, limit_chars)})) == 0
    stored(zhengai_home).unlink()
    capsys.readouterr()
    assert import_form(fill(form, tmp_path / "over.docx", {key: pad(base, limit_chars + 1)})) == 2
    error = capsys.readouterr().err
    where = "概述" if key == "overview" else f"要素 {key[0]}"
    assert f"「{field_zh}」{limit_chars + 1} 字，超过 {limit_chars} 字" in error and where in error
    assert not stored(zhengai_home).exists()


def test_missing_element_unsigned_and_missing_parts_refused(tmp_path, warehouse, zhengai_home, capsys):
    form = template(tmp_path)
    assert import_form(fill(form, tmp_path / "missing.docx", skip="4.2")) == 2
    assert "要素 4.2 成长环境：缺少该诊断要素的行" in capsys.readouterr().err
    assert import_form(fill(form, tmp_path / "unsigned.docx", signed=False)) == 2
    assert "校长未签字" in capsys.readouterr().err
    no_cause = "本年度目标基本达成。主要成绩是专业建设取得进展。存在问题是实训条件不足。"
    assert import_form(fill(form, tmp_path / "cause.docx", {("1.1", 2): no_cause})) == 2
    assert "要素 1.1 质量保证理念：「自我诊断意见」未阐明原因分析" in capsys.readouterr().err
    assert not stored(zhengai_home).exists()


def test_problem_share_warns_not_refuses(tmp_path, warehouse, zhengai_home, capsys):
    long_praise = OPINION + "学校取得了多项成绩，提升了办学水平。" * 4
    assert import_form(fill(template(tmp_path), tmp_path / "f.docx", {("1.2", 2): long_praise})) == 0
    assert "要素 1.2 组织构架：「自我诊断意见」中存在问题与原因分析约占" in capsys.readouterr().out


def test_evidence_aid_ignored_even_when_edited(tmp_path, warehouse, zhengai_home):
    form = fill(template(tmp_path), tmp_path / "f.docx")
    document = docx.Document(str(form))
    table = document.tables[1]
    aid = next(r for r in table.rows if r.cells[0].text.startswith(AID_PREFIX))
    aid.cells[0].text = f"{AID_PREFIX}：1.1 被学校改写的文字" + "长" * 600
    document.save(str(form))
    assert import_form(form) == 0
    assert all("被学校改写" not in r["self_diagnosis"] for r in selfreport_rows())


def test_xlsx_form_imported_and_stored_as_docx(tmp_path, warehouse, zhengai_home):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["学校名称", SCHOOLS[0][1]])
    sheet.append(["一、自我诊改工作概述（500 字以内）", OVERVIEW])
    sheet.append(list(COLUMNS))
    for code in ELEMENTS:
        sheet.append([code.split(".")[0], f"{code} 名称", OPINION, MEASURES, EFFECTS])
        sheet.append([f"{AID_PREFIX}：学校从模板复制来的参考文字"])
    sheet.append(["校长（签字）", "张三"])
    sheet.append(["日期", "2024-12-20"])
    path = tmp_path / "form.xlsx"
    book.save(path)
    assert import_form(path) == 0
    assert element_rows(docx.Document(str(stored(zhengai_home)))).keys() == set(ELEMENTS)
    sheet.delete_rows(sheet.max_row - 1)  # the signature row
    book.save(path)
    stored(zhengai_home).unlink()
    assert import_form(path) == 2 and not stored(zhengai_home).exists()


def test_register_other_submissions(warehouse, capsys):
    assert (
        main(
            [
                "selfreport",
                "register",
                "--kind",
                "质量年报",
                "--school",
                SCHOOL,
                "--year",
                "2024",
                "--date",
                "2024-12-10",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["selfreport", "status", "--year", "2024"]) == 0
    out = capsys.readouterr().out
    assert "2024-12-10" in out and "未提交" in out and "未登记" in out


def test_json_refusal_lists_violations_and_warnings(tmp_path, warehouse, capsys):
    graded = OPINION + "本要素自评等级为优秀。"
    form = fill(template(tmp_path), tmp_path / "f.docx", {("1.3", 2): graded}, signed=False)
    capsys.readouterr()
    assert import_form(form, "--json") == 2
    result = json.loads(capsys.readouterr().out)
    assert result["recorded"] is None and result["violations"] == ["校长未签字"]
    assert any("要素 1.3" in line and "等级性结论" in line for line in result["warnings"])


def test_wrong_year_template_and_unknown_college_refused(tmp_path, warehouse, zhengai_home, capsys):
    form = fill(template(tmp_path), tmp_path / "f.docx")
    assert main(["selfreport", "import", str(form), "--year", "2025"]) == 2
    assert "2024 年的模板" in capsys.readouterr().err
    document = docx.Document(str(form))
    document.core_properties.identifier = ""
    document.paragraphs[2].text = "学校名称：不在名册中的学院"
    document.save(str(form))
    assert import_form(form) == 2
    assert "不在院校名册中" in capsys.readouterr().err
    assert import_form(form, "--school", SCHOOL) == 0 and stored(zhengai_home).is_file()
