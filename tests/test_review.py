"""Review conclusions: the rule at every boundary, malformed input refused, template round trip, JSON output."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.secretariat.exports import MEASURES_SHEET, TEMPLATE_HEADERS, TEMPLATE_SHEET, write_template
from pipelines.secretariat.inputs import element_codes, element_sets_path, read_rows
from pipelines.secretariat.rules import (
    ABNORMAL,
    EFFECTIVE,
    NEEDS_IMPROVEMENT,
    conclude,
    improvement_deadline,
    load_rules,
    parse_rules,
)
from pipelines.settings import get_settings

ELEMENTS = sorted(element_codes(), key=lambda code: tuple(int(p) for p in code.split(".")))
SCHOOLS = [
    # school_code, name_zh, status, succeeded, active_from, active_to
    ("13801", "广西甲职业技术学院", "active", [], None, None),
    ("13802", "广西乙职业技术学院", "active", [], None, None),
    ("13803", "广西丙职业技术学院", "active", [], None, None),
]


def write_warehouse(schools=SCHOOLS, risk=(), warnings=()) -> Path:
    """A published warehouse with the contract tables the review and sampling commands read.

    schools: (code, name, status, succeeded, active_from, active_to); risk: (code, year, risk_score,
    red, yellow, insufficient, rank); warnings: (code, year, element_code, level, score, reasons).
    """
    path = get_settings().warehouse
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    conn.execute("create schema if not exists ref")
    conn.execute("create schema if not exists mart")
    conn.execute(
        "create or replace table ref.schools (school_code varchar, name_zh varchar, school_type varchar, "
        "ownership varchar, status varchar, succeeded varchar[], active_from integer, active_to integer)"
    )
    conn.executemany(
        "insert into ref.schools values (?, ?, '综合', '公办', ?, ?, ?, ?)", [list(row) for row in schools]
    )
    conn.execute(
        "create or replace table mart.school_risk (school_code varchar, year integer, risk_score double, "
        "red_count bigint, yellow_count bigint, insufficient_count bigint, rank bigint, "
        "flagged_indicators bigint default 0, red_indicators bigint default 0, yellow_indicators bigint default 0, "
        "insufficient_indicators bigint default 0)"
    )
    if risk:
        conn.executemany(
            "insert into mart.school_risk (school_code, year, risk_score, red_count, yellow_count, insufficient_count, "
            "rank) values (?, ?, ?, ?, ?, ?, ?)",
            [list(row) for row in risk],
        )
    conn.execute(
        "create or replace table mart.element_warnings (school_code varchar, year integer, element_code varchar, "
        "level varchar, level_zh varchar, score double, reasons varchar[])"
    )
    level_zh = {"red": "红", "yellow": "黄", "green": "绿", "insufficient": "数据不足"}
    if warnings:
        conn.executemany(
            "insert into mart.element_warnings values (?, ?, ?, ?, ?, ?, ?)",
            [[c, y, e, lvl, level_zh[lvl], s, r] for c, y, e, lvl, s, r in warnings],
        )
    conn.close()
    return path


def results_csv(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["school_code", "element_code", "matched", "measures"])
        writer.writerows(rows)
    return path


def college_rows(code: str, matched: int, measures: str, elements: int = 15, yes="是", no="否") -> list[tuple]:
    return [(code, element, yes if i < matched else no, measures) for i, element in enumerate(ELEMENTS[:elements])]


# --- the rule --------------------------------------------------------------------------------------

RULES = load_rules()


@pytest.mark.parametrize(
    ("elements", "matched", "strong", "expected"),
    [
        (15, 12, True, EFFECTIVE),  # 12 of 15 and strong: the 有效 boundary
        (15, 11, True, NEEDS_IMPROVEMENT),  # one short of 12
        (15, 12, False, NEEDS_IMPROVEMENT),  # 12 matches but weak measures
        (15, 15, False, NEEDS_IMPROVEMENT),
        (15, 10, False, NEEDS_IMPROVEMENT),  # 10 is not < 10: not 异常
        (15, 9, False, ABNORMAL),  # 9 < 10 and weak: 异常
        (15, 9, True, NEEDS_IMPROVEMENT),  # 9 matches but strong measures
        (15, 10, True, NEEDS_IMPROVEMENT),
        (15, 0, False, ABNORMAL),
        # 12 elements: 有效 needs ≥ 12/15·12 = 9.6, i.e. 10; 异常 needs < 8
        (12, 10, True, EFFECTIVE),
        (12, 9, True, NEEDS_IMPROVEMENT),  # a floor of 9.6 would wrongly say 有效
        (12, 8, False, NEEDS_IMPROVEMENT),  # exactly 8 is not < 8
        (12, 7, False, ABNORMAL),
        # 16 elements: 有效 needs ≥ 12.8, i.e. 13; 异常 needs < 32/3 ≈ 10.67, i.e. ≤ 10
        (16, 13, True, EFFECTIVE),
        (16, 12, True, NEEDS_IMPROVEMENT),  # a floor of 12.8 would wrongly say 有效
        (16, 10, False, ABNORMAL),
        (16, 11, False, NEEDS_IMPROVEMENT),  # a rounding of 10.67 to 11 would wrongly say 异常
        # 5 elements: 有效 needs ≥ 4 exactly; 异常 needs < 10/3
        (5, 4, True, EFFECTIVE),
        (5, 3, True, NEEDS_IMPROVEMENT),
        (5, 3, False, ABNORMAL),
        (5, 4, False, NEEDS_IMPROVEMENT),
    ],
)
def test_conclusion_rule_at_every_boundary(elements, matched, strong, expected):
    assert conclude(elements, matched, strong, RULES) == expected


def test_rule_parameters_are_exact_fractions_from_the_reference_file():
    assert RULES.effective_matched_share == Fraction(12, 15)
    assert RULES.abnormal_matched_share == Fraction(10, 15)
    assert RULES.coverage_share == Fraction(1, 4)
    assert RULES.improvement_period_years == 1
    decimal = parse_rules({**RULES.as_dict(), "effective_matched_share": "0.8"})
    assert decimal.effective_matched_share == Fraction(4, 5)
    with pytest.raises(ValueError, match="year_quotas"):
        parse_rules({**RULES.as_dict(), "year_quotas": "3|3"})
    assert parse_rules({**RULES.as_dict(), "year_quotas": "3|3|4"}).year_quotas == (3, 3, 4)


def test_conclude_refuses_impossible_counts():
    with pytest.raises(ValueError):
        conclude(0, 0, True, RULES)
    with pytest.raises(ValueError):
        conclude(15, 16, True, RULES)


def test_improvement_deadline_is_one_year_for_both_non_effective_conclusions():
    import datetime as dt

    day = dt.date(2024, 5, 20)
    assert improvement_deadline(NEEDS_IMPROVEMENT, day, RULES) == dt.date(2025, 5, 20)
    assert improvement_deadline(ABNORMAL, day, RULES) == dt.date(2025, 5, 20)
    assert improvement_deadline(EFFECTIVE, day, RULES) is None
    assert improvement_deadline(ABNORMAL, dt.date(2024, 2, 29), RULES) == dt.date(2025, 2, 28)


# --- the command -------------------------------------------------------------------------------------


def test_conclude_json_lists_each_college_with_the_contract_keys(tmp_path, capsys):
    write_warehouse()
    rows = college_rows("13801", 12, "强") + college_rows("13802", 9, "弱", yes="1", no="0")
    rows += college_rows("13803", 13, "strong", yes="true", no="false")
    source = results_csv(tmp_path / "results.csv", rows)
    assert main(["review", "conclude", str(source), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert [set(item) for item in output] == [{"school_code", "elements", "matched", "conclusion"}] * 3
    assert output == [
        {"school_code": "13801", "elements": 15, "matched": 12, "conclusion": "有效"},
        {"school_code": "13802", "elements": 15, "matched": 9, "conclusion": "异常"},
        {"school_code": "13803", "elements": 15, "matched": 13, "conclusion": "有效"},
    ]
    assert not (get_settings().home / "reviews").exists()  # conclude records nothing


def test_conclude_prints_a_readable_table(tmp_path, capsys):
    write_warehouse()
    source = results_csv(tmp_path / "results.csv", college_rows("13801", 11, "强"))
    assert main(["review", "conclude", str(source)]) == 0
    out = capsys.readouterr().out
    assert "13801" in out and "待改进" in out and "广西甲职业技术学院" in out


def register_element_set(school: str, elements: list[tuple[str, str]]) -> Path:
    """Register a college's own element set where the secretariat keeps it (inputs.element_sets_path)."""
    path = element_sets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = path.is_file()
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if not exists:
            writer.writerow(["school_code", "element_code", "element_name", "note"])
        writer.writerows((school, code, name, "执行方案调整") for code, name in elements)
    return path


def test_proportional_rule_through_the_command(tmp_path, capsys):
    write_warehouse()
    # 12-element plans (registered): 10 matches is 有效 (≥ 9.6), 9 is not
    names = element_codes()
    for school in ("13801", "13802"):
        register_element_set(school, [(code, names[code]) for code in ELEMENTS[:12]])
    rows = college_rows("13801", 10, "强", elements=12) + college_rows("13802", 9, "强", elements=12)
    source = results_csv(tmp_path / "results.csv", rows)
    assert main(["review", "conclude", str(source), "--json"]) == 0
    output = {item["school_code"]: item for item in json.loads(capsys.readouterr().out)}
    assert (output["13801"]["elements"], output["13801"]["conclusion"]) == (12, "有效")
    assert output["13802"]["conclusion"] == "待改进"
    # an element of 附件2 the college's registered set dropped is refused for that college
    source = results_csv(tmp_path / "results.csv", college_rows("13801", 10, "强", elements=13))
    assert main(["review", "conclude", str(source)]) == 2
    assert "第 14 行：诊断要素 5.2 不在该校登记的要素集中" in capsys.readouterr().err


def test_a_file_missing_an_element_is_refused_naming_it_never_a_smaller_n(tmp_path, capsys):
    write_warehouse()
    # 9 of 15 matched and weak is 异常; without two non-matching rows it would read 9/13 = 待改进
    rows = college_rows("13802", 9, "弱")[:13] + college_rows("13801", 12, "强")
    source = results_csv(tmp_path / "results.csv", rows)
    assert main(["review", "conclude", str(source), "--json"]) == 2
    error = capsys.readouterr().err
    assert "学校 13802（广西乙职业技术学院）缺少诊断要素 5.3" in error and "5.4" in error
    assert "应有 15 个要素（附件2 的 15 个诊断要素）" in error and "13801" not in error
    assert main(["review", "import", str(source), "--year", "2024"]) == 2
    assert not (get_settings().home / "reviews" / "2024").exists()
    # complete, the same college concludes 异常
    source = results_csv(tmp_path / "results.csv", college_rows("13802", 9, "弱"))
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["conclusion"] == "异常"


def test_a_registered_set_with_an_added_element_counts_it(tmp_path, capsys):
    write_warehouse()
    names = element_codes()
    register_element_set("13801", [*((code, names[code]) for code in ELEMENTS), ("5.5", "产教融合特色")])
    # 13 of 16 is 有效 (≥ 12.8); the same 13 of the 15 rows without 5.5 is refused, naming 5.5
    rows = [*college_rows("13801", 13, "强"), ("13801", "5.5", "否", "强")]
    source = results_csv(tmp_path / "results.csv", rows)
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"school_code": "13801", "elements": 16, "matched": 13, "conclusion": "有效"}
    ]
    source = results_csv(tmp_path / "results.csv", rows[:-1])
    assert main(["review", "conclude", str(source)]) == 2
    error = capsys.readouterr().err
    assert "缺少诊断要素 5.5 产教融合特色" in error and "应有 16 个要素（该校登记的要素集" in error
    # the template asks for the college's own set
    out = tmp_path / "模板.xlsx"
    assert main(["review", "template", "--out", str(out), "--school", "13801"]) == 0
    assert [cells[2] for _, cells in read_rows(out)[1:]] == [*ELEMENTS, "5.5"]


def finding_rows(code: str, matched: int, qualities: tuple[str, str, str] | None, elements=ELEMENTS) -> list[tuple]:
    """New-shape rows: 相符/不相符 with a note per element, the three qualities on the college's first row only."""
    rows = []
    for i, element in enumerate(elements):
        filled = qualities if (i == 0 and qualities) else ("", "", "")
        rows.append((code, element, "相符" if i < matched else "不相符", "" if i < matched else "自评偏高", *filled))
    return rows


def findings_csv(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["学校代码", "诊断要素代码", "诊断是否相符", "说明", "针对性强", "切实可行", "成效明显"])
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("matched", "qualities", "expected"),
    [
        (12, ("是", "是", "是"), "有效"),  # all three qualities: strong
        (12, ("是", "是", "否"), "待改进"),  # two of three: not strong, so not 有效
        (12, ("否", "是", "是"), "待改进"),
        (11, ("是", "是", "是"), "待改进"),
        (9, ("是", "否", "是"), "异常"),  # two of three is weak: with < 10 matches, 异常
        (9, ("是", "是", "是"), "待改进"),
        (10, ("否", "否", "否"), "待改进"),
    ],
)
def test_measures_are_strong_only_with_all_three_qualities(matched, qualities, expected, tmp_path, capsys):
    write_warehouse()
    source = findings_csv(tmp_path / "findings.csv", finding_rows("13801", matched, qualities))
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"school_code": "13801", "elements": 15, "matched": matched, "conclusion": expected}
    ]


def test_element_findings_are_recorded_with_notes_and_qualities(tmp_path, capsys):
    write_warehouse()
    source = findings_csv(tmp_path / "findings.csv", finding_rows("13801", 12, ("是", "否", "是")))
    assert main(["review", "import", str(source), "--year", "2024", "--date", "2024-06-01"]) == 0
    out = capsys.readouterr().out
    assert "13801：改进措施弱（缺：切实可行）" in out and "待改进，整改期至 2025-06-01" in out
    with open(get_settings().home / "reviews" / "2024" / "13801.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and {row["measures"] for row in rows} == {"弱"}
    assert {(r["measures_targeted"], r["measures_feasible"], r["measures_effective"]) for r in rows} == {
        ("true", "false", "true")
    }
    assert [r["note"] for r in rows if r["matched"] == "false"] == ["自评偏高"] * 3


FINDINGS_REFUSED = {
    "two qualities only": (("是", "是", ""), "第 2 行：成效明显 应填 是/否（三项须同时填写）"),
    "a bad quality": (("是", "也许", "是"), "第 2 行：切实可行 应填 是/否"),
    "no judgement": (None, "学校 13801（广西甲职业技术学院）没有改进措施判断"),
}


@pytest.mark.parametrize("case", sorted(FINDINGS_REFUSED))
def test_incomplete_measures_judgements_are_refused(case, tmp_path, capsys):
    write_warehouse()
    qualities, message = FINDINGS_REFUSED[case]
    source = findings_csv(tmp_path / "findings.csv", finding_rows("13801", 12, qualities))
    assert main(["review", "conclude", str(source)]) == 2
    assert message in capsys.readouterr().err


def test_conflicting_qualities_for_one_college_are_refused(tmp_path, capsys):
    write_warehouse()
    rows = finding_rows("13801", 12, ("是", "是", "是"))
    rows[5] = (*rows[5][:4], "是", "否", "是")
    source = findings_csv(tmp_path / "findings.csv", rows)
    assert main(["review", "conclude", str(source)]) == 2
    assert "第 7 行：13801 的改进措施判断与第 2 行（强）不一致" in capsys.readouterr().err


MALFORMED = {
    "unknown element": ([("13801", "9.9", "是", "强")], "第 17 行", "诊断要素 9.9 不存在"),
    "duplicate row": ([("13801", "1.1", "否", "强")], "第 17 行", "与第 2 行重复"),
    "conflicting measures": ([("13801", "__free__", "是", "弱")], "第 17 行", "改进措施判断与第 2 行"),
    "unknown college": ([("19999", "1.1", "是", "强")], "第 17 行", "19999 不在院校名册中"),
    "bad matched value": ([("13802", "1.1", "也许", "强")], "第 17 行", "诊断是否相符应填 相符/不相符"),
    "bad measures value": ([("13802", "1.1", "是", "中")], "第 17 行", "改进措施判断应填 强/弱"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_is_refused_naming_the_row_and_nothing_is_recorded(case, tmp_path, capsys):
    write_warehouse()
    extra, row_text, message = MALFORMED[case]
    good = college_rows("13801", 12, "强", elements=14)  # rows 2..15; 5.4 left free
    extra = [tuple(ELEMENTS[14] if cell == "__free__" else cell for cell in row) for row in extra]
    source = results_csv(tmp_path / "results.csv", [*good, ("13803", "1.1", "是", "强"), *extra])
    assert main(["review", "import", str(source), "--year", "2024"]) == 2
    error = capsys.readouterr().err
    assert row_text in error and message in error and "未记录任何内容" in error
    assert not (get_settings().home / "reviews").exists()
    assert main(["review", "conclude", str(source)]) == 2


def test_clean_input_is_recorded_one_normalised_file_per_college(tmp_path, capsys):
    write_warehouse()
    source = results_csv(tmp_path / "results.csv", college_rows("13801", 12, "强") + college_rows("13802", 9, "弱"))
    assert main(["review", "import", str(source), "--year", "2024", "--date", "2024-06-01"]) == 0
    out = capsys.readouterr().out
    assert "13802：异常，整改期至 2025-06-01" in out
    folder = get_settings().home / "reviews" / "2024"
    assert sorted(p.name for p in folder.iterdir()) == ["13801.csv", "13802.csv"]
    with open(folder / "13802.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and {row["measures"] for row in rows} == {"弱"}
    assert sum(row["matched"] == "true" for row in rows) == 9
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no staging files left


def test_import_refuses_a_date_outside_the_year(tmp_path):
    write_warehouse()
    source = results_csv(tmp_path / "results.csv", college_rows("13801", 12, "强"))
    assert main(["review", "import", str(source), "--year", "2024", "--date", "2023-06-01"]) == 2
    assert not (get_settings().home / "reviews").exists()


def test_missing_header_is_refused(tmp_path, capsys):
    write_warehouse()
    source = tmp_path / "results.csv"
    source.write_text("学校代码,诊断要素代码,诊断是否相符\n13801,1.1,是\n", encoding="utf-8")
    assert main(["review", "conclude", str(source)]) == 2
    assert "第 1 行（表头）缺少列：改进措施判断" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("results.xlsx", bytes(range(256)) * 40, "无法作为 Excel 工作簿打开"),  # binary bytes named .xlsx
        ("results.xlsx", b"PK\x03\x04" + b"\x00" * 100, "无法作为 Excel 工作簿打开"),  # a truncated zip
        ("results.csv", b'"' + b"x" * 200_000, "不是可读的 CSV 文件"),  # an open quote swallowing a huge field
        ("results.csv", bytes(range(128, 256)) * 40, "无法识别文件编码"),  # binary bytes named .csv
    ],
)
def test_an_unreadable_file_is_refused_in_one_line(name, content, expected, tmp_path, capsys):
    write_warehouse()
    source = tmp_path / name
    source.write_bytes(content)
    assert main(["review", "conclude", str(source)]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_without_warehouse_or_registry_the_user_is_told_to_run_first(tmp_path, capsys):
    source = results_csv(tmp_path / "results.csv", college_rows("13801", 12, "强"))
    assert main(["review", "conclude", str(source)]) == 2
    assert "zhengai run" in capsys.readouterr().err


def test_registry_file_is_used_before_the_first_run(tmp_path, capsys):
    registry = get_settings().registry
    registry.parent.mkdir(parents=True)
    registry.write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
        "13801,广西甲职业技术学院,综合,公办,active,,,\n",
        encoding="utf-8",
    )
    source = results_csv(tmp_path / "results.csv", college_rows("13801", 12, "强"))
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["conclusion"] == "有效"


# --- the Excel template ------------------------------------------------------------------------------


def test_template_asks_per_element_and_once_per_college_for_the_measures(tmp_path, capsys):
    write_warehouse()
    out = tmp_path / "模板.xlsx"
    assert main(["review", "template", "--out", str(out), "--school", "13801", "--school", "13802"]) == 0
    rows = read_rows(out, TEMPLATE_SHEET)
    assert rows[0][1] == [
        "学校代码",
        "学校名称",
        "诊断要素代码",
        "诊断要素名称",
        "诊断是否相符（相符/不相符）",
        "说明（不相符时写明专家的诊断）",
    ]
    assert len(rows) == 31 and rows[1][1][:3] == ["13801", "广西甲职业技术学院", "1.1"]
    measures = read_rows(out, MEASURES_SHEET)
    assert measures[0][1] == [
        "学校代码",
        "学校名称",
        "针对性强（是/否）",
        "切实可行（是/否）",
        "成效明显（是/否）",
        "说明",
    ]
    assert [cells[:2] for _, cells in measures[1:]] == [
        ["13801", "广西甲职业技术学院"],
        ["13802", "广西乙职业技术学院"],
    ]
    # an unfilled template is refused, naming the empty rows of each sheet
    assert main(["review", "template", "--out", str(out), "--school", "13801"]) == 0
    assert main(["review", "conclude", str(out)]) == 2
    error = capsys.readouterr().err
    assert "第 2 行：诊断是否相符应填 相符/不相符" in error
    assert "“改进措施”表第 2 行：针对性强、切实可行、成效明显 均未填写" in error


def test_template_protects_shown_columns_and_lists_the_element_codes(tmp_path, capsys):
    import openpyxl

    write_warehouse()
    out = tmp_path / "模板.xlsx"
    assert main(["review", "template", "--out", str(out), "--school", "13801"]) == 0
    book = openpyxl.load_workbook(out)
    results, measures, notes = book[TEMPLATE_SHEET], book[MEASURES_SHEET], book["填写说明"]
    for sheet in (results, measures):
        assert sheet.protection.sheet and sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$1:$1"
    # the names are shown, never read: locked; codes and judgements are input: unlocked
    assert [results.cell(2, col).protection.locked for col in range(1, 7)] == [False, True, False, True, False, False]
    assert [measures.cell(2, col).protection.locked for col in range(1, 7)] == [False, True, False, False, False, False]
    lists = {str(v.sqref): v.formula1 for v in results.data_validations.dataValidation}
    element_list = lists["C2:C201"]
    sheet_ref, cells = element_list.split("!")
    assert sheet_ref == "'填写说明'"
    first, last = (int(part.lstrip("$A")) for part in cells.split(":"))
    assert [notes.cell(row, 1).value for row in range(first, last + 1)] == ELEMENTS
    assert lists["E2:E201"] == '"相符,不相符"'
    assert {str(v.sqref) for v in measures.data_validations.dataValidation} >= {"C2:C201", "D2:D201", "E2:E201"}
    assert [
        cell.coordinate for sheet in book for row in sheet.iter_rows() for cell in row if cell.data_type == "f"
    ] == []


def test_filled_template_round_trips_as_input(tmp_path, capsys):
    write_warehouse()
    names = element_codes()
    filled = [
        {
            "school_code": code,
            "school_name": "x",
            "element_code": element,
            "element_name": names[element],
            "matched": "相符" if i < matched else "不相符",
            "note": "" if i < matched else "问题未列出",
        }
        for code, matched in (("13801", 12), ("13802", 12), ("13803", 9))
        for i, element in enumerate(ELEMENTS)
    ]
    measures = [
        {"school_code": "13801", "targeted": "是", "feasible": "是", "effective": "是", "note": "措施具体"},
        {"school_code": "13802", "targeted": "是", "feasible": "是", "effective": "否", "note": "成效尚未显现"},
        {"school_code": "13803", "targeted": "否", "feasible": "是", "effective": "是"},
    ]
    out = write_template(tmp_path / "filled.xlsx", filled, measures)
    assert next(title for _, title in TEMPLATE_HEADERS) == "学校代码"
    assert main(["review", "conclude", str(out), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert [(o["school_code"], o["conclusion"]) for o in output] == [
        ("13801", "有效"),
        ("13802", "待改进"),
        ("13803", "异常"),
    ]
    assert main(["review", "import", str(out), "--year", "2025", "--date", "2025-03-01"]) == 0
    with open(get_settings().home / "reviews" / "2025" / "13802.csv", encoding="utf-8") as handle:
        assert {row["measures_note"] for row in csv.DictReader(handle)} == {"成效尚未显现"}


def test_the_old_template_shape_still_concludes(tmp_path, capsys):
    """The 6-column template of earlier rounds (是/否 per element, 强/弱 on every row) is still read."""
    write_warehouse()
    source = tmp_path / "old.csv"
    header = "学校代码,学校名称,诊断要素代码,诊断要素名称,诊断是否相符（是/否）,改进措施判断（强/弱）"
    lines = [header] + [f"{c},x,{e},y,{m},{s}" for c, e, m, s in college_rows("13801", 12, "强")]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["conclusion"] == "有效"


def test_a_title_row_above_the_header_is_skipped(tmp_path, capsys):
    write_warehouse()
    source = tmp_path / "results.csv"
    lines = ["2024年诊改复核专家组意见汇总,,,", "学校代码,诊断要素代码,诊断是否相符,改进措施判断"]
    lines += [",".join(row) for row in college_rows("13801", 9, "弱")]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["conclusion"] == "异常"
    source.write_text("\n".join([*lines[:2], "13801,1.1,是,中"]) + "\n", encoding="utf-8")
    assert main(["review", "conclude", str(source)]) == 2
    assert "第 3 行：改进措施判断应填 强/弱" in capsys.readouterr().err


def test_gbk_csv_is_accepted(tmp_path, capsys):
    write_warehouse()
    source = tmp_path / "results.csv"
    lines = ["学校代码,诊断要素代码,诊断是否相符,改进措施判断"] + [",".join(r) for r in college_rows("13801", 12, "强")]
    source.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    assert main(["review", "conclude", str(source), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["conclusion"] == "有效"
