"""Sampling on the basis of the December submissions (细则 三(二)): a year in which some colleges did not submit,
submitted late or had their report refused; the plan (JSON, plan.xlsx, plan.html, the command's text) says
why, in Chinese, with the points from reference/sampling_rules.csv; the same plan without those reasons
selects otherwise; a plan recorded before the submissions existed recomputes as it was."""

from __future__ import annotations

import copy
import datetime as dt
import json

import docx
import fastexcel
import pytest

from pipelines.cli import main
from pipelines.secretariat import selfreport
from pipelines.secretariat.rules import LEGACY_RULES, load_rules
from pipelines.secretariat.submissions import submission_points
from pipelines.settings import get_settings
from test_review import write_warehouse
from test_sampling import codes, plan_record, province, recompute
from test_selfreport import EFFECTS, MEASURES, OPINION, OVERVIEW, element_rows

RULES = load_rules()
REPORT_YEAR = 2024  # the materials of December 2024 decide the sample of 2025
MISSING, LATE, REFUSED = "13803", "13805", "13804"


def submit(tmp_path, monkeypatch, school: str, on: str, valid: bool = True) -> int:
    """The college's 附件3, filled and imported on `on` (the command's clock), as the secretariat receives it."""
    monkeypatch.setattr(selfreport, "now_local", lambda: dt.datetime.fromisoformat(f"{on}T10:00:00"))
    blank = tmp_path / f"blank-{school}.docx"
    assert main(["selfreport", "template", "--school", school, "--year", str(REPORT_YEAR), "--out", str(blank)]) == 0
    document = docx.Document(str(blank))
    document.tables[0].cell(0, 0).text = OVERVIEW
    for row in element_rows(document).values():
        for index, text in ((2, OPINION), (3, MEASURES), (4, EFFECTS)):
            row.cells[index].text = text
    document.tables[-1].cell(0, 1).text = "张三" if valid else ""
    document.tables[-1].cell(1, 1).text = "2024年12月20日"
    filled = tmp_path / f"filled-{school}-{on}.docx"
    document.save(str(filled))
    return main(["selfreport", "import", str(filled), "--year", str(REPORT_YEAR)])


def register(school: str, on: str) -> None:
    for kind in ("质量年报", "分析报告"):
        command = ["selfreport", "register", "--kind", kind, "--school", school, "--year", str(REPORT_YEAR)]
        assert main([*command, "--date", on]) == 0


@pytest.fixture
def december(tmp_path, monkeypatch):
    """12 colleges (risk 90, 88, … by code): all submit on time except 13803 (nothing), 13805 (its report late)
    and 13804 (refused once, then valid)."""
    write_warehouse(*province(12))
    for school in codes(12):
        if school == MISSING:
            continue
        if school == REFUSED:
            assert submit(tmp_path, monkeypatch, school, "2024-12-10", valid=False) == 2
        assert submit(tmp_path, monkeypatch, school, "2025-01-05" if school == LATE else "2024-12-20") == 0
        register(school, "2024-12-15")


def plan_2025(capsys) -> dict:
    # the last year of the cycle 2023-2025 with nothing covered: 3 places, 2 by risk and submissions, 1 drawn
    capsys.readouterr()
    command = ["sample", "--cycle-start", "2023", "--year", "2025", "--seed", "7", "--as-of", "2025-01-15"]
    assert main(command) == 0
    return {"out": capsys.readouterr().out, **plan_record(2025)}


def test_a_college_that_did_not_submit_is_sampled_and_the_plan_says_why(december, capsys):
    record = plan_2025(capsys)
    plan = record["plan"]
    by_risk = [row for row in plan["selected"] if row["reason"] == "risk"]
    assert [row["school_code"] for row in by_risk] == [MISSING, REFUSED]  # 86 + 30 and 84 + 10 over 90
    missing = by_risk[0]
    assert missing["submission_points"] == 30
    assert missing["submission_reasons"] == [
        "截至 2025-01-15 未提交自我诊改报告（截止 2024-12-31）：+20 分",
        "截至 2025-01-15 未提交人才培养质量年度报告（截止 2024-12-31）：+5 分",
        "截至 2025-01-15 未提交人才培养工作状态数据分析报告（截止 2024-12-31）：+5 分",
    ]
    assert "材料提交情况加 30 分，合计 116 分" in missing["rationale_zh"]
    assert by_risk[1]["submission_reasons"] == ["自我诊改报告曾 1 次因不符合附件3 要求被退回：+10 分"]
    assert "材料提交：截至 2025-01-15 未提交自我诊改报告" in record["out"]
    folder = get_settings().exports / "sampling" / "2025"
    assert "未提交自我诊改报告（截止 2024-12-31）：+20 分" in (folder / "plan.html").read_text(encoding="utf-8")
    sheet = fastexcel.read_excel(str(folder / "plan.xlsx")).load_sheet_by_name(
        "抽样计划", header_row=None, dtypes="string"
    )
    cells = [cell for row in sheet.to_polars().rows() for cell in row if cell]
    assert "材料提交情况" in cells and any("未提交自我诊改报告" in cell for cell in cells)
    assert recompute(record["inputs"]) == plan


def test_without_the_missing_submissions_the_highest_risk_is_sampled(december, capsys):
    inputs = copy.deepcopy(plan_2025(capsys)["inputs"])
    facts = inputs["submissions"]["colleges"]
    facts[MISSING] = {**facts["13801"]}  # as if 13803 had submitted everything on time
    facts[REFUSED]["selfreport_refused"] = 0
    by_risk = [row["school_code"] for row in recompute(inputs)["selected"] if row["reason"] == "risk"]
    assert by_risk == ["13801", "13802"]


def test_a_late_report_and_an_incomplete_one_add_their_weights():
    facts = {
        "selfreport": "2025-01-05",
        "selfreport_warnings": 2,
        "selfreport_refused": 0,
        "质量年报": "2024-12-01",
        "分析报告": "2025-01-03",
        "candour_prompts": 9,
    }
    points, reasons = submission_points(facts, REPORT_YEAR, dt.date(2025, 1, 15), RULES)
    assert points == 5 + 5 + 2 + 10  # late report, incomplete report, late 分析报告, candour capped at 10
    assert reasons[0] == "自我诊改报告逾期提交（2025-01-05，截止 2024-12-31）：+5 分"
    assert reasons[-1] == "自我诊断与状态数据不一致的提示 9 条（供专家核实，不是结论）：+10 分"
    # decided before the deadline: nothing is missing or late yet
    early, _ = submission_points({**facts, "selfreport": None}, REPORT_YEAR, dt.date(2024, 12, 20), RULES)
    assert early == 5 + 10


def test_a_year_without_any_submission_record_is_said_and_changes_nothing(capsys):
    write_warehouse(*province(12))
    plan = plan_2025(capsys)["plan"]
    assert [row["school_code"] for row in plan["selected"] if row["reason"] == "risk"] == ["13801", "13802"]
    assert any("未找到 2024 年材料" in note for note in plan["notes"])
    assert all(row["submission_reasons"] == [] for row in plan["selected"])


def test_a_plan_recorded_before_submissions_recomputes_as_it_was(december, capsys):
    record = plan_2025(capsys)
    legacy = copy.deepcopy(record["inputs"])
    del legacy["submissions"]
    legacy["rules"] = {key: value for key, value in legacy["rules"].items() if key not in LEGACY_RULES}
    for review in legacy["reviews"]:
        review.pop("applied_on", None)
    recomputed = recompute(legacy)
    assert [row["school_code"] for row in recomputed["selected"] if row["reason"] == "risk"] == ["13801", "13802"]
    assert json.dumps(recomputed["selected"][0]["submission_reasons"]) == "[]"
