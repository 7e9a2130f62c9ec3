"""Run every benchmark script in this folder in turn (`make bench`); each prints its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ORDER = ("bench_synth.py", "bench_ingest.py", "bench_quality.py", "bench_marts.py", "bench_site.py")
# run alone, by hand: a national province takes most of an hour to generate and run three times
ALONE = ("bench_national.py",)


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    # the pipeline's order first, then any benchmark added since
    scripts = [here / name for name in ORDER if (here / name).exists()]
    scripts += sorted(p for p in here.glob("bench_*.py") if p.name not in ORDER + ALONE)
    failures = 0
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        failures += subprocess.call([sys.executable, str(script), *argv]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
