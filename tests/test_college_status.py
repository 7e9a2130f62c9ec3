"""The per-college view: one line of health per college-year, worst verdict first, and its UI check."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from assets.college_status import college_year_status, every_college_year_usable
from pipelines import cli
from pipelines.resources import WarehouseResource
from pipelines.settings import get_settings
from pipelines.sql import run_sql
from warehouse_fixtures import empty_quality_tables, empty_schools

TABLES = ("3.1", "3.3", "6.1")


def table_status_rows(school: str, statuses: tuple[str, ...]) -> list[tuple]:
    return [(school, 2024, table, status, f"{status} 原因") for table, status in zip(TABLES, statuses, strict=True)]


@pytest.fixture
def warehouse(zhengai_home) -> WarehouseResource:
    resource = WarehouseResource(path=str(get_settings().warehouse))
    with duckdb.connect(resource.path) as conn:
        empty_schools(conn)
        empty_quality_tables(conn)
        conn.execute("insert into ref.schools (school_code, name_zh) values ('10001', '甲职业技术学院')")
        rows = [
            *table_status_rows("10001", ("ok", "warn", "optional_absent")),  # all usable
            *table_status_rows("10002", ("ok", "partial", "ok")),  # a few rows left out
            *table_status_rows("10003", ("ok", "stale", "partial")),  # stale beats partial
            *table_status_rows("10004", ("missing", "stale", "ok")),  # a required table missing
            *table_status_rows("10005", ("missing", "missing", "optional_absent")),  # nothing delivered
        ]
        conn.executemany(
            "insert into quality.table_status (school_code, year, table_code, status, reasons_zh) values (?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "insert into quality.issues (school_code, year, table_code, severity) values "
            "('10004', 2024, '3.1', 'error'), ('10002', 2024, '3.3', 'warn'), ('10002', 2024, '3.3', 'error')"
        )
    return resource


def health(resource: WarehouseResource) -> dict[str, tuple]:
    with resource.connect() as conn:
        run_sql(conn, "quality/college_year_status")
        rows = conn.execute(
            "select school_code, health, health_zh, tables_delivered, errors, warnings, reasons_zh "
            "from quality.college_year_status"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_each_college_year_gets_its_worst_verdict(warehouse):
    lines = health(warehouse)
    assert {school: line[0] for school, line in lines.items()} == {
        "10001": "ok",
        "10002": "partial",
        "10003": "stale",
        "10004": "error",
        "10005": "not_delivered",
    }
    assert lines["10002"][1:5] == ("部分可用", 3, 1, 1)
    assert lines["10004"][5] == "3.1：missing 原因；3.3：stale 原因"
    assert lines["10001"][5] is None and lines["10005"][5] == "未提交任何表"


def test_the_materialization_lists_every_college_year_not_ok_worst_first(warehouse):
    result = college_year_status(warehouse=warehouse)
    assert result.metadata["college_years_ok"].value == 1
    records = result.metadata["needing_attention"].value.records
    assert [(record.data["school_code"], record.data["health_zh"]) for record in records] == [
        ("10005", "未报送"),
        ("10004", "有错误"),
        ("10003", "数据过期"),
        ("10002", "部分可用"),
    ]


def test_the_check_warns_while_a_college_year_is_unusable_and_passes_once_none_is(warehouse):
    college_year_status(warehouse=warehouse)
    failed = every_college_year_usable(warehouse=warehouse)
    assert not failed.passed and failed.metadata["unusable_college_years"].value == 2
    assert "10005" in failed.metadata["first_50"].value and "10003" not in failed.metadata["first_50"].value
    with warehouse.connect() as conn:
        conn.execute("update quality.table_status set status = 'ok' where school_code in ('10004', '10005')")
    college_year_status(warehouse=warehouse)
    assert every_college_year_usable(warehouse=warehouse).passed


@dg.asset
def nothing() -> None:
    """Stands in for the nightly job: `run --school` around it is what is tested here."""


def test_run_for_one_college_refuses_an_unknown_code_and_prints_the_college_lines(warehouse, monkeypatch, capsys):
    (get_settings().registry.parent).mkdir(parents=True)
    get_settings().registry.write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
        "10004,乙职业学院,理工,公办,active,,2000,\n",
        encoding="utf-8",
    )
    schools = []
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: schools.append(args[-1]) or dg.materialize([nothing]))
    assert cli.main(["run", "--as-of", "2024-12-01", "--school", "99999"]) == 2
    assert "院校名册中没有学校代码 99999" in capsys.readouterr().err and schools == []
    college_year_status(warehouse=warehouse)
    assert cli.main(["run", "--as-of", "2024-12-01", "--school", "10004"]) == 0
    assert schools == ["10004"]
    assert "院校 10004 2024 年度：有错误，已报送 2 张表，错误 1 个" in capsys.readouterr().out
