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
    synth = subparsers.add_parser(
        "synth", help="生成演示省份的状态数据导出文件与院校名册 / generate the demo province's exports and registry"
    )
    synth.add_argument("--out", required=True, help="输出文件夹（通常是收件箱）/ output folder (normally the inbox)")
    synth.add_argument("--schools", type=int, default=47, help="学校数 / number of colleges")
    synth.add_argument("--years", default="2022-2024", help="采集年份，如 2022-2024 / collection years")
    synth.add_argument("--seed", type=int, default=2026, help="随机种子：同一种子生成相同文件 / same seed, same bytes")
    synth.add_argument(
        "--defects",
        action="store_true",
        help="每种缺陷与格式变体各注入一次 / inject every defect kind and variant once",
    )
    synth.add_argument(
        "--registry", help="写出的院校名册 CSV（默认：数据目录的名册）/ registry CSV to write (default: the home's)"
    )
    synth.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="工作进程数，0 为每个 CPU 一个（输出相同）/ worker processes, 0 = one per CPU",
    )
    synth.add_argument(
        "--layouts",
        choices=LAYOUT_CHOICES,
        default="v2",
        help="v2：全部为 V2 格式；mixed：部分为网上填报系统格式 / v2: all in the V2 layout; mixed: some in the online one",
    )
    synth.set_defaults(func=cmd_synth)


if __name__ == "__main__":
    from pipelines.cli import main

    sys.exit(main(["synth", *sys.argv[1:]]))
