"""Time to build every per-college output of the site, cold and after one college changed.

Usage: `python benchmarks/bench_site.py [--schools 47 300] [--years 2022-2024] [--warehouse PATH]`

Each province is a fixture: the real reference tables, and mart and quality tables filled with
pseudo-random rows of the contract's shape (tests/site_fixtures.py), so the figures do not depend on
the ingest, quality and mart layers. With `--warehouse` (e.g. the demo's
`$ZHENGAI_HOME/work/warehouse.duckdb` after `make demo`), the site is built from a copy of that
warehouse. For each province the site's per-college writers (the assets' own: dashboards, warning
reports, quality reports, Excel downloads) run three times into one build folder: cold (empty
folder), again with nothing changed, and after one college's figures and one quality issue changed
(its pages, its school type's peer file and the province workbooks are rewritten; the rest is kept).
Target: under 0.2 s and 300 KB per college page (plotly.js excluded, shipped once).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from assets.site import (
    load_colleges,
    load_reference,
    load_site_inputs,
    write_college_dashboards,
    write_college_reports,
    write_province_overview,
    write_warning_reports,
)
from dashboards.common import write_plotly_js
from pipelines.exports import write_downloads
from pipelines.resources import RunOptions
from site_fixtures import add_issue, populate_province

SCHOOL_TYPES = ["综合", "理工", "理工", "理工", "农林", "医药", "财经", "师范", "艺术"]
PAGE_BYTES_TARGET = 300_000
SECONDS_PER_COLLEGE_TARGET = 0.2
AS_OF = "2024-12-01"


def parse_years(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def build_site(conn: duckdb.DuckDBPyConnection, site: Path) -> dict[str, float]:
    """Every per-college step of the run (plus the province overview), seconds per step."""
    write_plotly_js(site)
    seconds = {}
    seconds["load inputs"], inputs = timed(lambda: load_site_inputs(conn))
    seconds["college dashboards"], written = timed(lambda: write_college_dashboards(inputs, site))
    seconds["province overview"], _ = timed(lambda: write_province_overview(inputs, site))
    seconds["warning reports"], _ = timed(lambda: write_warning_reports(conn, site))
    seconds["quality reports"], _ = timed(
        lambda: write_college_reports(load_reference(conn, RunOptions(as_of=AS_OF)), load_colleges(conn), site)
    )
    seconds["excel downloads"], _ = timed(lambda: write_downloads(conn, site))
    seconds["pages"] = len(written)
    return seconds


def change_one_college(conn: duckdb.DuckDBPyConnection) -> str:
    """One college's figures move (every indicator value +1 %) and it gets one more quality issue."""
    code = conn.execute("select min(school_code) from mart.indicator_values").fetchone()[0]
    year = conn.execute("select max(year) from mart.indicator_values").fetchone()[0]
    conn.execute(
        "update mart.indicator_values set value = value * 1.01 where school_code = ? and year = ?", [code, year]
    )
    add_issue(conn, code, year, "6.1", "error", 3, "教工号重复出现（基准测试）")
    return code


def files_of(site: Path) -> dict[Path, int]:
    return {path: path.stat().st_ino for path in site.rglob("*") if path.is_file()}


def report(label: str, runs: dict[str, dict[str, float]], site: Path, rewritten: int) -> None:
    cold = runs["cold"]
    pages = int(cold["pages"])
    steps = [name for name in cold if name != "pages"]
    print(f"{label}: {pages} college dashboards")
    print(f"  {'step':<22}" + "".join(f"{name:>16}" for name in runs))
    for step in steps:
        print(f"  {step:<22}" + "".join(f"{run[step]:>14.3f} s" for run in runs.values()))
    print(f"  {'total':<22}" + "".join(f"{sum(run[s] for s in steps):>14.3f} s" for run in runs.values()))
    per_college = cold["college dashboards"] / max(pages, 1)
    verdict = "ok" if per_college < SECONDS_PER_COLLEGE_TARGET else "MISSED"
    print(f"  cold dashboards {per_college:.4f} s per college (target < {SECONDS_PER_COLLEGE_TARGET} s: {verdict})")
    sizes = [path.stat().st_size for path in site.glob("schools/*/index.html")]
    verdict = "ok" if max(sizes) < PAGE_BYTES_TARGET else "MISSED"
    print(
        f"  college page bytes: median {statistics.median(sizes) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB "
        f"(target < {PAGE_BYTES_TARGET / 1000:.0f} KB: {verdict}); files rewritten after one college changed: "
        f"{rewritten} of {len(files_of(site))}"
    )


def measure(conn: duckdb.DuckDBPyConnection, label: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        runs = {"cold": build_site(conn, site), "unchanged": build_site(conn, site)}
        before = files_of(site)
        change_one_college(conn)
        runs["one changed"] = build_site(conn, site)
        after = files_of(site)
        report(label, runs, site, sum(1 for path, inode in after.items() if before.get(path) != inode))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, nargs="+", default=[47, 300])
    parser.add_argument("--years", default="2022-2024")
    parser.add_argument("--warehouse", type=Path, help="build from a copy of this warehouse instead of fixtures")
    args = parser.parse_args(argv)
    if args.warehouse:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "warehouse.duckdb"
            shutil.copyfile(args.warehouse, copy)
            with duckdb.connect(str(copy)) as conn:
                measure(conn, f"warehouse {args.warehouse}")
        return 0
    years = parse_years(args.years)
    for schools in args.schools:
        with duckdb.connect() as conn:
            started = time.perf_counter()
            populate_province(conn, schools, years, seed=2026, school_types=SCHOOL_TYPES)
            print(f"\nfixture province of {schools} colleges generated in {time.perf_counter() - started:.2f} s")
            measure(conn, f"fixture province ({schools} colleges)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
