"""After the conclusion: `zhengai review followup` records 整改方案, 整改总结, 复核申请 and 专家回访, each rule
checked both ways (a one-line error and exit 2, nothing recorded; or recorded); the steps reach
mart.review_followups and the cycle view (CLI and HTML)."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

from assets import review as review_assets
from pipelines.cli import main
from pipelines.resources import RunOptions
from pipelines.secretariat import followups
from pipelines.settings import get_settings
from test_review import write_warehouse
from test_sampling import province, record_review, work_warehouse_with_ref

TODAY = "2026-09-30"
NEEDS_IMPROVEMENT, EFFECTIVE = "13802", "13801"  # reviewed 2025-06-01: 待改进 (period until 2026-06-01), 有效


@pytest.fixture
def reviewed(monkeypatch):
    monkeypatch.setattr(followups, "today", lambda: dt.date.fromisoformat(TODAY))
    write_warehouse(*province(12))
    record_review(EFFECTIVE, 2025, 12, "强")
    record_review(NEEDS_IMPROVEMENT, 2025, 11, "强")


def followup(capsys, school: str, kind: str, date: str, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["review", "followup", "--school", school, "--year", "2025", "--kind", kind, "--date", date, *extra])
    captured = capsys.readouterr()
    return code, captured.err.strip() if code else captured.out


def steps_file(school: str):
    return get_settings().home / "followups" / "2025" / f"{school}.csv"


@pytest.mark.parametrize(
    ("school", "kind", "date", "extra", "error"),
    [
        (NEEDS_IMPROVEMENT, "application", "2026-05-31", (), "早于整改期满日 2026-06-01"),
        (NEEDS_IMPROVEMENT, "summary", "2026-03-01", (), "尚未登记整改方案"),
        (NEEDS_IMPROVEMENT, "revisit", "2026-03-01", (), "须用 --result 写明回访结果"),
        (NEEDS_IMPROVEMENT, "plan", "2025-05-31", (), "早于 2025 年复核日期 2025-06-01"),
        (NEEDS_IMPROVEMENT, "plan", "2026-10-01", (), "晚于今天"),
        (NEEDS_IMPROVEMENT, "plan", "2026/01/01", (), "须为 YYYY-MM-DD"),
        (EFFECTIVE, "plan", "2025-07-01", (), "结论为“有效”"),
        ("13803", "plan", "2025-07-01", (), "没有 13803 2025 年的复核记录"),
        ("99999", "plan", "2025-07-01", (), "院校名册中没有 99999"),
    ],
)
def test_each_rule_refuses_in_one_line_and_records_nothing(reviewed, capsys, school, kind, date, extra, error):
    code, message = followup(capsys, school, kind, date, *extra)
    assert code == 2 and error in message and "\n" not in message and "Traceback" not in message
    assert not steps_file(school).exists()


def test_the_steps_in_order_are_recorded_and_a_plan_date_replaced(reviewed, capsys):
    assert followup(capsys, NEEDS_IMPROVEMENT, "plan", "2025-07-01")[0] == 0
    code, out = followup(capsys, NEEDS_IMPROVEMENT, "plan", "2025-07-05")
    assert code == 0 and "替换了此前登记的日期 2025-07-01" in out
    assert followup(capsys, NEEDS_IMPROVEMENT, "summary", "2025-07-04")[0] == 2  # before the plan's date
    assert followup(capsys, NEEDS_IMPROVEMENT, "summary", "2026-05-20")[0] == 0
    assert followup(capsys, NEEDS_IMPROVEMENT, "application", "2026-06-01")[0] == 0  # the day the period ends
    assert followup(capsys, EFFECTIVE, "revisit", "2026-03-01", "--result", "诊改机制运行正常")[0] == 0
    steps = followups.followups_by_review()
    assert {kind: [s["date"] for s in found] for kind, found in steps[(NEEDS_IMPROVEMENT, 2025)].items()} == {
        "plan": ["2025-07-05"],
        "summary": ["2026-05-20"],
        "application": ["2026-06-01"],
    }
    assert steps[(EFFECTIVE, 2025)]["revisit"] == [{"date": "2026-03-01", "result": "诊改机制运行正常"}]


def test_the_steps_reach_the_warehouse_and_the_cycle_view(reviewed, capsys, tmp_path):
    followup(capsys, NEEDS_IMPROVEMENT, "plan", "2025-07-01")
    followup(capsys, NEEDS_IMPROVEMENT, "summary", "2026-05-20")
    followup(capsys, EFFECTIVE, "revisit", "2026-03-01", "--result", "诊改机制运行正常")
    # the period is over, no application yet: not due, and said so
    capsys.readouterr()
    assert main(["cycle", "--cycle-start", "2025", "--as-of", "2026-07-01", "--json"]) == 0
    rows = {row["school_code"]: row for row in json.loads(capsys.readouterr().out)["colleges"]}
    assert rows[NEEDS_IMPROVEMENT]["status_zh"] == "整改期已满，尚未申请复核"
    assert not rows[NEEDS_IMPROVEMENT]["re_review_due"]
    followup(capsys, NEEDS_IMPROVEMENT, "application", "2026-06-10")
    assert main(["cycle", "--cycle-start", "2025", "--as-of", "2026-07-01"]) == 0
    out = capsys.readouterr().out
    assert "须复核（整改期已满，2026-06-10 已申请）" in out and "整改总结提交 2026-05-20" in out
    html = (get_settings().exports / "sampling" / "cycle-2025.html").read_text(encoding="utf-8")
    for shown in (
        "整改与回访",
        "整改方案备案 2025-07-01",
        "复核申请 2026-06-10",
        "专家回访 2026-03-01：诊改机制运行正常",
    ):
        assert shown in html
    schools, _, _ = province(12)
    warehouse = work_warehouse_with_ref(tmp_path, schools)
    result = dg.materialize(
        dg.load_assets_from_modules([review_assets], key_prefix="mart"),
        resources={"warehouse": warehouse, "run_options": RunOptions(as_of="2026-07-01")},
    )
    assert result.success
    conn = duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True)
    assert conn.execute("select school_code, kind_zh, date, result from mart.review_followups").fetchall() == [
        (EFFECTIVE, "专家回访", dt.date(2026, 3, 1), "诊改机制运行正常"),
        (NEEDS_IMPROVEMENT, "整改方案备案", dt.date(2025, 7, 1), None),
        (NEEDS_IMPROVEMENT, "整改总结提交", dt.date(2026, 5, 20), None),
        (NEEDS_IMPROVEMENT, "复核申请", dt.date(2026, 6, 10), None),
    ]
    cycle = conn.execute(
        "select re_review_due, applied_on, followups_zh from mart.review_cycle where school_code = ?",
        [NEEDS_IMPROVEMENT],
    ).fetchone()
    assert cycle == (
        True,
        dt.date(2026, 6, 10),
        ["整改方案备案 2025-07-01", "整改总结提交 2026-05-20", "复核申请 2026-06-10"],
    )
    conn.close()
