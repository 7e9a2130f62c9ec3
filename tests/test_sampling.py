"""Sampling plans and the cycle view: reproducibility, coverage over a cycle, exclusions, re-reviews,
identity across renames, a province too small for the random share, and the warehouse tables."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import fastexcel
import pytest

from assets import review as review_assets
from pipelines.cli import main
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.secretariat import followups
from pipelines.secretariat.cycle import cycle_status
from pipelines.secretariat.plans import College, PlanInputs
from pipelines.secretariat.rules import load_rules, parse_rules
from pipelines.secretariat.sampling import (
    cycle_target,
    lineage,
    propose_plan,
    random_places,
    year_quotas,
)
from pipelines.settings import REFERENCE_DIR, get_settings
from pipelines.sql import run_sql
from test_review import ELEMENTS, write_warehouse

RULES = load_rules()
AS_OF = "2024-12-15"


def codes(n: int, first: int = 13801) -> list[str]:
    return [str(first + i) for i in range(n)]


def province(n: int, years=(2024, 2025, 2026), extra_schools=(), scores=None):
    """n active colleges; college i has risk 90 - 2i (distinct) in every year, and one red element."""
    schools = [(code, f"广西{code}职业技术学院", "active", [], None, None) for code in codes(n)]
    schools += list(extra_schools)
    risk, warnings = [], []
    for year in years:
        ranked = sorted(
            ((code, (scores or {}).get(code, 90.0 - 2 * i)) for i, code in enumerate(codes(n))),
            key=lambda item: -item[1],
        )
        for rank, (code, score) in enumerate(ranked, start=1):
            risk.append((code, year, score, 2, 1, 0, rank))
            warnings.append((code, year, "3.2", "red", 3.0, [f"{code} 生师比 19.2，高于合格值 18。"]))
            warnings.append((code, year, "2.1", "yellow", 1.0, ["实践学时占比连续两年下降。"]))
            warnings.append((code, year, "1.1", "green", 0.0, []))
    return schools, risk, warnings


def sample(capsys, year: int, seed: int = 7, cycle_start: int = 2025, as_of: str = AS_OF) -> list[dict]:
    capsys.readouterr()
    assert (
        main(
            [
                "sample",
                "--cycle-start",
                str(cycle_start),
                "--year",
                str(year),
                "--seed",
                str(seed),
                "--as-of",
                as_of,
                "--json",
            ]
        )
        == 0
    )
    return json.loads(capsys.readouterr().out)


def recompute(inputs: dict) -> dict:
    """The plan recomputed from a plan file's recorded inputs, as JSON."""
    return propose_plan(PlanInputs.from_json(inputs)).as_json()


def plan_record(year: int) -> dict:
    return json.loads((get_settings().exports / "sampling" / str(year) / "plan.json").read_text(encoding="utf-8"))


def apply_for_re_review(monkeypatch, code: str, review_year: int, date: str) -> None:
    """The college's application for re-review, recorded through the command on `date` (the command's clock)."""
    monkeypatch.setattr(followups, "today", lambda: dt.date.fromisoformat(date))
    command = ["review", "followup", "--school", code, "--year", str(review_year), "--kind", "application"]
    assert main([*command, "--date", date]) == 0


def record_review(code: str, year: int, matched: int, measures: str, date: str | None = None) -> None:
    """Record a review through the command, as the secretariat would."""
    source = get_settings().home / f"in-{code}-{year}.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["学校代码", "诊断要素代码", "诊断是否相符", "改进措施判断"])
        writer.writerows((code, e, "是" if i < matched else "否", measures) for i, e in enumerate(ELEMENTS))
    assert main(["review", "import", str(source), "--year", str(year), "--date", date or f"{year}-06-01"]) == 0


# --- pure rules ----------------------------------------------------------------------------------------


def test_quota_is_as_even_as_possible_and_the_first_rounds_split_is_expressible():
    assert cycle_target(40, RULES) == 10 and cycle_target(47, RULES) == 12 and cycle_target(3, RULES) == 1
    assert year_quotas(10, RULES) == (3, 3, 4)
    assert year_quotas(12, RULES) == (4, 4, 4)
    assert year_quotas(11, RULES) == (3, 4, 4)
    assert year_quotas(1, RULES) == (0, 0, 1)
    first_round = parse_rules({**RULES.as_dict(), "year_quotas": "3|3|4"})
    assert year_quotas(12, first_round) == (3, 3, 4)


def test_random_share_is_a_minority_and_zero_for_tiny_years():
    assert [random_places(places, RULES) for places in range(0, 9)] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_lineage_follows_renames_and_mergers_transitively():
    colleges = {
        "13801": College("13801", "旧", "merged", (), None, 2020),
        "13802": College("13802", "并入", "merged", (), None, 2020),
        "13803": College("13803", "更名", "closed", ("13801", "13802"), 2021, 2022),
        "13804": College("13804", "现名", "active", ("13803",), 2023, None),
    }
    assert set(lineage("13804", colleges)) == {"13801", "13802", "13803", "13804"}
    assert lineage("13801", colleges) == ("13801",)


# --- the command ---------------------------------------------------------------------------------------


def test_same_seed_same_plan_different_seed_different_random_share(capsys):
    write_warehouse(*province(40))
    first = sample(capsys, 2025, seed=1)
    assert main(["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "1", "--as-of", AS_OF, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == first and "替换了此前记录的" not in captured.err
    assert [set(row) >= {"school_code", "reason", "rank"} for row in first] == [True] * len(first)
    assert [row["rank"] for row in first] == list(range(1, len(first) + 1))
    assert [row["reason"] for row in first] == ["risk", "risk", "random"]
    assert [row["school_code"] for row in first[:2]] == ["13801", "13802"]  # the two highest risks
    capsys.readouterr()
    redraw = ["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "2", "--as-of", AS_OF, "--json"]
    assert main([*redraw, "--reason", "种子录入错误"]) == 0
    captured = capsys.readouterr()
    assert "注意：2025 年计划已重新抽取（原因：种子录入错误），原计划保留为第 1 版" in captured.err
    other = json.loads(captured.out)
    assert [row for row in other if row["reason"] == "risk"] == [row for row in first if row["reason"] == "risk"]
    assert {r["school_code"] for r in other if r["reason"] == "random"} != {
        r["school_code"] for r in first if r["reason"] == "random"
    }


def test_a_cause_shared_by_elements_is_one_reason_and_the_rationale_counts_indicators(capsys):
    schools, risk, warnings = province(40)
    cause = "生师比为19.24，高于合格值18（连续两年高于合格值：2023年为19.50，按规则升级为红色预警）。"
    warnings = [row for row in warnings if row[2] != "3.2"] + [
        (code, year, element, "red", 3.0, [cause, note])
        for code, year in sorted({(row[0], row[1]) for row in warnings})
        for element, note in (
            ("3.1", "未触发预警的指标：研究生学位教师比例33.2%。"),
            ("3.2", "未触发预警的指标：评教优良率85.7%。"),
        )
    ]
    path = write_warehouse(schools, risk, warnings)
    with duckdb.connect(str(path)) as conn:
        conn.execute("update mart.school_risk set flagged_indicators = 2, red_indicators = 1, yellow_indicators = 1")
    sample(capsys, 2025, seed=11)
    chosen = plan_record(2025)["plan"]["selected"][0]
    assert "（预警指标 2 项：红 1、黄 1；数据不足指标 0 项）" in chosen["rationale_zh"]
    shared = [line for line in chosen["top_reasons"] if cause in line]
    assert len(shared) == 1 and shared[0].startswith("要素 3.1") and "3.2" in shared[0]


def test_plan_records_its_inputs_and_can_be_recomputed_from_them(capsys):
    write_warehouse(*province(40))
    sample(capsys, 2025, seed=11)
    record = plan_record(2025)
    inputs, plan = record["inputs"], record["plan"]
    assert (inputs["seed"], inputs["as_of"], inputs["risk_year"]) == (11, AS_OF, 2024)
    assert len(inputs["risk_snapshot"]["rows"]) == 40 and len(inputs["risk_snapshot"]["sha256"]) == 64
    assert recompute(inputs) == plan
    risk_row = plan["selected"][0]
    assert "2024 年风险分 90，全省第 1 名" in risk_row["rationale_zh"]
    assert risk_row["top_reasons"][0].startswith("要素 3.2") and "生师比 19.2" in risk_row["top_reasons"][0]
    random_row = plan["selected"][-1]
    assert "以种子 11 从未按风险入选的 38 所候选院校中抽取 1 所" in random_row["rationale_zh"]
    # a different risk snapshot changes the hash
    changed = json.loads(json.dumps(inputs))
    changed["risk_snapshot"]["rows"][0]["risk_score"] = 1.0
    from pipelines.secretariat.plans import snapshot_sha256

    assert snapshot_sha256(changed["risk_snapshot"]["rows"]) != inputs["risk_snapshot"]["sha256"]


def test_plan_is_exported_as_excel_and_chinese_html(capsys):
    write_warehouse(*province(40))
    assert main(["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "3", "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "2025 年复核抽样计划" in out and "[风险]" in out and "[随机抽取]" in out and "生师比 19.2" in out
    folder = get_settings().exports / "sampling" / "2025"
    html = (folder / "plan.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "入选理由" in html and "随机种子：3" in html and "13801" in html
    reader = fastexcel.read_excel(str(folder / "plan.xlsx"))
    assert reader.sheet_names == ["抽样计划", "说明", "风险快照"]
    sheet = reader.load_sheet_by_name("抽样计划", header_row=None, dtypes="string").to_polars()
    assert "入选理由" in list(sheet.row(3)) and "13801" in list(sheet.row(4))
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_plan_workbook_has_frozen_header_filter_print_setup_and_names_on_the_risk_sheet(capsys):
    import openpyxl

    write_warehouse(*province(12))
    selected = sample(capsys, 2025)
    book = openpyxl.load_workbook(get_settings().exports / "sampling" / "2025" / "plan.xlsx")
    plan, risk = book["抽样计划"], book["风险快照"]
    assert plan.freeze_panes == "A5" and plan.auto_filter.ref == f"A4:J{4 + len(selected)}"
    assert plan.print_title_rows == "$4:$4" and plan.page_setup.orientation == "landscape"
    assert [cell.value for cell in risk[1]][:2] == ["学校代码", "学校名称"]
    assert risk.freeze_panes == "A2" and risk.auto_filter.ref == "A1:G13"
    assert [(row[0].value, row[1].value) for row in risk.iter_rows(min_row=2)] == [
        (code, f"广西{code}职业技术学院") for code in codes(12)
    ]
    assert risk.page_setup.paperSize == 9 and risk.print_title_rows == "$1:$1"
    assert [
        cell.coordinate for sheet in book for row in sheet.iter_rows() for cell in row if cell.data_type == "f"
    ] == []


def test_redrawing_a_recorded_year_needs_a_reason_and_keeps_the_first_plan(capsys):
    write_warehouse(*province(40))
    first = sample(capsys, 2025, seed=1)
    folder = get_settings().exports / "sampling" / "2025"
    recorded = (folder / "plan.json").read_bytes()
    redraw = ["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "2", "--as-of", AS_OF, "--json"]
    assert main(redraw) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--reason" in err and "种子 1" in err
    assert (folder / "plan.json").read_bytes() == recorded and not (folder / "v1").exists()
    # the same seed again re-records the same plan: not a redraw, no reason needed
    assert main([*redraw[:6], "1", *redraw[7:]]) == 0
    capsys.readouterr()
    assert main([*redraw, "--reason", "专委会要求重新抽取"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (folder / "v1" / "plan.json").read_bytes() == recorded and (folder / "v1" / "plan.xlsx").is_file()
    record = plan_record(2025)
    assert record["plan"]["selected"] == second and record["plan"]["seed"] == 2 and set(record) >= {"inputs", "plan"}
    assert [(v["version"], v["seed"], v["redraw_reason"]) for v in record["versions"]] == [(1, 1, "专委会要求重新抽取")]
    assert record["versions"][0]["selected"] == [row["school_code"] for row in first]
    # the cycle view shows both versions, the first with why it was redrawn
    capsys.readouterr()
    assert main(["cycle", "--cycle-start", "2025", "--as-of", "2025-06-01"]) == 0
    out = capsys.readouterr().out
    assert "2025 年第 1 版（种子 1" in out and "原因：专委会要求重新抽取" in out and "2025 年第 2 版（种子 2" in out
    html = (get_settings().exports / "sampling" / "cycle-2025.html").read_text(encoding="utf-8")
    assert "抽样计划版本" in html and "专委会要求重新抽取" in html and "第 2 版" in html
    assert main(["cycle", "--cycle-start", "2025", "--as-of", "2025-06-01", "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)["plan_versions"]
    assert [(v["version"], v["current"]) for v in versions] == [(1, False), (2, True)]


def test_coverage_rule_holds_over_a_simulated_three_year_cycle(capsys, monkeypatch):
    write_warehouse(*province(40))
    reviewed: list[str] = []
    outcomes = {0: (12, "强"), 1: (11, "强"), 2: (9, "弱")}  # 有效, 待改进, 异常 in turn
    for year, seed in ((2025, 5), (2026, 6), (2027, 7)):
        plan = sample(capsys, year, seed=seed, as_of=f"{year - 1}-12-15")
        new = [row["school_code"] for row in plan if row["reason"] != "re_review"]
        assert not set(new) & set(reviewed), "no college is sampled twice in a cycle except for re-review"
        for i, row in enumerate(plan):
            matched, measures = outcomes[i % 3]
            record_review(row["school_code"], year, matched, measures)
        reviewed += new
        if year == 2026:  # the 2025 待改进 / 异常 colleges apply once their period is over (2026-06-01)
            for code in reviewed[1:3]:
                apply_for_re_review(monkeypatch, code, 2025, "2026-06-15")
        status = json.loads(run_cycle(capsys, as_of=f"{year}-12-31"))
        assert status["on_track"] and status["covered"] >= status["expected_by_now"]
    assert [plan_record(y)["plan"]["places"] for y in (2025, 2026, 2027)] == [3, 3, 4]
    assert len(set(reviewed)) >= 10 == cycle_target(40, RULES)
    # the 2025 待改进 / 异常 colleges were not re-reviewed in 2026 (no application yet when it was planned),
    # and came back in 2027 once they had applied after their improvement period
    assert not [r for r in plan_record(2026)["plan"]["selected"] if r["reason"] == "re_review"]
    assert any("尚未在期满后申请复核" in note for note in plan_record(2026)["plan"]["notes"])
    re_reviews = [r for r in plan_record(2027)["plan"]["selected"] if r["reason"] == "re_review"]
    assert {r["school_code"] for r in re_reviews} == set(reviewed[1:3])


def run_cycle(capsys, as_of: str, cycle_start: int = 2025) -> str:
    capsys.readouterr()
    assert main(["cycle", "--cycle-start", str(cycle_start), "--as-of", as_of, "--json"]) == 0
    return capsys.readouterr().out


def test_cycle_view_says_when_coverage_falls_behind():
    colleges = {code: College(code, code, "active", (), None, None) for code in codes(40)}
    behind = cycle_status(2025, dt.date(2026, 12, 31), RULES, colleges, [], {2025: codes(3)})
    assert (behind["expected_by_now"], behind["covered"], behind["on_track"]) == (6, 3, False)
    on_track = cycle_status(2025, dt.date(2026, 12, 31), RULES, colleges, [], {2025: codes(3), 2026: codes(3, 13810)})
    assert on_track["on_track"]


def test_catch_up_when_an_earlier_year_was_not_planned(capsys):
    write_warehouse(*province(40))
    plan = sample(capsys, 2026, seed=1)  # no 2025 plan, nothing reviewed: the first two years' 6 places
    assert len(plan) == 6 and plan_record(2026)["plan"]["places"] == 6


def test_effective_colleges_are_left_out_and_due_re_reviews_included(capsys, monkeypatch):
    write_warehouse(*province(40))
    record_review("13801", 2025, 12, "强")  # highest risk, 有效 in this cycle: left out
    record_review("13802", 2025, 11, "强")  # 待改进 in 2025: improvement period until 2026-06-01
    record_review("13803", 2024, 9, "弱", date="2024-06-01")  # 异常 in the previous cycle: period over 2025-06-01
    record_review("13804", 2024, 9, "弱", date="2024-06-01")  # the same, but it never applies
    apply_for_re_review(monkeypatch, "13803", 2024, "2025-07-01")
    plan = sample(capsys, 2026, seed=1, as_of="2025-12-15")
    by_code = {row["school_code"]: row for row in plan}
    assert "13801" not in by_code
    assert by_code["13803"]["reason"] == "re_review" and plan[0]["school_code"] == "13803"
    assert by_code.get("13804", {}).get("reason") != "re_review"  # no application: no re-review
    assert "13802" not in by_code  # its period is not over when the plan is made
    recorded = plan_record(2026)["plan"]
    why = {e["school_code"]: e["why_zh"] for e in recorded["excluded"]}
    assert why["13801"] == "本周期 2025 年已复核，结论有效，本周期不再复核"
    assert "尚未在期满后提出复核申请" in why["13802"]
    assert any("13802、13804" in note and "改进期满后须重新提出复核申请" in note for note in recorded["notes"])
    rationale = {r["school_code"]: r["rationale_zh"] for r in recorded["selected"]}
    assert rationale["13803"] == (
        "2024 年复核结论为“异常”，整改期至 2025-06-01 届满，已逾期，2025-07-01 已申请复核，须复核"
    )
    # 13802 applies after its period: planned for re-review in 2027; re-reviewed 有效: not again in the cycle
    apply_for_re_review(monkeypatch, "13802", 2025, "2026-06-02")
    record_review("13803", 2026, 13, "强", date="2026-09-01")
    plan_2027 = {row["school_code"]: row for row in sample(capsys, 2027, seed=1, as_of="2026-12-15")}
    assert plan_2027["13802"]["reason"] == "re_review" and "13801" not in plan_2027
    assert "13803" not in plan_2027
    why_2027 = {e["school_code"]: e["why_zh"] for e in plan_record(2027)["plan"]["excluded"]}
    assert why_2027["13803"] == "本周期 2026 年已复核，结论有效，本周期不再复核"


def test_renamed_college_keeps_its_history(capsys):
    # 13850 is the new name of 13860 (closed 2024). 13850 and 13870 share the second-highest risk and
    # there is one more risk place: 13870 was never reviewed, 13850 was (as 13860, in 2023), so 13870 wins.
    # Without the succession link 13850 would win on the code tie-break.
    renamed = [
        ("13850", "广西新名职业技术学院", "active", ["13860"], 2025, None),
        ("13860", "广西旧名职业技术学院", "closed", [], None, 2024),
        ("13870", "广西丙辰职业技术学院", "active", [], None, None),
    ]
    schools, risk, warnings = province(38, extra_schools=renamed)
    for year in (2024, 2025, 2026):
        risk = [r for r in risk if not (r[0] == "13801" and r[1] == year)]
        risk += [
            ("13801", year, 100.0, 6, 0, 0, 1),
            ("13850", year, 99.0, 5, 0, 0, 2),
            ("13870", year, 99.0, 5, 0, 0, 2),
        ]
    write_warehouse(schools, risk, warnings)
    record_review("13860", 2023, 12, "强")  # reviewed under its old name, previous cycle
    plan = sample(capsys, 2025, seed=1)
    risk_picks = [row["school_code"] for row in plan if row["reason"] == "risk"]
    assert risk_picks == ["13801", "13870"]
    unlinked = plan_record(2025)["inputs"]
    for college in unlinked["colleges"]:
        if college["school_code"] == "13850":
            college["succeeded"] = []
    assert [r["school_code"] for r in recompute(unlinked)["selected"] if r["reason"] == "risk"] == ["13801", "13850"]
    # reviewed 有效 under the old name in this cycle: the renamed college is left out
    record_review("13860", 2025, 12, "强")
    sample(capsys, 2026, seed=1, as_of="2025-12-15")
    why = {e["school_code"]: e["why_zh"] for e in plan_record(2026)["plan"]["excluded"]}
    assert why["13850"] == "本周期 2025 年已复核，结论有效，本周期不再复核"


def test_renamed_college_inherits_a_due_re_review(capsys, monkeypatch):
    renamed = [
        ("13850", "广西新名职业技术学院", "active", ["13860"], 2025, None),
        ("13860", "广西旧名职业技术学院", "closed", [], None, 2024),
    ]
    write_warehouse(*province(10, extra_schools=renamed))
    record_review("13860", 2024, 9, "弱", date="2024-05-01")
    apply_for_re_review(monkeypatch, "13860", 2024, "2025-05-02")  # made under the old name, once the period was over
    plan = sample(capsys, 2025, seed=1, as_of="2025-05-15")
    assert plan[0]["school_code"] == "13850" and plan[0]["reason"] == "re_review"
    assert "前身 13860 的记录" in plan_record(2025)["plan"]["selected"][0]["rationale_zh"]


def test_province_too_small_for_the_random_share_is_handled_and_said(capsys):
    write_warehouse(*province(3))
    assert sample(capsys, 2025) == []  # target 1 over the cycle: 0|0|1
    assert main(["sample", "--cycle-start", "2025", "--year", "2027", "--seed", "1", "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "当年名额仅 1 所" in out and "不足以设随机名额" in out
    plan = plan_record(2027)["plan"]
    assert (plan["places"], plan["risk_places"], plan["random_places"]) == (1, 1, 0)
    assert [row["reason"] for row in plan["selected"]] == ["risk"]


def test_small_pools_are_said(capsys):
    write_warehouse(*province(7))
    # 7 colleges: target 2 (0|1|1); nothing planned before 2027, so 2 places: too few for a random one
    plan = sample(capsys, 2027, seed=1, as_of="2026-12-15")
    assert [row["reason"] for row in plan] == ["risk", "risk"]
    assert any("当年名额仅 2 所" in note for note in plan_record(2027)["plan"]["notes"])
    # more places than candidates: every candidate is listed and the draw has no choice; both are said
    inputs = plan_record(2027)["inputs"]
    inputs["rules"]["year_quotas"] = "9|9|9"
    plan = recompute(inputs)
    assert (plan["places"], plan["risk_places"], plan["random_places"]) == (7, 5, 2)
    assert any("符合条件的候选院校只有 7 所" in note for note in plan["notes"])
    assert any("候选院校全部入选" in note for note in plan["notes"])


def test_sample_without_a_warehouse_says_to_run_first(capsys):
    assert main(["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "1"]) == 2
    assert "zhengai run" in capsys.readouterr().err
    assert not (get_settings().exports / "sampling").exists()


def test_sample_refuses_a_year_outside_the_cycle(capsys):
    write_warehouse(*province(10))
    assert main(["sample", "--cycle-start", "2025", "--year", "2028", "--seed", "1"]) == 2
    assert "不在 2025 年开始的周期" in capsys.readouterr().err
    assert not (get_settings().exports / "sampling").exists()


def test_sample_without_risk_data_says_so(capsys):
    schools, _, _ = province(10)
    write_warehouse(schools)
    assert main(["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "1"]) == 2
    assert "mart.school_risk 中没有" in capsys.readouterr().err


# --- the warehouse tables ------------------------------------------------------------------------------


def work_warehouse_with_ref(tmp_path: Path, schools) -> WarehouseResource:
    warehouse = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    with warehouse.connect() as conn:
        run_sql(conn, "ref/diagnostic_elements", {"path": str(REFERENCE_DIR / "diagnosis_points.csv")})
        conn.execute(
            "create or replace table ref.schools (school_code varchar, name_zh varchar, school_type varchar, "
            "ownership varchar, status varchar, succeeded varchar[], active_from integer, active_to integer)"
        )
        conn.executemany(
            "insert into ref.schools values (?, ?, '综合', '公办', ?, ?, ?, ?)", [list(s) for s in schools]
        )
    return warehouse


def test_assets_rebuild_the_four_tables_from_the_recorded_files(tmp_path, capsys, monkeypatch):
    schools, risk, warnings = province(40)
    write_warehouse(schools, risk, warnings)
    record_review("13801", 2025, 12, "强")
    record_review("13802", 2025, 9, "弱", date="2025-03-01")
    sample(capsys, 2025, seed=4)
    apply_for_re_review(monkeypatch, "13802", 2025, "2026-03-02")
    sample(capsys, 2026, seed=4, as_of="2026-03-15")
    warehouse = work_warehouse_with_ref(tmp_path, schools)
    assets = dg.load_assets_from_modules([review_assets], key_prefix="mart")
    assert {key.to_user_string() for a in assets for key in a.keys} == {
        "mart/review_results",
        "mart/review_conclusions",
        "mart/sampling_plan",
        "mart/review_cycle",
        "mart/selfreport_elements",
        "mart/candour_prompts",
        "mart/review_followups",
    }
    result = dg.materialize(assets, resources={"warehouse": warehouse, "run_options": RunOptions(as_of="2026-04-01")})
    assert result.success
    conn = duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True)
    assert conn.execute("select count(*), count(element_name) from mart.review_results").fetchone() == (30, 30)
    conclusions = conn.execute(
        "select school_code, name_zh, conclusion, conclusion_en, improvement_deadline, re_review_due "
        "from mart.review_conclusions order by school_code"
    ).fetchall()
    assert conclusions == [
        ("13801", "广西13801职业技术学院", "有效", "effective", None, False),
        ("13802", "广西13802职业技术学院", "异常", "abnormal", dt.date(2026, 3, 1), True),
    ]
    plan = conn.execute("select year, rank, school_code, reason, seed, risk_year from mart.sampling_plan").fetchall()
    assert next(row[3] for row in plan if row[0] == 2026) == "re_review"
    assert {row[4] for row in plan} == {4} and {row[5] for row in plan} == {2024, 2025}
    cycle = conn.execute(
        "select school_code, status_zh, re_review_due, cycle_target, cycle_on_track from mart.review_cycle "
        "where school_code in ('13801', '13802') order by school_code"
    ).fetchall()
    assert cycle == [
        ("13801", "已复核：有效", False, 10, True),
        ("13802", "须复核（整改期已满，2026-03-02 已申请，已列入 2026 年计划）", True, 10, True),
    ]
    conn.close()


def test_assets_build_empty_tables_before_anything_is_recorded(tmp_path):
    schools, _, _ = province(5)
    warehouse = work_warehouse_with_ref(tmp_path, schools)
    result = dg.materialize(
        dg.load_assets_from_modules([review_assets], key_prefix="mart"),
        resources={"warehouse": warehouse, "run_options": RunOptions(as_of="2026-04-01")},
    )
    assert result.success
    conn = duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True)
    tables = ("review_results", "review_conclusions", "sampling_plan", "review_cycle", "selfreport_elements")
    for table in (*tables, "candour_prompts", "review_followups"):
        assert conn.execute(f"select count(*) from mart.{table}").fetchone() == (0,)
    conn.close()


@pytest.mark.parametrize("year", [2025])
def test_cycle_html_is_written(capsys, year):
    write_warehouse(*province(12))
    sample(capsys, year)
    assert main(["cycle", "--cycle-start", "2025", "--as-of", "2025-06-01"]) == 0
    out = capsys.readouterr().out
    assert "复核周期 2025—2027" in out and "已列入计划" in out
    html = (get_settings().exports / "sampling" / "cycle-2025.html").read_text(encoding="utf-8")
    assert "按计划推进" in html and "各校情况" in html


def test_seeded_draw_is_reproducible_and_uses_only_random():
    import random

    from pipelines.secretariat.sampling import seeded_draw

    pool = codes(30)
    assert seeded_draw(pool, 3, 42) == seeded_draw(list(reversed(pool)), 3, 42)  # order of the pool does not matter
    rng = random.Random(42)
    keys = {code: rng.random() for code in pool}
    assert seeded_draw(pool, 3, 42) == sorted(pool, key=keys.get)[:3]
    assert len({tuple(seeded_draw(pool, 3, seed)) for seed in range(10)}) > 1
    assert seeded_draw(pool, 0, 1) == [] and sorted(seeded_draw(pool[:2], 2, 1)) == pool[:2]
