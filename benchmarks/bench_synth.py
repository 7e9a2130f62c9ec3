"""Time and peak memory of the demo province generator (`zhengai synth`).

Usage: `python benchmarks/bench_synth.py [--schools 47 300] [--years 2022-2024] [--jobs 0]`

Each size is generated with defects into a temporary folder in a fresh child process, so the
peak resident memory (ru_maxrss of the children) is the generator's own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
from pathlib import Path
from pipelines.demo.province import generate_province, parse_years
out, schools, years, jobs = Path(sys.argv[1]), int(sys.argv[2]), parse_years(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
manifest = generate_province(out / "inbox", schools, years, 2026, True, registry=out / "schools.csv", jobs=jobs)
print(json.dumps({"seconds": time.perf_counter() - started, "files": len(manifest["files"]),
                  "rows": sum(entry["rows"] for entry in manifest["files"])}))
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, nargs="+", default=[47, 300])
    parser.add_argument("--years", default="2022-2024")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes, 0 = one per CPU")
    args = parser.parse_args(argv)
    jobs = args.jobs or multiprocessing.cpu_count()
    print(f"synth benchmark: years {args.years}, {jobs} worker processes")
    for schools in args.schools:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", CHILD, folder, str(schools), args.years, str(jobs)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - started
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"{schools:>4} colleges: {figures['seconds']:.1f}s generating ({wall:.1f}s wall with start-up), "
            f"{figures['files']} files, {figures['rows']} rows, {size / 1e6:.0f} MB, "
            f"peak RSS of a child so far {peak:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
