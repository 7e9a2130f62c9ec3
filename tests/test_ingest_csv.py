"""The ingest reads CSV honestly: a quote left open is named by its line, whatever the field's
length; a quoted cell with a line break is one cell."""

from __future__ import annotations

from ingest_fixtures import inbox, log_rows, sample_rows, write_csv, write_csv_with_open_quote
from pipelines.catalog import load_catalog
from pipelines.ingest import ingest_inbox
from pipelines.settings import get_settings

TEACHERS = load_catalog().by_code("6.1")


def log_by_file(conn) -> dict[str, dict]:
    return {row["source_file"]: row for row in log_rows(conn)}


def test_a_quote_left_open_in_a_csv_is_named_by_its_line(conn):
    rows = sample_rows(TEACHERS, 40)
    write_csv_with_open_quote(inbox() / "13829" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows, line=8)
    write_csv_with_open_quote(
        inbox() / "13830" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows, line=8, padding=140_000
    )  # past the csv module's 131,072-character field limit
    write_csv_with_open_quote(
        inbox() / "13832" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows, line=8, closed_at=12
    )  # valid CSV again after line 12: lines 8-12 read as one row
    write_csv(inbox() / "13831" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows)
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 3)
    log = log_by_file(conn)
    for school in ("13829", "13830", "13832"):
        row = log[f"{school}/2024/6-1 校内专任教师.csv"]
        assert row["status"] == "quarantined" and "引号" in row["reason"], row["reason"]
    assert "CSV 第 8 行起无法按 CSV 读取（读到第 42 行时" in log["13829/2024/6-1 校内专任教师.csv"]["reason"]
    assert "CSV 第 8 行有未成对的引号：第 8–12 行被读成了同一行" in log["13832/2024/6-1 校内专任教师.csv"]["reason"]
    assert "CSV 第 8 行起无法按 CSV 读取" in log["13830/2024/6-1 校内专任教师.csv"]["reason"]
    assert conn.sql("select count(*) from raw.full_time_teachers").fetchone()[0] == 40


def test_a_quoted_cell_with_a_line_break_is_one_cell(conn):
    rows = teacher_rows_with_a_line_break()
    write_csv(inbox() / "13829" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows)
    assert ingest_inbox(conn, get_settings()).loaded == 1
    assert conn.sql("select name from raw.full_time_teachers order by row_no").fetchall() == [
        ("张三\n（曾用名 张叁）",),
        (rows[1]["name"],),
    ]


def teacher_rows_with_a_line_break() -> list[dict]:
    rows = sample_rows(TEACHERS, 2)
    rows[0]["name"] = "张三\n（曾用名 张叁）"
    return rows
