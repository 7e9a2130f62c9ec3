"""`zhengai synth`: the demo province's exports and registry, from the command line."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

from pipelines.demo.layouts import LAYOUT_CHOICES
from pipelines.demo.province import generate_province, parse_years
from pipelines.settings import get_settings


def cmd_synth(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    print(
        f"zhengai synth: {args.schools} colleges, years {args.years}, seed {args.seed}"
        f"{', with defects' if args.defects else ''} -> {out}",
        flush=True,
    )
    registry = Path(args.registry) if args.registry else get_settings().registry
    manifest = generate_province(
        out,
        args.schools,
        parse_years(args.years),
        args.seed,
        args.defects,
        registry=registry,
        jobs=args.jobs or multiprocessing.cpu_count(),
        progress=lambda line: print(line, flush=True),
        layouts=args.layouts,
    )
    rows = sum(entry["rows"] for entry in manifest["files"])
    kinds = sorted({record["kind"] for record in manifest["defects"]})
    print(f"\n{len(manifest['files'])} files, {rows} data rows in {time.perf_counter() - started:.1f}s")
    print(
        f"defects: {len(manifest['defects'])} ({', '.join(kinds) or 'none'}); "
        f"{len(manifest['clean_schools'])} clean colleges"
    )
    print(f"manifest: {out / 'manifest.json'}")
    print(f"registry: {registry}")
    return 0


def register(subparsers) -> None:
    synth = subparsers.add_parser("synth", help="generate the demo province's status-data exports and registry")
    synth.add_argument("--out", required=True, help="output folder (normally the inbox)")
    synth.add_argument("--schools", type=int, default=47, help="number of colleges (default 47)")
    synth.add_argument("--years", default="2022-2024", help="collection years, e.g. 2022-2024 (default)")
    synth.add_argument("--seed", type=int, default=2026)
    synth.add_argument("--defects", action="store_true", help="inject every defect kind and format variant once")
    synth.add_argument("--registry", help="registry CSV to write (default: the data home's registry)")
    synth.add_argument("--jobs", type=int, default=0, help="worker processes, 0 = one per CPU (output is identical)")
    synth.add_argument(
        "--layouts",
        choices=LAYOUT_CHOICES,
        default="v2",
        help="v2: every export in the V2 layout (default); mixed: a share in the online system's layout",
    )
    synth.set_defaults(func=cmd_synth)


if __name__ == "__main__":
    from pipelines.cli import main

    sys.exit(main(["synth", *sys.argv[1:]]))
