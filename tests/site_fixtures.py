"""Fixture tables for the site tests and benchmark: the dashboards' inputs, filled by hand.

The ref tables come from the real reference files with the real SQL, and the quality and mart tables
from their layers' real builders (`warehouse_fixtures`); the fixture fills only the columns the site
reads, naming them, with deterministic pseudo-random rows, so the site can be built without running
the ingest, quality and mart layers on data. College codes start with 9 and names are `<甲乙…>NNN号学院`, with
every figure below 90000: a code or a name can never appear by accident inside another college's
figures or name, so the confidentiality scan has no false alarms.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb

from assets.ref import build_reference_tables
from dashboards.common import LEVEL_ZH
from pipelines.registry import COLUMNS as REGISTRY_COLUMNS
from warehouse_fixtures import empty_mart_tables, empty_quality_tables, empty_schools

LEVEL_WEIGHTS = (("green", 0.6), ("yellow", 0.2), ("red", 0.1), ("insufficient", 0.1))
STATUS_WEIGHTS = (("ok", 0.85), ("warn", 0.06), ("invalid", 0.03), ("missing", 0.04), ("stale", 0.02))

# The columns the fixture fills, by name: the real tables' other columns stay NULL.
SCHOOL_COLUMNS = REGISTRY_COLUMNS  # ref.schools has the registry's columns
VALUE_COLUMNS = ("school_code", "year", "indicator_code", "value", "numerator", "denominator")
WARNING_COLUMNS = ("school_code", "year", "element_code", "level", "level_zh", "reasons")
STATUS_COLUMNS = ("school_code", "year", "table_code", "status", "reasons_zh")
ISSUE_COLUMNS = (
    "school_code",
    "year",
    "table_code",
    "column_name",
    "check_name",
    "severity",
    "failed_count",
    "samples",
    "message_zh",
    "message_en",
)
RISK_COLUMNS = (
    "school_code",
    "year",
    "risk_score",
    "red_count",
    "yellow_count",
    "insufficient_count",
    "rank",
    "flagged_indicators",
    "red_indicators",
    "yellow_indicators",
    "insufficient_indicators",
    "flagged_zh",
)
CARD_COLUMNS = (
    "school_code",
    "year",
    "school_type",
    "card",
    "red_by_consecutive_years",
    "below_restricted_count",
    "yellow_run_years",
    "deciding_indicators",
    "missing_indicators",
    "rests_on_unconfirmed",
    "reasons_zh",
)


def school_code(index: int) -> str:
    return f"9{index + 1:04d}"


def school_name(index: int) -> str:
    return f"甲{index + 1:04d}号学院"


def create_input_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The reference tables (real files), and the quality and mart tables empty, as their layers build them."""
    build_reference_tables(conn)
    empty_schools(conn)
    empty_quality_tables(conn)
    empty_mart_tables(conn)


def add_school(conn, code: str, name: str, school_type: str) -> None:
    conn.execute(
        f"insert into ref.schools ({', '.join(SCHOOL_COLUMNS)}) values (?, ?, ?, '公办', 'active', [], 2000, null)",
        [code, name, school_type],
    )


def add_value(conn, code: str, year: int, indicator: str, value: float | None) -> None:
    conn.execute(
        f"insert into mart.indicator_values ({', '.join(VALUE_COLUMNS)}) values (?, ?, ?, ?, null, null)",
        [code, year, indicator, value],
    )


def add_warning(conn, code: str, year: int, element: str, level: str, reasons: list[str]) -> None:
    conn.execute(
        f"insert into mart.element_warnings ({', '.join(WARNING_COLUMNS)}) values (?, ?, ?, ?, ?, ?)",
        [code, year, element, level, LEVEL_ZH[level], reasons],
    )


def add_table_status(conn, code: str, year: int, table_code: str, status: str, reasons: str = "") -> None:
    conn.execute(
        f"insert into quality.table_status ({', '.join(STATUS_COLUMNS)}) values (?, ?, ?, ?, ?)",
        [code, year, table_code, status, reasons],
    )


def add_issue(conn, code: str, year: int, table_code: str, severity: str, count: int, message: str) -> None:
    conn.execute(
        f"insert into quality.issues ({', '.join(ISSUE_COLUMNS)}) values (?, ?, ?, null, 'fixture', ?, ?, '', ?, '')",
        [code, year, table_code, severity, count, message],
    )


def rebuild_school_risk(conn) -> None:
    """mart.school_risk from the element warnings alone (weights 3/1/0.5 for the fixture).

    It stays hand-made because the real `sql/mart/school_risk.sql` scores and ranks from
    `mart.indicator_warnings`, which the fixture does not fill: with the real SQL every college would
    have no score, share rank 1 and flag nothing, and the ranking tests would test nothing.
    """
    conn.execute("delete from mart.school_risk")
    conn.execute(
        f"""
        insert into mart.school_risk ({", ".join(RISK_COLUMNS)})
        with per_school as (
            select school_code, year,
                count(*) filter (where level = 'red') as red_count,
                count(*) filter (where level = 'yellow') as yellow_count,
                count(*) filter (where level = 'insufficient') as insufficient_count
            from mart.element_warnings group by all
        ),
        final as (
            select school_code, year,
                round(100.0 * (3 * red_count + yellow_count + 0.5 * insufficient_count) / 45, 2) as risk_score,
                red_count, yellow_count, insufficient_count,
                rank() over (partition by year order by 3 * red_count + yellow_count + 0.5 * insufficient_count desc)
                    as rank,
                -- the fixture has no indicator warnings: one flagged indicator per flagged element
                red_count + yellow_count as flagged_indicators, red_count as red_indicators,
                yellow_count as yellow_indicators, insufficient_count as insufficient_indicators,
                '' as flagged_zh
            from per_school
        )
        select * from final
        """
    )


def populate_province(conn, schools: int, years: list[int], seed: int, school_types: list[str]) -> list[str]:
    """`schools` colleges × `years` of plausible rows in every input table; returns the college codes."""
    rng = random.Random(seed)
    create_input_tables(conn)
    elements = [code for (code,) in conn.execute("select element_code from ref.diagnostic_elements").fetchall()]
    indicators = conn.execute(
        "select i.indicator_code, coalesce(t.qualified_value, 40) from ref.indicators i "
        "left join ref.thresholds t on t.indicator_code = i.indicator_code and t.school_type = '综合'"
    ).fetchall()
    tables = [code for (code,) in conn.execute("select table_code from ref.platform_tables").fetchall()]
    levels, level_weights = zip(*LEVEL_WEIGHTS)
    statuses, status_weights = zip(*STATUS_WEIGHTS)
    school_rows, value_rows, warning_rows, status_rows, issue_rows = [], [], [], [], []
    codes = []
    for index in range(schools):
        code = school_code(index)
        codes.append(code)
        school_rows.append(
            (code, school_name(index), school_types[index % len(school_types)], "公办", "active", [], 2000, None)
        )
        base = {indicator: typical * rng.uniform(0.7, 1.5) for indicator, typical in indicators}
        for year in years:
            for indicator, _ in indicators:
                value = base[indicator] * rng.uniform(0.85, 1.15) if rng.random() > 0.05 else None
                value_rows.append((code, year, indicator, value, None, None))
            for element in elements:
                level = rng.choices(levels, level_weights)[0]
                reasons = (
                    [f"要素{element}的指标在{year}年低于合格值，需改进。"]
                    if level != "green"
                    else ["未触发预警的指标：全部达标。"]
                )
                warning_rows.append((code, year, element, level, LEVEL_ZH[level], reasons))
            for table in tables:
                status = rng.choices(statuses, status_weights)[0]
                status_rows.append((code, year, table, status, "" if status == "ok" else f"表{table}检查未通过"))
                if status in ("warn", "invalid"):
                    issue_rows.append(
                        (
                            code,
                            year,
                            table,
                            None,
                            "fixture",
                            "error" if status == "invalid" else "warn",
                            rng.randint(1, 20),
                            "",
                            f"表{table}有取值超出允许范围的单元格，请核对第3行起的数据。",
                            "",
                        )
                    )
    insert_rows(conn, "ref.schools", SCHOOL_COLUMNS, school_rows)
    insert_rows(conn, "mart.indicator_values", VALUE_COLUMNS, value_rows)
    insert_rows(conn, "mart.element_warnings", WARNING_COLUMNS, warning_rows)
    insert_rows(conn, "quality.table_status", STATUS_COLUMNS, status_rows)
    insert_rows(conn, "quality.issues", ISSUE_COLUMNS, issue_rows)
    rebuild_school_risk(conn)
    insert_rows(conn, "mart.college_card", CARD_COLUMNS, card_rows(codes, years, seed))
    return codes


CARD_WEIGHTS = (("合格", 0.6), ("未达合格", 0.25), ("限制招生", 0.1), ("暂停招生", 0.05))


def card_rows(codes: list[str], years: list[int], seed: int) -> list[tuple]:
    """A card per college and year, drawn from a generator of its own so the other fixture rows do not move."""
    rng = random.Random(f"{seed}:cards")
    cards, weights = zip(*CARD_WEIGHTS)
    rows = []
    for code in codes:
        for year in years:
            card = rng.choices(cards, weights)[0]
            below = {"限制招生": 1, "暂停招生": 2}.get(card, 0)
            deciding = ["books_per_student", "equipment_value_per_student"][: max(below, 1)]
            reasons = [
                f"生均图书为40.0册，低于限制招生值50册（该限制招生值未经核实）：{below}项基本办学条件指标未达到限制招生要求。"
            ]
            rows.append((code, year, "综合", card, False, below, below and 1, deciding, [], below > 0, reasons))
    return rows


def insert_rows(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert into the named columns through a polars frame (executemany is slow for the 300-college
    benchmark); the table's other columns stay NULL."""
    if not rows:
        return
    import polars as pl

    frame = pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None)
    conn.register("incoming_rows", frame.to_arrow())
    conn.execute(f"insert into {table} ({', '.join(columns)}) select * from incoming_rows")
    conn.unregister("incoming_rows")


def write_fixture_site(site: Path) -> list[str]:
    """A 12-college, 3-year fixture province's dashboards and overview written by the site assets' own
    writers into `site`; returns the college codes."""
    from assets.site import load_site_inputs, write_college_dashboards, write_province_overview
    from dashboards.common import write_plotly_js

    conn = fixture_warehouse()
    codes = populate_province(conn, 12, [2022, 2023, 2024], seed=3, school_types=["理工"])
    inputs = load_site_inputs(conn)
    write_plotly_js(site)
    write_college_dashboards(inputs, site)
    write_province_overview(inputs, site)
    conn.close()
    return codes


def fixture_warehouse(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path) if path else ":memory:")
