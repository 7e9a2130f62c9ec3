"""Time and peak memory of the mart layer (indicators, warnings, risk) and of the warning reports.

Usage: `python benchmarks/bench_marts.py [--schools 47 300] [--years 2022-2024]`

The province is a scaled fixture of raw rows written straight into the raw tables (sizes from
DOMAIN.md §8: ~420 专任 per college, ~1,200 course rows, ~40 majors …), with every table judged
`ok` by a stand-in quality layer except a few `invalid` ones. The mart runs in a fresh child
process so its peak resident memory is measured on its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.mart import LAYER, load_warning_rules
from assets.ref import build_reference_tables
from assets.site import write_warning_reports
from assets.sql_tables import build_order, build_tables
from pipelines.catalog import create_raw_tables, load_catalog
from pipelines.quality.issues import write_issues
from pipelines.quality.messages import ISSUE_COLUMNS

SCHOOL_TYPES = ["综合", "理工", "理工", "理工", "农林", "医药", "财经", "师范", "艺术"]

# raw table → (rows per college-year, select list over `r` = a random number in [0, 1) per row)
SCALED_ROWS = {
    "students_enrolled": (
        1,
        "6000 + floor(r * 12000)::bigint as fulltime_total, floor(r * 300)::bigint as further_study, "
        "floor(r * 500)::bigint as adult_fulltime, floor(r * 800)::bigint as evening, "
        "floor(r * 1500)::bigint as correspondence",
    ),
    "full_time_teachers": (
        420,
        "'T' || i as staff_no, case when r < 0.25 then '硕士' when r < 0.28 then '博士' else '学士' end "
        "as highest_degree, case when r < 0.22 then '副高级' when r < 0.27 then '正高级' else '中级' end "
        "as title_level, r < 0.65 as is_double_qualified, 200 + floor(r * 400)::bigint as teaching_hours",
    ),
    "internal_part_time_teachers": (50, "'P' || i as staff_no, floor(r * 200)::bigint as teaching_hours"),
    "external_part_time_teachers": (220, "'E' || i as name, 40 + floor(r * 200)::bigint as teaching_hours"),
    "external_guest_teachers": (20, "'G' || i as name, floor(r * 100)::bigint as teaching_hours"),
    "campus_area": (
        1,
        "120000 * (0.6 + r) as teaching_research_area, 20000 * (0.6 + r) as admin_office_area, "
        "60000 * (0.6 + r) as dormitory_area",
    ),
    "teaching_equipment": (1, "8000 * (0.5 + r) as equipment_value, 800 * (0.2 + r) as equipment_value_new"),
    "library_holdings": (1, "(700000 * (0.6 + r))::bigint as books_total, (30000 * (0.5 + r))::bigint as books_new"),
    "it_facilities": (1, "(1000 * (0.6 + r))::bigint as teaching_computers"),
    "onsite_training_bases": (30, "'B' || i as base_name, 20 + floor(r * 150)::bigint as workstations"),
    "courses": (
        1200,
        "'C' || i as course_code, 32 + floor(r * 64)::bigint as total_hours, floor(r * 32)::bigint as practice_hours, "
        "r < 0.3 as is_industry_developed",
    ),
    "internships": (40, "'M' || i as major_code, 50 as interns, 30 + floor(r * 20)::bigint as relevant_interns"),
    "admissions": (40, "'M' || i as major_code, 100 as admitted, 80 + floor(r * 20)::bigint as registered"),
    "employment": (
        40,
        "'M' || i as major_code, 80 as graduates, 70 + floor(r * 10)::bigint as employed, "
        "50 + floor(r * 20)::bigint as relevant_employed",
    ),
    "funding_income": (1, "15000 * (0.5 + r) as fiscal_appropriation"),
    "funding_expenditure": (1, "30000 as expenditure_total, 6000 * (0.5 + r) as daily_teaching"),
    "teaching_evaluations": (
        420,
        "'T' || i as staff_no, case when r < 0.5 then '优' when r < 0.85 then '良' else '中' end as result",
    ),
    "student_aid": (12, "'A' || i as aid_name, floor(r * 400)::bigint as students"),
    "leader_engagement": (8, "'L' || i as name, floor(r * 40)::bigint as lectures_observed"),
    "teaching_admin_staff": (25, "'S' || i as staff_no"),
    "student_affairs_staff": (60, "'S' || i as staff_no"),
    "admissions_employment_staff": (10, "'S' || i as staff_no"),
    "supervision_staff": (6, "'S' || i as staff_no"),
    "teaching_research_staff": (8, "'S' || i as staff_no"),
    "management_documents": (
        60,
        "'D' || i as document_title, case when r < 0.2 then '质量保证' else '教学管理' end as category",
    ),
}


def build_province(path: Path, schools: int, years: list[int]) -> None:
    """Reference tables, a registry, scaled raw rows and a stand-in quality verdict in `path`."""
    conn = duckdb.connect(str(path))
    build_reference_tables(conn)
    conn.execute(
        "create table ref.schools as select printf('%05d', 13000 + i) as school_code, '示例学院' || i as name_zh, "
        "$types[1 + i % len($types)] as school_type, '公办' as ownership, 'active' as status, []::varchar[] as succeeded, "
        "2000 as active_from, null::integer as active_to from range($n) t(i)",
        {"types": SCHOOL_TYPES, "n": schools},
    )
    create_raw_tables(conn)
    conn.execute(
        "create temp table college_years as select school_code, unnest($years) as year from ref.schools",
        {"years": years},
    )
    for table, (count, columns) in SCALED_ROWS.items():
        conn.execute(
            f"insert into raw.{table} by name select school_code, year, {columns} from ("
            f"select school_code, year, i, (hash(school_code, year, i, '{table}') % 1000000) / 1e6 as r "
            f"from college_years cross join range({count}) t(i))"
        )
    conn.execute("create schema quality")
    conn.execute(
        "create table quality.table_status as select school_code, year, table_code, "
        "case when hash(school_code, year, table_code) % 97 = 0 then 'invalid' else 'ok' end as status, "
        "'' as reasons_zh, 0::bigint as excluded_rows, null::bigint as row_count, null::double as tolerance_share "
        "from college_years cross join (select table_code from ref.platform_tables)"
    )
    conn.execute(
        "create table quality.excluded_rows (school_code varchar, year integer, table_code varchar, "
        "table_name varchar, source_file varchar, row_no bigint, checks varchar[])"
    )
    conn.execute(
        "create table quality.element_data_status as select school_code, year, element_code, "
        "case when element_code in (select element_code from ref.point_platform_codes) then 'sufficient' "
        "else 'no_data_coverage' end as status, '' as reasons_zh "
        "from college_years cross join (select element_code from ref.diagnostic_elements)"
    )
    # no issue found: an empty quality.issues, made by the quality layer's own writer
    write_issues(conn, pl.DataFrame(schema=ISSUE_COLUMNS))
    conn.close()


def run_marts(path: Path) -> dict:
    """Build the mart tables in `path`, then the report pages; returns timings in seconds."""
    rules = load_warning_rules()
    conn = duckdb.connect(str(path))
    tables = {}
    for table in build_order(LAYER):  # one table at a time, as the assets build them: each one's time
        started = time.perf_counter()
        build_tables(conn, LAYER, only=[table.name], values=rules)
        tables[table.name] = time.perf_counter() - started
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as site:
        pages = write_warning_reports(conn, Path(site))
    reports = time.perf_counter() - started
    counts = {
        table: conn.execute(f"select count(*) from mart.{table}").fetchone()[0]
        for table in ("indicator_values", "element_warnings", "school_risk")
    }
    conn.close()
    return {"marts_s": sum(tables.values()), "tables_s": tables, "reports_s": reports, "pages": pages, **counts}


def measure(schools: int, years: list[int]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        build_province(path, schools, years)
        built = time.perf_counter() - started
        raw_rows = sum(
            duckdb.connect(str(path), read_only=True).execute(f"select count(*) from raw.{t.table_name}").fetchone()[0]
            for t in load_catalog().tables
        )
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {
            "schools": schools,
            "years": len(years),
            "raw_rows": raw_rows,
            "fixture_s": built,
            **figures,
            "peak_rss_mb": peak_mb,
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, nargs="+", default=[47, 300])
    parser.add_argument("--years", default="2022-2024")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_marts(Path(args.child))))
        return 0
    first, last = (int(part) for part in args.years.split("-"))
    years = list(range(first, last + 1))
    print("province (scaled raw-row fixture) | raw rows | indicators+warnings+risk | reports (pages) | peak RSS")
    for schools in args.schools:
        row = measure(schools, years)
        print(
            f"{row['schools']} colleges × {row['years']} years | {row['raw_rows']:,} | {row['marts_s']:.2f} s | "
            f"{row['reports_s']:.2f} s ({row['pages']}) | {row['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        print("  per mart table: " + ", ".join(f"{name} {secs:.2f} s" for name, secs in row["tables_s"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
