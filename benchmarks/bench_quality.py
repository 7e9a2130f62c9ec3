"""Time and peak memory of all quality checks (suites + SQL checks + verdict tables).

Usage: `python benchmarks/bench_quality.py [--schools 47 300] [--years 2022-2024] [--seed 2026] [--jobs 2]`

The demo province (the smallest `--schools` value, with defects) is generated with
`pipelines.demo.province.generate_province` and ingested with `pipelines.ingest.ingest_inbox`; the ingest
time is printed for comparison (target: quality under a quarter of it). A larger province is the
ingested one replicated under new college codes (every raw row, log row and registry row copied,
so the row counts per college are the synth's), because generating and ingesting 300 colleges
takes far longer than the checks themselves; its ingest time is the demo's scaled by rows.

Each quality run happens in a fresh child process so its peak resident memory (ru_maxrss) is
its own; the child prints the phases: suites (GX on pandas, including importing GX when it is
needed), SQL checks, verdict tables. Two runs per province: **cold** (the suite results cache
`quality.suite_results_cache` emptied first: every college-year validated) and **warm** (the same
warehouse again, as a nightly run on an unchanged inbox: every suite result from the cache, GX not
even imported). Both must give the same `quality.issues` (compared by a digest of the table).
`--ingest-seconds 300=16` gives an ingest time to compare with instead of the scaled one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AS_OF = "2024-12-01"


def parse_years(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def build_demo(home: Path, schools: int, years: list[int], seed: int, jobs: int) -> dict:
    """Synth + ingest into `home/work.duckdb`; returns timings and row counts."""
    import duckdb

    from assets.ref import build_reference_tables
    from pipelines.demo.province import generate_province
    from pipelines.ingest import ingest_inbox
    from pipelines.registry import build_schools_table, load_registry
    from pipelines.settings import get_settings

    os.environ["ZHENGAI_HOME"] = str(home)
    settings = get_settings()
    started = time.perf_counter()
    generate_province(settings.inbox, schools, years, seed, True, jobs=jobs)
    synth_s = time.perf_counter() - started
    conn = duckdb.connect(str(home / "work.duckdb"))
    build_reference_tables(conn)
    build_schools_table(conn, load_registry(settings.registry))
    started = time.perf_counter()
    ingest_inbox(conn, settings)
    ingest_s = time.perf_counter() - started
    rows = raw_rows(conn)
    conn.close()
    return {"synth_s": synth_s, "ingest_s": ingest_s, "raw_rows": rows}


def raw_rows(conn) -> int:
    from pipelines.catalog import load_catalog

    return sum(conn.execute(f'select count(*) from raw."{t.table_name}"').fetchone()[0] for t in load_catalog().tables)


def replicate(source: Path, target: Path, schools: int) -> int:
    """Copy the demo warehouse and add copies of its colleges until there are `schools`; returns raw rows."""
    import duckdb

    from pipelines.catalog import load_catalog

    shutil.copyfile(source, target)
    conn = duckdb.connect(str(target))
    codes = [code for (code,) in conn.execute("select school_code from ref.schools order by 1").fetchall()]
    copies = []
    for index in range(schools - len(codes)):
        copies.append((codes[index % len(codes)], f"2{index // len(codes):01d}{index % len(codes):03d}"))
    conn.execute("create temp table copies (source varchar, target varchar)")
    conn.executemany("insert into copies values (?, ?)", copies)
    tables = [f'raw."{t.table_name}"' for t in load_catalog().tables] + ["raw.ingest_log", "ref.schools"]
    for table in tables:
        conn.execute(
            f"insert into {table} by name select copies.target as school_code, t.* exclude (school_code) "
            f"from {table} as t join copies on t.school_code = copies.source"
        )
    rows = raw_rows(conn)
    conn.close()
    return rows


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux; ru_maxrss would also count the parent's
    peak, inherited through fork), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(warehouse: str, cold: bool) -> None:
    """Run every quality check once on `warehouse` (`cold`: with the suite results cache emptied
    first); print a JSON line of phase timings."""
    started = time.perf_counter()
    import duckdb
    import polars as pl

    from pipelines.quality.calendar import quality_params
    from pipelines.quality.gx_runner import suite_issues
    from pipelines.quality.inputs import prepare_inputs
    from pipelines.quality.issues import write_issues
    from pipelines.quality.messages import issues_frame
    from pipelines.quality.rules import table_status_params
    from pipelines.quality.sql_checks import sql_issues
    from pipelines.sql import run_sql

    imports_s = time.perf_counter() - started  # dagster, duckdb, polars: loaded already in a pipeline run
    conn = duckdb.connect(warehouse)
    if cold:
        conn.execute("drop table if exists quality.suite_results_cache")
    params = quality_params(dt.date.fromisoformat(AS_OF))
    t0 = time.perf_counter()
    prepare_inputs(conn, params)
    suites = issues_frame(suite_issues(conn, params))
    t1 = time.perf_counter()
    sql = sql_issues(conn, params)
    write_issues(conn, pl.concat([suites, sql]))
    t2 = time.perf_counter()
    run_sql(conn, "quality/table_status", table_status_params(params.rules))
    run_sql(conn, "quality/excluded_rows")
    run_sql(conn, "quality/element_data_status")
    t3 = time.perf_counter()
    issues = conn.execute("select count(*), count(*) filter (where severity = 'error') from quality.issues").fetchone()
    digest = conn.execute(
        "select md5(string_agg(t::varchar, chr(10) order by t::varchar)) from quality.issues as t"
    ).fetchone()[0]
    conn.close()
    print(
        json.dumps(
            {
                "gx_imported": "great_expectations" in sys.modules,
                "suites_s": t1 - t0,
                "sql_checks_s": t2 - t1,
                "verdicts_s": t3 - t2,
                "imports_s": imports_s,
                "total_s": time.perf_counter() - started,
                "cpu_s": time.process_time(),  # every thread's, DuckDB's included: comparable on a loaded machine
                "issues": issues[0],
                "errors": issues[1],
                "digest": digest,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def measure(warehouse: Path, cold: bool) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(warehouse), *(["--cold"] if cold else [])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def report(schools: int, years: list[int], rows: int, run: str, figures: dict, ingest: float, source: str) -> None:
    print(
        f"quality {schools:>4} colleges × {len(years)} years ({rows:,} raw rows), {run}: "
        f"total {figures['total_s']:.1f} s (module imports {figures['imports_s']:.1f}, suites {figures['suites_s']:.1f}"
        f"{' incl. GX import' if figures['gx_imported'] else ', GX not imported'}, "
        f"SQL checks {figures['sql_checks_s']:.1f}, verdicts {figures['verdicts_s']:.1f}), CPU {figures['cpu_s']:.1f} s; "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB; {figures['issues']} issues ({figures['errors']} errors); "
        f"{figures['total_s'] / ingest:.0%} of the ingest time ({source} {ingest:.1f} s)",
        flush=True,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, nargs="+", default=[47, 300])
    parser.add_argument("--years", default="2022-2024")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--ingest-seconds",
        nargs="*",
        default=[],
        metavar="SCHOOLS=SECONDS",
        help="ingest time to compare with for a province size (default: demo measured, others scaled)",
    )
    parser.add_argument("--child")
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.cold)
        return 0
    given = {int(k): float(v) for k, _, v in (item.partition("=") for item in args.ingest_seconds)}
    years = parse_years(args.years)
    sizes = sorted(args.schools)
    with tempfile.TemporaryDirectory(prefix="bench_quality_") as tmp:
        home = Path(tmp)
        demo = build_demo(home, sizes[0], years, args.seed, args.jobs)
        print(
            f"demo province: {sizes[0]} colleges × {len(years)} years, {demo['raw_rows']:,} raw rows; "
            f"synth {demo['synth_s']:.1f} s, ingest {demo['ingest_s']:.1f} s",
            flush=True,
        )
        for schools in sizes:
            if schools == sizes[0]:
                warehouse, rows = home / "work.duckdb", demo["raw_rows"]
            else:
                warehouse = home / f"province_{schools}.duckdb"
                rows = replicate(home / "work.duckdb", warehouse, schools)
            if schools in given:
                ingest, source = given[schools], "given"
            elif schools == sizes[0]:
                ingest, source = demo["ingest_s"], "measured"
            else:
                ingest, source = demo["ingest_s"] * rows / demo["raw_rows"], "scaled"
            cold = measure(warehouse, cold=True)
            report(schools, years, rows, "cold", cold, ingest, source)
            warm = measure(warehouse, cold=False)
            report(schools, years, rows, "warm", warm, ingest, source)
            if warm["digest"] != cold["digest"]:
                print(
                    f"ERROR: warm and cold runs wrote different quality.issues ({warm['digest']} != {cold['digest']})"
                )
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
