"""The expert pool and review groups (issue 18 items 1-2): the pool file validated by row, each
conflict kind, the composition and load rules, a pool too small (said, never silently short),
same seed same groups, removed experts never chosen, and the recorded files."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from pipelines.cli import main
from pipelines.secretariat.experts import (
    KINDS,
    PoolError,
    families,
    form_groups,
    load_expert_rules,
    parse_pool,
    pool_path,
)
from pipelines.settings import get_settings

HEADER = [
    "expert_id",
    "name_zh",
    "kind",
    "employer_name",
    "employer_code",
    "past_employer_codes",
    "city",
    "specialties",
    "status",
    "removed_on",
    "removed_reason",
]
RULES = load_expert_rules()
YEAR = 2026

# Two families: 13802 succeeded 13801 (renamed); 13803 is on its own. 13804 merged into 13803 later.
COLLEGES = [
    {"school_code": "13801", "name_zh": "柳州旧名职业学院", "succeeded": [], "city": "柳州"},
    {"school_code": "13802", "name_zh": "柳州新名职业技术学院", "succeeded": ["13801"], "city": "柳州"},
    {"school_code": "13803", "name_zh": "南宁职业技术学院", "succeeded": ["13804"], "city": "南宁"},
    {"school_code": "13804", "name_zh": "邕江职业学院", "succeeded": [], "city": "南宁"},
    {"school_code": "13805", "name_zh": "桂林职业技术学院", "succeeded": [], "city": "桂林"},
]


def pool_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in HEADER} for row in rows)
    return buffer.getvalue()


def expert(expert_id: str, kind: str, **cells) -> dict:
    return {
        "expert_id": expert_id,
        "name_zh": f"专家{expert_id}",
        "kind": kind,
        "employer_name": "某单位",
        "city": "梧州",
        "status": "active",
        **cells,
    }


def clean_pool(per_kind: int = 3) -> list[dict]:
    """`per_kind` unconflicted experts of each kind, living in 梧州 (no college there)."""
    return [expert(f"{kind[:1]}{i}", kind) for kind in KINDS for i in range(per_kind)]


def inputs(pool_rows: list[dict], plan: list[str], seed: int = 1, rules: dict | None = None, fields=None) -> dict:
    values = {
        **{k: str(v) for k, v in RULES.as_dict().items() if not isinstance(v, list)},
        "leader_kinds": "|".join(RULES.leader_kinds),
        "cities": "",
        "same_city_excluded": "1",
        **(rules or {}),
    }
    return {
        "year": YEAR,
        "seed": seed,
        "rules": values,
        "plan_codes": plan,
        "colleges": COLLEGES,
        "fields": fields or {},
        "pool": parse_pool(pool_text(pool_rows), "experts.csv"),
    }


def group_of(groups: list[dict], code: str) -> dict:
    return next(g for g in groups if g["school_code"] == code)


def chosen_ids(group: dict) -> set[str]:
    return {m["expert_id"] for m in group["experts"]}


def excluded_why(group: dict, expert_id: str) -> str:
    return "；".join(next(x["why_zh"] for x in group["excluded"] if x["expert_id"] == expert_id))


# --- the pool file -------------------------------------------------------------------------------


def test_clean_pool_loads_in_utf8_english_and_gbk_chinese_headers():
    rows = [
        *clean_pool(1),
        expert(
            "X1", "高职教育专家", past_employer_codes="13801:2010-2019|13805:2020-", specialties="装备制造|电子与信息"
        ),
    ]
    english = parse_pool(pool_text(rows), "experts.csv")
    chinese_header = "专家编号,姓名,专家类别,工作单位,单位代码,曾任职单位,所在城市,专业领域,状态,除名日期,除名原因\n"
    gbk_bytes = (chinese_header + pool_text(rows).split("\n", 1)[1]).encode("gbk")
    pool_path().parent.mkdir(parents=True)
    pool_path().write_bytes(gbk_bytes)
    assert main(["experts", "list", "--json"]) == 0
    assert english[-1]["kind"] == "高职教育"
    assert english[-1]["past_employers"] == [
        {"code": "13801", "from": 2010, "to": 2019},
        {"code": "13805", "from": 2020, "to": None},
    ]
    assert english[-1]["specialties"] == ["装备制造", "电子与信息"]
    assert len(english) == 4


def test_every_problem_is_named_by_its_row(capsys):
    rows = [
        expert("A1", "行业企业"),
        expert("A1", "行业企业"),  # row 3: duplicate id
        expert("A2", "工程师"),  # row 4: unknown kind
        expert("A3", "高职教育", employer_code="1380"),  # row 5: not a five-digit code
        expert("A4", "高职教育", employer_code="99999"),  # row 6: code not in the registry
        expert("A5", "高职教育", past_employer_codes="13801/2010"),  # row 7: bad past employers
        expert("A6", "高职教育", status="removed"),  # row 8: removed without date or reason
        expert("A7", "高职教育", name_zh=""),  # row 9: no name
        expert("A8", "高职教育", status="退休"),  # row 10: unknown status
    ]
    with pytest.raises(PoolError) as refused:
        parse_pool(pool_text(rows), "experts.csv", known_codes={c["school_code"] for c in COLLEGES})
    message = str(refused.value)
    for row_no, words in [
        (3, "与第 2 行重复"),
        (4, "工程师"),
        (5, "应为 5 位学校代码"),
        (6, "不在院校名册中"),
        (7, "13801/2010"),
        (8, "除名日期"),
        (8, "除名原因"),
        (9, "姓名"),
        (10, "退休"),
    ]:
        assert any(line.strip().startswith(f"第 {row_no} 行") and words in line for line in message.splitlines()), (
            row_no,
            words,
            message,
        )
    assert "第 2 行" not in message.replace("与第 2 行重复", "")
    pool_path().parent.mkdir(parents=True)
    pool_path().write_text(pool_text(rows), encoding="utf-8")
    capsys.readouterr()
    assert main(["experts", "list"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_missing_required_header_is_named():
    with pytest.raises(PoolError, match="姓名"):
        parse_pool("expert_id,kind\nA1,行业企业\n", "experts.csv")


# --- conflicts -----------------------------------------------------------------------------------


def test_families_join_predecessors_successors_and_co_merged_colleges():
    family = families(COLLEGES)
    assert family["13801"] == family["13802"] == {"13801", "13802"}
    assert family["13804"] == {"13803", "13804"}
    assert family["13805"] == {"13805"}


@pytest.mark.parametrize(
    "cells, words",
    [
        ({"employer_code": "13802"}, "现任职于本校"),  # the college itself
        ({"employer_code": "13801"}, "前身或后继学校"),  # its predecessor
        ({"past_employer_codes": "13802:2015-2023"}, "离职不满 5 年"),  # past employer, recent
        ({"past_employer_codes": "13801:2000-"}, "仍在职"),  # still there (open end)
        ({"city": "柳州"}, "同城回避"),  # same city
        ({"status": "removed", "removed_on": "2025-01-01", "removed_reason": "违反纪律"}, "除名"),
    ],
)
def test_each_conflict_kind_keeps_the_expert_out_and_says_why(cells, words):
    # The conflicted expert is the best specialty match: only the conflict can keep it out.
    suspect = expert("S1", "行业企业", specialties="装备制造", **cells)
    groups = form_groups(inputs([*clean_pool(), suspect], ["13802"], fields={"13802": ["装备制造"]}))
    group = group_of(groups, "13802")
    assert "S1" not in chosen_ids(group)
    assert words in excluded_why(group, "S1")
    control = form_groups(
        inputs(
            [*clean_pool(), expert("S1", "行业企业", specialties="装备制造")], ["13802"], fields={"13802": ["装备制造"]}
        )
    )
    assert "S1" in chosen_ids(group_of(control, "13802"))


def test_successor_staff_conflict_with_a_predecessor_under_review():
    # 13803 succeeded 13804: reviewing 13804, an expert employed by 13803 is out.
    suspect = expert("S1", "行业企业", employer_code="13803", specialties="装备制造")
    group = group_of(form_groups(inputs([*clean_pool(), suspect], ["13804"], fields={"13804": ["装备制造"]})), "13804")
    assert "S1" not in chosen_ids(group)
    assert "前身或后继学校" in excluded_why(group, "S1")


def test_an_old_past_employer_and_a_different_city_are_no_conflict():
    fine = expert("S1", "行业企业", past_employer_codes="13802:2000-2015", city="南宁", specialties="装备制造")
    group = group_of(form_groups(inputs([*clean_pool(), fine], ["13802"], fields={"13802": ["装备制造"]})), "13802")
    assert "S1" in chosen_ids(group)


def test_same_city_is_allowed_when_the_rules_say_so():
    local = expert("S1", "行业企业", city="柳州", specialties="装备制造")
    on = form_groups(inputs([*clean_pool(), local], ["13802"], fields={"13802": ["装备制造"]}))
    off = form_groups(
        inputs([*clean_pool(), local], ["13802"], rules={"same_city_excluded": "0"}, fields={"13802": ["装备制造"]})
    )
    assert "S1" not in chosen_ids(on[0]) and "S1" in chosen_ids(off[0])


def test_removed_experts_are_never_chosen_even_when_nobody_else_is_left():
    removed = [
        expert(f"R{i}", kind, status="removed", removed_on="2025-01-01", removed_reason="违反纪律")
        for i, kind in enumerate(KINDS)
    ]
    groups = form_groups(inputs(removed, ["13805"]))
    assert chosen_ids(groups[0]) == set()
    assert not groups[0]["formed"] and "已除名 1 人" in groups[0]["problems"][0]


# --- composition, load, shortage, seed ----------------------------------------------------------


def test_composition_every_kind_a_size_and_one_leader_of_a_leader_kind():
    groups = form_groups(inputs(clean_pool(), ["13802", "13805"]))
    for group in groups:
        assert group["formed"] and group["problems"] == []
        assert len(group["experts"]) == RULES.group_size
        assert {m["kind"] for m in group["experts"]} == set(KINDS)
        leaders = [m for m in group["experts"] if m["role"] == "组长"]
        assert len(leaders) == 1 and leaders[0]["kind"] == RULES.leader_kinds[0]


def test_specialties_are_matched_where_possible():
    matched = [expert(f"M{i}", kind, specialties="医药卫生") for i, kind in enumerate(KINDS)]
    group = form_groups(inputs(clean_pool() + matched, ["13805"], fields={"13805": ["医药卫生"]}))[0]
    assert {"M0", "M1", "M2"} <= chosen_ids(group)
    assert all("专业领域匹配：医药卫生" in m["why_zh"] for m in group["experts"] if m["expert_id"].startswith("M"))


def test_each_expert_serves_at_most_k_groups_a_year():
    colleges = ["13802", "13803", "13805"]
    one = {"max_groups_per_expert": "1", "same_city_excluded": "0"}
    groups = form_groups(inputs(clean_pool(4), colleges, rules=one))
    served = [m["expert_id"] for g in groups for m in g["experts"]]
    assert len(served) == len(set(served))
    short = [g for g in groups if not g["formed"]]
    assert short and any("回避 0 人、本年已达上限" in p for g in short for p in g["problems"])
    two = form_groups(inputs(clean_pool(4), colleges, rules={"max_groups_per_expert": "2", "same_city_excluded": "0"}))
    assert max(sum(m["expert_id"] == e for g in two for m in g["experts"]) for e in served) == 2


def test_a_pool_too_small_is_reported_never_silently_short():
    pool = [expert("I1", "行业企业"), expert("V1", "高职教育")]
    group = form_groups(inputs(pool, ["13805"]))[0]
    assert not group["formed"]
    assert any("教育教学研究专家不足：需 1 人，可用 0 人" in p for p in group["problems"])
    assert any(f"专家不足：需 {RULES.group_size} 人，可用 2 人" in p for p in group["problems"])


def test_same_seed_same_groups_another_seed_other_groups():
    pool = clean_pool(6)
    first = form_groups(inputs(pool, ["13802", "13805"], seed=7))
    again = form_groups(inputs(pool, ["13802", "13805"], seed=7))
    others = [form_groups(inputs(pool, ["13802", "13805"], seed=s)) for s in range(8, 14)]
    assert first == again
    assert any([chosen_ids(g) for g in other] != [chosen_ids(g) for g in first] for other in others)


def test_unknown_city_is_said_when_same_city_rule_is_on():
    colleges = [{**COLLEGES[4], "city": None}]
    data = {**inputs(clean_pool(), ["13805"]), "colleges": colleges}
    group = form_groups(data)[0]
    assert not group["formed"] and "同城回避" in group["problems"][-1]


# --- the command ---------------------------------------------------------------------------------


def write_registry() -> None:
    path = get_settings().registry
    path.parent.mkdir(parents=True)
    lines = ["school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to,city"]
    lines += [
        f"{c['school_code']},{c['name_zh']},综合,公办,active,{'|'.join(c['succeeded'])},,,{c['city']}" for c in COLLEGES
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plan(year: int, codes: list[str]) -> None:
    path = get_settings().exports / "sampling" / str(year) / "plan.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"plan": {"year": year, "selected": [{"school_code": c} for c in codes]}}), encoding="utf-8"
    )


def test_assign_records_json_excel_and_html_with_every_input(capsys):
    write_registry()
    write_plan(YEAR, ["13802", "13805"])
    hostile = expert("H1", "行业企业", name_zh='=HYPERLINK("http://x","y")', employer_name="+cmd|' /C calc'!A0")
    pool_path().parent.mkdir(parents=True)
    pool_path().write_text(pool_text([*clean_pool(), hostile]), encoding="utf-8")
    capsys.readouterr()
    assert main(["experts", "assign", "--year", str(YEAR), "--seed", "5", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [g["school_code"] for g in printed] == ["13802", "13805"]
    assert all(set(m) == {"expert_id", "kind", "role"} for g in printed for m in g["experts"])
    folder = get_settings().exports / "experts" / str(YEAR)
    record = json.loads((folder / "groups.json").read_text(encoding="utf-8"))
    assert record["inputs"]["seed"] == 5 and len(record["inputs"]["pool"]) == 10
    assert form_groups(record["inputs"]) == record["groups"]
    workbook = openpyxl.load_workbook(folder / "groups.xlsx")
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type != "f" for c in cells)
    html = (folder / "groups.html").read_text(encoding="utf-8")
    assert "复核专家组" in html and "<script" not in html


def test_assign_without_a_plan_says_to_sample_first(capsys):
    write_registry()
    assert main(["experts", "assign", "--year", str(YEAR), "--seed", "1"]) == 2
    assert "zhengai sample" in capsys.readouterr().err


def test_assign_exits_1_when_a_group_cannot_be_formed(capsys):
    write_registry()
    write_plan(YEAR, ["13805"])
    pool_path().parent.mkdir(parents=True)
    pool_path().write_text(pool_text([expert("I1", "行业企业")]), encoding="utf-8")
    assert main(["experts", "assign", "--year", str(YEAR), "--seed", "1"]) == 1
    assert "未能按规则组成" in capsys.readouterr().out


def test_demo_pool_is_valid_and_has_conflicts_and_removed_experts(capsys):
    write_registry()
    assert main(["experts", "demo-pool", "--size", "30"]) == 0
    assert main(["experts", "list", "--json"]) == 0
    pool = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert len(pool) == 30 and sum(e["status"] == "removed" for e in pool) == 2
    assert any(e["employer_code"] for e in pool) and {e["kind"] for e in pool} == set(KINDS)
    assert main(["experts", "demo-pool"]) == 2  # never overwrites the secretariat's pool
