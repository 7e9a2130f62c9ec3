"""Peak memory of an ingest that meets the bombs of issue 12 beside good deliveries.

Usage: `python benchmarks/bench_ingest_limits.py [--schools 6] [--bomb-gb 2.6] [--csv-mb 50] [--seed 2026]`

A province of `--schools` colleges (one year, `pipelines.demo.province.generate_province`) is generated into
a temporary data home, and beside it:

- a shared-strings bomb: `13829/2024/表6.1 校内专任教师.xlsx`, a workbook whose
  `xl/sharedStrings.xml` expands to `--bomb-gb` GB (written streaming with zipfile; before the
  workbook limits, such a file took 3.56 GB to read);
- a one-line CSV: `13829/2024/6-1 校内专任教师.csv` of `--csv-mb` MB (a 50 MB one passed 5 GB).

The ingest runs in a fresh child process with its worker pool; printed are its wall time, its
peak RSS (the largest of the run, its workers and their fork server: `ru_maxrss` of the process
and of its reaped children, and each worker's own report), and what happened to the two files.
Target: under 1 GB for the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

BOMB = "13829/2024/表6.1 校内专任教师.xlsx"
LONG_CSV = "13829/2024/6-1 校内专任教师.csv"


def write_one_line_csv(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = b"1," * (1 << 19)
    with open(path, "wb") as stream:
        for _ in range(max(1, size // len(cells))):
            stream.write(cells)


def child(home: Path) -> None:
    import duckdb

    from pipelines.ingest import ingest_inbox
    from pipelines.settings import get_settings

    os.environ["ZHENGAI_HOME"] = str(home)
    start = time.perf_counter()
    with duckdb.connect(str(home / "warehouse.duckdb")) as conn:
        summary = ingest_inbox(conn, get_settings())
        reasons = dict(
            conn.execute(
                "select source_file, reason from raw.ingest_log where source_file in (?, ?)", [BOMB, LONG_CSV]
            ).fetchall()
        )
    seconds = time.perf_counter() - start
    workers = [peak for pid, (_, peak) in summary.processes.items() if pid != os.getpid()]
    peak = max(
        [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)] + workers
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": peak / 1024,
                "workers": len(workers),
                "loaded": summary.loaded,
                "quarantined": summary.quarantined,
                "reasons": reasons,
            }
        )
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=6)
    parser.add_argument("--bomb-gb", type=float, default=2.6)
    parser.add_argument("--csv-mb", type=float, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)  # run_all.py passes every script the same options
    if args.child:
        child(args.child)
        return 0
    from ingest_fixtures import write_shared_strings_bomb
    from pipelines.demo.province import generate_province

    with tempfile.TemporaryDirectory(prefix="bench_ingest_limits_") as tmp:
        home = Path(tmp)
        generate_province(
            home / "inbox",
            schools=args.schools,
            years=[2024],
            seed=args.seed,
            defects=False,
            registry=home / "registry" / "schools.csv",
        )
        start = time.perf_counter()
        write_shared_strings_bomb(home / "inbox" / BOMB, int(args.bomb_gb * 1e9))
        write_one_line_csv(home / "inbox" / LONG_CSV, int(args.csv_mb * 1e6))
        print(
            f"{args.schools} colleges + a {(home / 'inbox' / BOMB).stat().st_size / 1e6:.1f} MB workbook whose shared "
            f"strings expand to {args.bomb_gb} GB + a {args.csv_mb:.0f} MB one-line CSV "
            f"(built in {time.perf_counter() - start:.1f} s)",
            flush=True,
        )
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(home)], check=True, capture_output=True, text=True
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        print(
            f"  ingest: wall {figures['seconds']:.2f} s, peak RSS {figures['peak_rss_mb']:.0f} MB "
            f"(target < 1024 MB), {figures['workers']} workers, {figures['loaded']} loaded, "
            f"{figures['quarantined']} quarantined"
        )
        for source, reason in sorted(figures["reasons"].items()):
            print(f"  {source}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
