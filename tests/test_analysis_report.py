"""The status-data analysis report (issue 16 item 1) built from a real pipeline run (document_fixtures):
written as HTML and .docx for the sampled colleges, naming no other college (and the scan catches a
leaked peer name), with the basic figures table, the three-year trend, the anonymous peer position, and
the elements the data cannot speak to; a missing college or year is one line, exit code 2."""

from __future__ import annotations

import docx
import pytest

from document_fixtures import REVIEW_YEAR, docx_headings, docx_text, html_text, other_colleges_named, warehouse
from pipelines.cli import main
from pipelines.documents import sources
from pipelines.documents.analysis import build_analysis
from pipelines.documents.blocks import render_html
from pipelines.settings import get_settings

pytestmark = pytest.mark.usefixtures("province_home")
YEAR = 2024
SECTIONS = ("说明", "一、学校基本情况", "二、诊断项目与要素分析", "三、数据质量", "四、状态数据不能说明的内容")


def written(code: str, year: int = YEAR) -> tuple:
    folder = get_settings().exports / "analysis" / str(year)
    return folder / f"{code}.html", folder / f"{code}.docx"


@pytest.fixture(scope="module")
def sampled_reports(province):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(province["home"]))
        assert main(["report", "analysis", "--sampled", "--year", str(REVIEW_YEAR)]) == 0
        return {code: written(code, province["plan"]["risk_year"]) for code in province["sampled"]}


def test_sampled_colleges_get_both_documents(sampled_reports, province, capsys):
    assert province["sampled"], "the plan selects colleges"
    for code, (html, word) in sampled_reports.items():
        assert html.is_file() and word.is_file()
        headings = docx_headings(word)
        assert all(any(section in heading for heading in headings) for section in SECTIONS), headings
        assert province["colleges"][code] in html.read_text(encoding="utf-8")


def test_documents_name_no_other_college(province, capsys):
    for code in province["active"]:
        assert main(["report", "analysis", "--school", code, "--year", str(YEAR)]) == 0
        html, word = written(code)
        assert other_colleges_named(html_text(html), code) == set(), code
        assert other_colleges_named(docx_text(word), code) == set(), code
    printed = capsys.readouterr().out
    assert all(str(path) in printed for path in written(code))


def test_the_scan_catches_a_leaked_peer_name(province, monkeypatch):
    """The same scan on a report whose element reasons carry a peer's name (as a careless query would)."""
    code, peer = province["active"][:2]
    real_rows = sources.rows

    def leaking(conn, name, **params):
        found = real_rows(conn, name, **params)
        if name == "documents/elements":
            found[0]["reasons"] = [*found[0]["reasons"], f"低于{province['colleges'][peer]}"]
        return found

    monkeypatch.setattr(sources, "rows", leaking)
    with warehouse() as conn:
        document = build_analysis(conn, code, YEAR)
    assert other_colleges_named(render_html(document), code) == {province["colleges"][peer]}


def test_basic_figures_table_lists_every_indicator_with_a_qualified_value(sampled_reports, province):
    code = province["sampled"][0]
    word = sampled_reports[code][1]
    with warehouse() as conn:
        school_type, year = conn.execute(
            "select school_type, ? from ref.schools where school_code = ?", [province["plan"]["risk_year"], code]
        ).fetchone()
        expected = {
            name
            for (name,) in conn.execute(
                "select i.name_zh from ref.thresholds t join ref.indicators i using (indicator_code) "
                "where t.school_type = ? and t.qualified_value is not null",
                [school_type],
            ).fetchall()
        }
    table = next(t for t in docx.Document(str(word)).tables if t.rows[0].cells[-1].text == f"{year}年对照")
    assert [cell.text for cell in table.rows[0].cells][:6] == [
        "指标",
        f"{year - 2}年",
        f"{year - 1}年",
        f"{year}年",
        "合格值",
        "限制招生值",
    ]
    assert {row.cells[0].text for row in table.rows[1:]} == expected


def test_indicator_trend_covers_three_years(sampled_reports, province):
    code = province["sampled"][0]
    text = html_text(sampled_reports[code][0])
    year = province["plan"]["risk_year"]
    assert f"{year - 2}年 " in text and f"{year - 1}年 " in text and "三年趋势" in text


def test_an_element_without_coverage_appears_as_such(sampled_reports, province):
    code = province["sampled"][0]
    html, word = sampled_reports[code]
    with warehouse() as conn:
        uncovered = conn.execute(
            "select element_code || ' ' || element_name from mart.element_warnings "
            "where school_code = ? and year = ? and level = 'no_coverage' order by 1",
            [code, province["plan"]["risk_year"]],
        ).fetchall()
    assert uncovered, "附件2 has elements whose points cite no table (5.3, 5.4)"
    section = docx_text(word).split("四、状态数据不能说明的内容")[-1]
    for (label,) in uncovered:
        assert label in section and "无数据覆盖" in section
    assert "诊断点 2.1-1 规划制定与实施：未引用状态数据平台的数据表" in html_text(html)


def test_peer_position_is_anonymous_and_shown_only_with_enough_peers(province, monkeypatch):
    code = province["sampled"][0]
    with warehouse() as conn:
        few = render_html(build_analysis(conn, code, YEAR))
        monkeypatch.setattr(sources, "peer_min_count", lambda: 1)
        many = render_html(build_analysis(conn, code, YEAR))
    assert "所中居第" not in few and "不作比较" in few
    assert "所中居第" in many and "同类中位数" in many
    assert other_colleges_named(many, code) == set()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--school", "99999", "--year", str(YEAR)], "院校名册中没有学校代码 99999"),
        (["--school", "{code}", "--year", "2019"], "没有 2019 年的状态数据"),
        (["--sampled", "--year", "2031"], "没有 2031 年的抽样计划"),
    ],
)
def test_a_missing_college_or_year_is_one_line_and_exit_2(argv, expected, province, capsys):
    argv = [part.format(code=province["sampled"][0]) for part in argv]
    assert main(["report", "analysis", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1


def test_text_is_escaped_in_html_and_kept_as_text_in_word(tmp_path):
    from pipelines.documents.blocks import Document, element, paragraph, table
    from pipelines.documents.word import write_docx

    document = Document("<b>学校</b>", "副标题")
    document.add(paragraph("<script>alert(1)</script>"), element("1.1 要素", "red", [table(["<i>"], [["a&b"]])]))
    html = render_html(document)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>学校</b>" not in html and "a&amp;b" in html
    word = docx.Document(str(write_docx(document, tmp_path / "escaped.docx")))
    assert any(p.text == "<script>alert(1)</script>" for p in word.paragraphs)
