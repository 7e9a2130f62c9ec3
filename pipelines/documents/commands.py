"""`zhengai report analysis` and `zhengai dossier`: the analysis report and the pre-review dossier of one
college (`--school`) or of every college of a year's sampling plan (`--sampled`), each written as
`<code>.html` and `<code>.docx`. A college or year the warehouse does not hold, or a year without a plan,
is one readable line and exit code 2; with `--sampled`, a college that cannot be written is said and the
others are still written (exit code 1)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pipelines.documents.blocks import Document, render_html
from pipelines.documents.sources import DocumentRequestError
from pipelines.documents.word import write_docx
from pipelines.files import atomic_write_text
from pipelines.secretariat.inputs import published_warehouse
from pipelines.secretariat.sampling import plan_path
from pipelines.settings import get_settings

Builder = Callable[[object, str, int], Document]


def write_document(document: Document, folder: Path, school_code: str) -> tuple[Path, Path]:
    html = folder / f"{school_code}.html"
    atomic_write_text(html, render_html(document))
    return html, write_docx(document, folder / f"{school_code}.docx")


def sampled_plan(year: int) -> dict:
    path = plan_path(year)
    if not path.is_file():
        raise DocumentRequestError(
            f"没有 {year} 年的抽样计划（{path}）：请先运行 zhengai sample / no sampling plan for that year"
        )
    return json.loads(path.read_text(encoding="utf-8"))["plan"]


def write_all(build: Builder, targets: list[tuple[str, int]], folder_of: Callable[[int], Path]) -> int:
    """Each (college, year) written; with several targets a failing one is reported and the rest go on."""
    failed = 0
    with published_warehouse() as conn:
        for school_code, year in targets:
            try:
                document = build(conn, school_code, year)
            except DocumentRequestError as error:
                if len(targets) == 1:
                    raise
                print(f"  未写出 {school_code}：{error}", file=sys.stderr)
                failed += 1
                continue
            for path in write_document(document, folder_of(year), school_code):
                print(path)
    return 1 if failed else 0


def cmd_analysis(args: argparse.Namespace) -> int:
    from pipelines.documents.analysis import build_analysis

    if args.sampled:
        plan = sampled_plan(args.year)
        targets = [(row["school_code"], plan["risk_year"]) for row in plan["selected"]]
        print(f"{args.year} 年抽样计划的 {len(targets)} 所院校，{plan['risk_year']} 年状态数据分析报告：")
    else:
        targets = [(args.school, args.year)]
    return write_all(build_analysis, targets, lambda year: out_folder(args.out, "analysis", year))


def cmd_dossier(args: argparse.Namespace) -> int:
    from pipelines.documents.dossier import build_dossier

    if args.sampled:
        plan = sampled_plan(args.year)
        targets = [(row["school_code"], args.year) for row in plan["selected"]]
        print(f"{args.year} 年抽样计划的 {len(targets)} 所院校，预审诊断材料：")
    else:
        targets = [(args.school, args.year)]
    return write_all(build_dossier, targets, lambda year: out_folder(args.out, "dossiers", year))


def out_folder(out: str | None, kind: str, year: int) -> Path:
    return Path(out) if out else get_settings().exports / kind / str(year)


def add_target_arguments(parser: argparse.ArgumentParser, year_help: str) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--school", help="学校代码")
    which.add_argument("--sampled", action="store_true", help="该年度抽样计划中的全部院校")
    parser.add_argument("--year", type=int, required=True, help=year_help)
    parser.add_argument("--out", help="输出文件夹（默认见上）")


def register(subparsers) -> None:
    """`zhengai report analysis` and `zhengai dossier`."""
    report = subparsers.add_parser("report", help="生成报告：人才培养工作状态数据分析报告")
    reports = report.add_subparsers(dest="report_command", required=True, title="报告 reports")
    analysis = reports.add_parser(
        "analysis",
        help="某校某年的人才培养工作状态数据分析报告（.html 与可编辑的 .docx）",
        description=(
            "由已发布的数据仓库生成人才培养工作状态数据分析报告：基本办学条件、各诊断要素的指标及三年趋势、"
            "在同类院校中的匿名位置、数据质量、状态数据不能说明的内容。默认写入 exports/analysis/<年度>/<学校代码>.html、.docx。"
            "--sampled 时为 --year 年抽样计划中的院校，按该计划所用的风险数据年度生成。"
        ),
    )
    add_target_arguments(analysis, "采集年度（--sampled 时为抽样计划的年度）")
    analysis.set_defaults(func=cmd_analysis)

    dossier = subparsers.add_parser(
        "dossier",
        help="诊改复核预审诊断材料（专家用，.html 与 .docx）",
        description=(
            "为诊改专家组生成某校的预审诊断材料：学校概况、复核历史、逐要素对照学校自我诊断与数据预警、证据、"
            "数据质量和自评对照提示，最后是按 reference/dossier_focus_rules.csv 排序的建议现场诊断重点。"
            "默认写入 exports/dossiers/<年度>/<学校代码>.html、.docx。"
        ),
    )
    add_target_arguments(dossier, "复核年度（使用该年及以前最近的状态数据和自我诊改报告）")
    dossier.set_defaults(func=cmd_dossier)
