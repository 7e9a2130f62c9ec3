"""The server's resident memory under never-ending request headers (issue 12's attack).

Usage: `python benchmarks/bench_serve.py [--clients 20] [--header-mb 50]`

Starts `zhengai serve` in a child process on 127.0.0.1 with an empty data home, opens `--clients`
connections that each send one header value of up to `--header-mb` MB that never ends, and prints
the server's resident memory before and at its peak with every connection open. The issue measured
42 MB → 1.15 GB before headers were bounded; target: growth of a few MB, every connection cut.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from serve_fixtures import never_ending_headers, served

MB = 1024 * 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--header-mb", type=int, default=50)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes every script the same options
    with tempfile.TemporaryDirectory() as home, served(Path(home)) as (process, port):
        figures = never_ending_headers(port, args.clients, args.header_mb * MB, process.pid)
    growth = figures["rss_peak"] - figures["rss_before"]
    print(
        f"{args.clients} clients × never-ending {args.header_mb} MB header: server RSS "
        f"{figures['rss_before'] / MB:.1f} MB → peak {figures['rss_peak'] / MB:.1f} MB (+{growth / MB:.1f} MB); "
        f"{figures['cut']}/{args.clients} connections cut by the server after {figures['sent'] / MB:.1f} MB sent in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
