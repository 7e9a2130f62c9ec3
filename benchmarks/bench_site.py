"""Time to build every dashboard, and the weight of one college's page.

Usage: `python benchmarks/bench_site.py [--schools 47 300] [--years 2022-2024] [--warehouse PATH]`

Without `--warehouse`, each province is a fixture: the real reference tables, and mart and quality
tables filled with pseudo-random rows of the contract's shape (tests/site_fixtures.py), so the
figures do not depend on the ingest, quality and mart layers. With `--warehouse` (e.g. the demo's
`$ZHENGAI_HOME/work/warehouse.duckdb` after `make demo`), the site is built from that warehouse,
opened read-only. Target: under 0.2 s and 300 KB per college page (plotly.js excluded, shipped once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from assets.site import load_site_inputs, write_college_dashboards, write_province_overview
from dashboards.common import write_plotly_js
from site_fixtures import populate_province

SCHOOL_TYPES = ["综合", "理工", "理工", "理工", "农林", "医药", "财经", "师范", "艺术"]
PAGE_BYTES_TARGET = 300_000
SECONDS_PER_COLLEGE_TARGET = 0.2


def parse_years(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def build_and_measure(conn: duckdb.DuckDBPyConnection, label: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        plotly_bytes = write_plotly_js(site).stat().st_size
        started = time.perf_counter()
        inputs = load_site_inputs(conn)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        written = write_college_dashboards(inputs, site)
        colleges_seconds = time.perf_counter() - started
        started = time.perf_counter()
        province_bytes = write_province_overview(inputs, site)
        province_seconds = time.perf_counter() - started
        one_college = sorted(written)[0]
        college_folder_bytes = sum(path.stat().st_size for path in (site / "schools" / one_college).rglob("*"))
    sizes = list(written.values())
    per_college = colleges_seconds / max(len(written), 1)
    print(f"{label}: {len(written)} colleges × {len(inputs.reference.years)} years")
    print(f"  load inputs (one query per table)  {loaded:7.3f} s")
    print(
        f"  college dashboards                  {colleges_seconds:7.3f} s   {per_college:.3f} s per college "
        f"(target < {SECONDS_PER_COLLEGE_TARGET} s: {'ok' if per_college < SECONDS_PER_COLLEGE_TARGET else 'MISSED'})"
    )
    print(f"  province overview                   {province_seconds:7.3f} s   {province_bytes / 1024:.0f} KB")
    print(
        f"  college page bytes: median {statistics.median(sizes) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB "
        f"(target < {PAGE_BYTES_TARGET / 1000:.0f} KB: {'ok' if max(sizes) < PAGE_BYTES_TARGET else 'MISSED'}); "
        f"folder of {one_college} as built here {college_folder_bytes / 1024:.0f} KB; "
        f"plotly.min.js shipped once {plotly_bytes / 1024 / 1024:.1f} MB"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, nargs="+", default=[47, 300])
    parser.add_argument("--years", default="2022-2024")
    parser.add_argument("--warehouse", type=Path, help="build from this warehouse instead of fixtures")
    args = parser.parse_args(argv)
    if args.warehouse:
        with duckdb.connect(str(args.warehouse), read_only=True) as conn:
            build_and_measure(conn, f"warehouse {args.warehouse}")
        return 0
    years = parse_years(args.years)
    for schools in args.schools:
        with duckdb.connect() as conn:
            started = time.perf_counter()
            populate_province(conn, schools, years, seed=2026, school_types=SCHOOL_TYPES)
            print(f"\nfixture province of {schools} colleges generated in {time.perf_counter() - started:.2f} s")
            build_and_measure(conn, f"fixture province ({schools} colleges)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
