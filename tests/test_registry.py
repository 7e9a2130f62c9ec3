"""The college registry: UTF-8, UTF-8 with BOM and GBK accepted; every mistake refused naming its row.

Each mistake of issue 12 sits in an otherwise clean registry (the clean one passes), and the
refusal must name the row as Excel numbers it (header = row 1). The refusal before a run, with the
previous results left published, is tested on a real published province in test_end_to_end.py.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from assets import ref
from pipelines.cli import main
from pipelines.registry import RegistryError, load_registry, school_types
from pipelines.resources import WarehouseResource
from pipelines.settings import get_settings

HEADER = "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to"
CLEAN = [
    "13830,广西示例职业技术学院,理工,公办,active,,2000,",
    "13831,广西新示例职业学院,综合,民办,active,13829,2023,",
    "13829,广西旧示例职业学院,综合,民办,renamed,,2005,2022",
]


def write(lines: list[str], encoding: str = "utf-8", header: str = HEADER):
    path = get_settings().registry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\r\n".join([header, *lines, ""]).encode(encoding))
    return path


def refusal(lines: list[str], header: str = HEADER) -> str:
    with pytest.raises(RegistryError) as refused:
        load_registry(write(lines, header=header))
    return str(refused.value)


def test_the_clean_registry_loads_with_its_types_and_links():
    registry = load_registry(write(CLEAN))
    assert [row["school_code"] for row in registry.rows] == ["13830", "13831", "13829"]
    assert registry.rows[1]["succeeded"] == ["13829"] and registry.rows[2]["active_to"] == 2022
    assert registry.rows[0]["ownership"] == "公办" and registry.encoding == "UTF-8"


def test_school_types_come_from_the_thresholds_file():
    assert school_types() == ("综合", "理工", "农林", "医药", "财经", "师范", "艺术", "体育", "政法", "语文", "民族")


@pytest.mark.parametrize("encoding, label", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8"), ("gbk", "GBK")])
def test_utf8_bom_and_gbk_files_are_accepted(encoding, label):
    registry = load_registry(write(CLEAN, encoding))
    assert registry.encoding == label
    assert registry.names()["13829"] == "广西旧示例职业学院"


def test_a_gbk_registry_loads_into_ref_schools_with_its_chinese_names(tmp_path):
    write([*CLEAN, "13832,广西壮族自治区某某职业学院,民族,公办,active,,2010,"], "gbk")
    resource = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    assert dg.materialize([ref.schools], resources={"warehouse": resource}).success
    with duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "select school_code, name_zh, school_type, succeeded from ref.schools order by 1"
        ).fetchall()
    assert rows[0] == ("13829", "广西旧示例职业学院", "综合", [])
    assert rows[3] == ("13832", "广西壮族自治区某某职业学院", "民族", [])


@pytest.mark.parametrize(
    "bad_row, expected",
    [
        ("13840,广西空类型职业学院,,公办,active,,2000,", "第 5 行：院校类型（school_type）为空"),
        ("13840,广西错字职业学院,理工类,公办,active,,2000,", "第 5 行：院校类型（school_type）“理工类”不在类型表中"),
        ("13830,广西重复职业学院,理工,公办,active,,2000,", "第 5 行：学校代码 13830 与第 2 行重复"),
        ("13840,广西继承职业学院,综合,公办,active,13999,2000,", "第 5 行：succeeded 中的 13999 不在名册中"),
        (
            "13840,广西状态职业学院,综合,公办,open,,2000,",
            "第 5 行：状态（status）应为 active/renamed/merged/closed，实为“open”",
        ),
        ("13840,广西年份职业学院,综合,公办,active,,20003,", "第 5 行：active_from 应为四位年份，实为“20003”"),
        ("13840,广西年份职业学院,综合,公办,closed,,2010,2008", "第 5 行：active_from 2010 晚于 active_to 2008"),
        ("1384,广西短代码职业学院,综合,公办,active,,2010,", "第 5 行：学校代码应为 5 位数字"),
        (",广西无代码职业学院,综合,公办,active,,2010,", "第 5 行：学校代码为空"),
    ],
)
def test_each_mistake_is_refused_naming_its_row(bad_row, expected):
    message = refusal([*CLEAN, bad_row])
    assert expected in message
    assert "有 1 处问题" in message, message  # the clean rows are not blamed


def test_a_missing_column_is_refused_naming_the_header():
    header = HEADER.replace("school_type,", "")
    rows = [",".join(part for index, part in enumerate(line.split(",")) if index != 2) for line in CLEAN]
    message = refusal(rows, header)
    assert "第 1 行（表头）缺少列：school_type" in message


def test_every_problem_is_listed_at_once():
    message = refusal([*CLEAN, "13840,甲,,公办,active,,,", "13841,乙,理工,公办,gone,,,"])
    assert "2 处问题" in message and "第 5 行" in message and "第 6 行" in message


def test_zhengai_run_refuses_a_bad_registry_in_one_message_without_a_traceback(capsys):
    write([*CLEAN, "13830,广西重复职业学院,理工,公办,active,,2000,"])
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "第 5 行：学校代码 13830 与第 2 行重复" in err and "本次未运行" in err
    assert "Traceback" not in err and "duckdb" not in err.lower()
    home = get_settings().home
    assert not (home / "work").exists() and not (home / "dagster").exists()
