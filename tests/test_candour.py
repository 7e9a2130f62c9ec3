"""Candour prompts: self-diagnosis reports imported through `zhengai selfreport import`, the data's warnings in
a warehouse with the real tables, and `mart.candour_prompts` built by the real assets. Both ways: a report that
acknowledges the flagged problem gets no flag_unmentioned, one that does not gets it; an achievement claimed
against a flagged indicator is claim_contradicted, the same claim about a green indicator is not."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import docx
import duckdb
import pytest

from assets import review as review_assets
from assets.ref import build_reference_tables
from pipelines.cli import main
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.secretariat.candour import PROMPT_COLUMNS, load_candour_words
from pipelines.settings import REFERENCE_DIR
from test_review import SCHOOLS, write_warehouse
from test_selfreport import EFFECTS, MEASURES, OPINION, OVERVIEW, element_rows
from warehouse_fixtures import empty_mart_tables

YEAR = 2024
FRANK, SILENT, BOASTFUL = (code for code, *_ in SCHOOLS[:3])
# 生师比 informs 2.1, 3.1 and 3.2 (reference/indicator_elements.csv); 就业率 informs 2.2 and 4.1.
RED_RATIO = ("student_teacher_ratio", "生师比", "red", ["restricted"], "生师比 24.1，高于限制招生值 22。")
GREEN_EMPLOYMENT = ("employment_rate", "就业率", "green", [], "")
ACKNOWLEDGED = "本年度目标基本达成。主要成绩是专业建设取得进展。存在问题是生师比偏高，专任教师不足。原因是编制紧张。"
CLAIMED = "本年度目标全部达成。师资队伍建设取得成绩，生师比明显改善。存在问题是培训不足。原因是经费有限。"
EMPLOYMENT_CLAIM = "本年度目标全部达成。主要成绩是就业率稳步提升。存在问题是岗位不多。原因是区位偏远。"


def filled_report(tmp_path: Path, school: str, opinions: dict[str, str]) -> Path:
    """The 附件3 template of `school`, filled as a college would, `opinions` per element over the default."""
    blank = tmp_path / f"blank-{school}.docx"
    assert main(["selfreport", "template", "--school", school, "--year", str(YEAR), "--out", str(blank)]) == 0
    document = docx.Document(str(blank))
    document.tables[0].cell(0, 0).text = OVERVIEW
    for code, row in element_rows(document).items():
        for index, text in ((2, opinions.get(code, OPINION)), (3, MEASURES), (4, EFFECTS)):
            row.cells[index].text = text
    document.tables[-1].cell(0, 1).text = "张三"
    document.tables[-1].cell(1, 1).text = "2024年12月20日"
    out = tmp_path / f"filled-{school}.docx"
    document.save(str(out))
    return out


def warehouse_with_warnings(tmp_path: Path, warnings: list[tuple]) -> WarehouseResource:
    """A work warehouse with the real ref and mart tables; `warnings` go into mart.indicator_warnings."""
    warehouse = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    with warehouse.connect() as conn:
        build_reference_tables(conn)
        empty_mart_tables(conn)
        conn.executemany(
            "insert into mart.indicator_warnings (school_code, year, indicator_code, name_zh, level, causes, reasons, "
            "qualified_confidence, restricted_confidence) values (?, ?, ?, ?, ?, ?, ?, 'confirmed', ?)",
            [
                [school, year, code, name, level, causes, [reason] if reason else [], confidence]
                for school, year, (code, name, level, causes, reason), confidence in warnings
            ],
        )
    return warehouse


def prompts(tmp_path: Path, reports: dict[str, dict[str, str]], warnings: list[tuple]) -> list[dict]:
    """Import each report through the command, run the review assets, read mart.candour_prompts."""
    tmp_path.mkdir(exist_ok=True)
    write_warehouse()
    for school, opinions in reports.items():
        assert main(["selfreport", "import", str(filled_report(tmp_path, school, opinions)), "--year", str(YEAR)]) == 0
    warehouse = warehouse_with_warnings(tmp_path, warnings)
    result = dg.materialize(
        dg.load_assets_from_modules([review_assets], key_prefix="mart"),
        resources={"warehouse": warehouse, "run_options": RunOptions(as_of="2025-01-15")},
        selection=["mart/selfreport_elements", "mart/candour_prompts"],
    )
    assert result.success
    conn = duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True)
    frame = conn.execute("select * from mart.candour_prompts").pl()
    conn.close()
    assert tuple(frame.columns) == PROMPT_COLUMNS
    return frame.to_dicts()


def about(rows: list[dict], school: str, element: str, indicator: str) -> list[dict]:
    return [
        row
        for row in rows
        if (row["school_code"], row["element_code"], row["indicator_code"]) == (school, element, indicator)
    ]


@pytest.fixture
def red_ratio_prompts(tmp_path) -> list[dict]:
    return prompts(
        tmp_path,
        {FRANK: {"3.2": ACKNOWLEDGED}, SILENT: {}, BOASTFUL: {"3.2": CLAIMED, "2.2": EMPLOYMENT_CLAIM}},
        [
            (school, YEAR, indicator, "unconfirmed")
            for school in (FRANK, SILENT, BOASTFUL)
            for indicator in (RED_RATIO, GREEN_EMPLOYMENT)
        ],
    )


def test_a_report_that_acknowledges_the_flag_gets_no_flag_unmentioned(red_ratio_prompts):
    assert about(red_ratio_prompts, FRANK, "3.2", "student_teacher_ratio") == []


def test_a_report_silent_on_the_flag_gets_flag_unmentioned_for_each_linked_element(red_ratio_prompts):
    silent = about(red_ratio_prompts, SILENT, "3.2", "student_teacher_ratio")
    assert [row["kind"] for row in silent] == ["flag_unmentioned"]
    assert "生师比 24.1" in silent[0]["message_zh"] and "不是结论" in silent[0]["message_zh"]
    assert {row["element_code"] for row in red_ratio_prompts if row["school_code"] == SILENT} == {"2.1", "3.1", "3.2"}
    # the frank college is still asked about 3.1, with low confidence, naming where it did mention it
    frank = about(red_ratio_prompts, FRANK, "3.1", "student_teacher_ratio")
    assert [(row["kind"], row["confidence"]) for row in frank] == [("flag_unmentioned", "low")]
    assert "要素 3.2 中提到" in frank[0]["message_zh"]


def test_an_achievement_claimed_against_the_data_is_claim_contradicted(red_ratio_prompts):
    claimed = about(red_ratio_prompts, BOASTFUL, "3.2", "student_teacher_ratio")
    assert [row["kind"] for row in claimed] == ["claim_contradicted"]
    assert "生师比明显改善" in claimed[0]["message_zh"] and "红色预警" in claimed[0]["message_zh"]
    # the same kind of claim about a green indicator is no prompt
    assert about(red_ratio_prompts, BOASTFUL, "2.2", "employment_rate") == []


def test_a_flag_resting_only_on_unconfirmed_thresholds_has_low_confidence(tmp_path):
    rows = prompts(tmp_path / "a", {SILENT: {}}, [(SILENT, YEAR, RED_RATIO, "confirmed")])
    assert {row["confidence"] for row in about(rows, SILENT, "3.2", "student_teacher_ratio")} == {
        "medium"
    }  # the lowest of its search words
    rows = prompts(tmp_path / "b", {SILENT: {}}, [(SILENT, YEAR, RED_RATIO, "unconfirmed")])
    assert {row["confidence"] for row in about(rows, SILENT, "3.2", "student_teacher_ratio")} == {"low"}


def test_the_reports_year_reads_the_latest_data_year_up_to_it(tmp_path):
    green_later = ("student_teacher_ratio", "生师比", "green", [], "")
    red_before = (SILENT, YEAR - 1, RED_RATIO, "confirmed")
    rows = prompts(tmp_path / "a", {SILENT: {}}, [red_before, (SILENT, YEAR, green_later, "")])
    assert rows == []
    rows = prompts(tmp_path / "b", {SILENT: {}}, [red_before, (SILENT, YEAR + 1, green_later, "")])
    assert {row["year"] for row in rows} == {YEAR} and f"{YEAR - 1} 年状态数据" in rows[0]["message_zh"]


def test_every_indicator_has_topic_words_and_every_row_a_source_and_confidence():
    words = load_candour_words()
    lines = (REFERENCE_DIR / "indicators.csv").read_text(encoding="utf-8").splitlines()[1:]
    indicators = {line.split(",")[0] for line in lines}
    assert indicators <= {indicator for indicator, _ in words.topics}
    assert words.claims and words.problems
