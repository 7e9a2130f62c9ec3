"""The experts' pre-review dossier (issue 16 item 5) from a real pipeline run (document_fixtures): written
for every college of the year's plan, the college's own text beside the data's warnings, the review
history, candour prompts when mart.candour_prompts exists (and said missing when it does not), ranked
现场诊断重点 by reference/dossier_focus_rules.csv, naming no other college."""

from __future__ import annotations

import shutil

import docx
import duckdb
import pytest

from document_fixtures import (
    PAST_REVIEW_YEAR,
    REVIEW_YEAR,
    docx_headings,
    docx_text,
    html_text,
    other_colleges_named,
    warehouse,
)
from pipelines.cli import main
from pipelines.documents.blocks import render_html
from pipelines.documents.dossier import NO_CANDOUR, build_dossier
from pipelines.documents.focus import ElementEvidence, Rule, load_rules, rank_focus
from pipelines.settings import get_settings

pytestmark = pytest.mark.usefixtures("province_home")
SECTIONS = ("一、学校概况", "二、复核历史", "三、逐要素预审", "四、数据质量", "五、建议现场诊断重点")
OPINION_PART = "存在问题是实训条件不足"  # a sentence of the self-report text test_selfreport.fill writes


def written(code: str, year: int = REVIEW_YEAR) -> tuple:
    folder = get_settings().exports / "dossiers" / str(year)
    return folder / f"{code}.html", folder / f"{code}.docx"


def dossier_of(code: str) -> tuple:
    assert main(["dossier", "--school", code, "--year", str(REVIEW_YEAR)]) == 0
    return written(code)


def test_every_sampled_college_gets_a_dossier_with_its_sections(province, capsys):
    assert main(["dossier", "--sampled", "--year", str(REVIEW_YEAR)]) == 0
    printed = capsys.readouterr().out
    assert province["sampled"]
    for code in province["sampled"]:
        html, word = written(code)
        assert str(html) in printed and str(word) in printed
        headings = docx_headings(word)
        assert all(any(section in heading for heading in headings) for section in SECTIONS), headings
        focus = next(t for t in docx.Document(str(word)).tables if t.rows[0].cells[0].text == "序号")
        assert [c.text for c in focus.rows[0].cells] == ["序号", "诊断要素", "分值", "依据", "把握程度"]
        assert len(focus.rows) > 1
        assert other_colleges_named(html_text(html), code) == set()
        assert other_colleges_named(docx_text(word), code) == set()


def test_no_dossier_names_another_college(province):
    for code in province["active"]:
        html, word = dossier_of(code)
        assert other_colleges_named(html_text(html), code) == set(), code
        assert other_colleges_named(docx_text(word), code) == set(), code


def test_the_college_text_sits_beside_the_data_warnings(province):
    code = province["reviewed"]
    _, word = dossier_of(code)
    text = docx_text(word)
    assert OPINION_PART in text and "学校自我诊断（原文）" in text and "数据预警（" in text
    section = text.split("3.1 ")[1]
    assert "上一次复核：本要素的自我诊断与复核结果不相符" in section
    assert f"{PAST_REVIEW_YEAR}年" in text.split("二、复核历史")[1].split("三、逐要素预审")[0]


def test_a_college_without_self_report_is_said_so(province):
    html, _ = dossier_of(province["without_selfreport"])
    text = html_text(html)
    assert "未提交自我诊改报告（附件3）" in text and OPINION_PART not in text


def test_the_candour_prompts_of_the_run_are_shown_and_ranked(province):
    """mart.candour_prompts as the nightly run built it from the imported reports: every prompt of a
    college appears in its dossier, and its element is among the suggested 现场诊断重点."""
    with warehouse() as conn:
        prompts = conn.execute(
            "select school_code, element_code, message_zh from mart.candour_prompts order by all"
        ).fetchall()
    assert prompts, "the fixture's reports leave some flagged indicator unmentioned"
    code = prompts[0][0]
    html, _ = dossier_of(code)
    text = html_text(html)
    assert NO_CANDOUR not in text
    mine = [(element, message) for school, element, message in prompts if school == code]
    assert all(message in text for _, message in mine)
    focus = text.split("建议现场诊断重点")[-1]
    assert any(f"{element} " in focus for element, _ in mine)


def test_a_warehouse_without_candour_prompts_says_so(province, tmp_path):
    """A warehouse published before the candour table existed."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(get_settings().warehouse, copy)
    conn = duckdb.connect(str(copy))
    conn.execute("drop table mart.candour_prompts")
    assert NO_CANDOUR in render_html(build_dossier(conn, province["reviewed"], REVIEW_YEAR))


def evidence(code: str, level: str, candour=(), text=True, mismatch=False) -> ElementEvidence:
    return ElementEvidence(code, f"要素{code}", level, frozenset(candour), text, mismatch)


def test_focus_ranks_by_the_rule_file_and_says_its_confidence():
    ranked, limit = rank_focus(
        [
            evidence("1.1", "yellow"),
            evidence("2.1", "red"),
            evidence("3.1", "green", candour=["flag_unmentioned"]),
            evidence("4.1", "green"),
            evidence("5.4", "no_coverage"),
        ],
        selfreport_submitted=True,
    )
    assert [s.element_code for s in ranked] == ["2.1", "3.1", "1.1", "5.4"]
    assert [s.confidence for s in ranked] == ["medium", "low", "medium", "high"]
    assert limit == int(load_rules()["top_n"].value)


def test_focus_follows_an_edited_rule_file(tmp_path):
    rules = load_rules()
    edited = {**rules, "element_yellow": Rule("element_yellow", 9, "low", "黄")}
    ranked, _ = rank_focus([evidence("1.1", "yellow"), evidence("2.1", "red")], True, edited)
    assert [s.element_code for s in ranked] == ["1.1", "2.1"]


def test_missing_text_counts_only_when_a_report_was_filed():
    with_report, _ = rank_focus([evidence("1.1", "green", text=False)], selfreport_submitted=True)
    without, _ = rank_focus([evidence("1.1", "green", text=False)], selfreport_submitted=False)
    assert [s.element_code for s in with_report] == ["1.1"] and without == []


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--school", "99999", "--year", str(REVIEW_YEAR)], "院校名册中没有学校代码 99999"),
        (["--school", "{code}", "--year", "2019"], "在 2019 年及以前没有状态数据"),
        (["--sampled", "--year", "2031"], "没有 2031 年的抽样计划"),
    ],
)
def test_a_missing_college_or_year_is_one_line_and_exit_2(argv, expected, province, capsys):
    argv = [part.format(code=province["sampled"][0]) for part in argv]
    assert main(["dossier", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
