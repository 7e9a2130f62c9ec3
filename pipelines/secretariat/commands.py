"""The secretariat's commands: `zhengai review conclude|import|template|followup`, `zhengai sample`, `zhengai cycle`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from pipelines.files import atomic_write_bytes
from pipelines.secretariat.cycle import cycle_inputs
from pipelines.secretariat.exports import keep_earlier_plan, record_plan, write_template
from pipelines.secretariat.followups import register_followup
from pipelines.secretariat.inputs import (
    element_sort_key,
    load_colleges,
    load_element_sets,
    reviews_dir,
    today,
)
from pipelines.secretariat.review import (
    CollegeFindings,
    Conclusion,
    default_review_date,
    read_findings,
    record_results,
    summarise,
)
from pipelines.secretariat.rules import improvement_deadline, load_rules
from pipelines.secretariat.sampling import gather_inputs, plan_path, propose_plan, sampling_dir
from pipelines.settings import get_settings

# --- review --------------------------------------------------------------------------------------


def measures_text(item: Conclusion) -> str:
    return item.measures + (f"（缺：{'、'.join(item.lacking)}）" if item.lacking else "")


def conclusions_text(conclusions: list[Conclusion], names: dict[str, str]) -> str:
    lines = [f"{'学校代码':<8}{'要素数':>6}{'相符数':>6}  措施  结论  学校名称"]
    for item in conclusions:
        lines.append(
            f"{item.school_code:<12}{item.elements:>8}{item.matched:>8}  {item.measures:<4}  "
            f"{item.conclusion:<4}  {names.get(item.school_code, '')}"
        )
    weak = [f"  {item.school_code}：改进措施{measures_text(item)}" for item in conclusions if item.lacking]
    return "\n".join(lines + weak)


def read_and_validate(path: Path) -> tuple[list[CollegeFindings], dict[str, str]]:
    colleges = load_colleges()
    return read_findings(path, load_element_sets(), colleges), colleges


def cmd_conclude(args: argparse.Namespace) -> int:
    findings, colleges = read_and_validate(Path(args.file))
    conclusions = summarise(findings, load_rules())
    if args.json:
        print(json.dumps([item.as_json() for item in conclusions], ensure_ascii=False, indent=2))
    else:
        print(conclusions_text(conclusions, colleges))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    review_date = dt.date.fromisoformat(args.date) if args.date else default_review_date(args.year, today())
    if review_date.year != args.year:
        raise ValueError(f"复核日期 {review_date} 不在 {args.year} 年 / review date outside year {args.year}")
    findings, colleges = read_and_validate(source)
    rules = load_rules()
    conclusions = summarise(findings, rules)
    imported_at = dt.datetime.now(dt.UTC).astimezone()
    folder = reviews_dir() / str(args.year)
    replaced = [c.school_code for c in conclusions if (folder / f"{c.school_code}.csv").exists()]
    paths = record_results(findings, args.year, review_date, source.name, imported_at)
    print(conclusions_text(conclusions, colleges))
    for item in conclusions:
        deadline = improvement_deadline(item.conclusion, review_date, rules)
        if deadline:
            print(f"  {item.school_code}：{item.conclusion}，整改期至 {deadline}，期满须申请复核")
    print(f"\n已记录 {len(paths)} 所学校的 {args.year} 年复核结果于 {folder}")
    if replaced:
        print(f"（替换了此前导入的 {'、'.join(replaced)} 的 {args.year} 年结果）")
    print("下次 `zhengai run` 后进入 mart.review_results 与 mart.review_conclusions。")
    return 0


def cmd_template(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else get_settings().exports / "review" / "复核结果模板.xlsx"
    element_sets = load_element_sets()
    rows, measures_rows = [], []
    if args.school:
        colleges = load_colleges()
        unknown = [code for code in args.school if code not in colleges]
        if unknown:
            raise ValueError(f"院校名册中没有 {', '.join(unknown)} / unknown colleges")
        for code in args.school:
            elements = sorted(element_sets.of(code).items(), key=lambda item: element_sort_key(item[0]))
            rows += [
                {"school_code": code, "school_name": colleges[code], "element_code": element, "element_name": name}
                for element, name in elements
            ]
            measures_rows.append({"school_code": code, "school_name": colleges[code]})
    standard = sorted(element_sets.standard.items(), key=lambda item: element_sort_key(item[0]))
    write_template(out, rows, measures_rows, standard)
    print(f"复核结果模板已写入 {out}（复核结果 {len(rows)} 行、改进措施 {len(measures_rows)} 行预填）")
    return 0


def register_review(subparsers) -> None:
    review = subparsers.add_parser(
        "review", help="专家复核结果：计算结论、导入、模板、整改与回访登记 / expert review results"
    )
    commands = review.add_subparsers(dest="review_command", required=True)

    conclude_cmd = commands.add_parser("conclude", help="计算每所学校的复核结论（不记录）")
    conclude_cmd.add_argument("file", help="复核结果 CSV 或 Excel 模板")
    conclude_cmd.add_argument("--json", action="store_true", help="以 JSON 输出")
    conclude_cmd.set_defaults(func=cmd_conclude)

    import_cmd = commands.add_parser("import", help="记录复核结果与结论（来源文件存于数据目录 reviews/）")
    import_cmd.add_argument("file", help="复核结果 CSV 或 Excel 模板")
    import_cmd.add_argument("--year", type=int, required=True, help="复核年份")
    import_cmd.add_argument("--date", help="复核日期 YYYY-MM-DD（默认：当年为今天，其他年份为 12 月 31 日）")
    import_cmd.set_defaults(func=cmd_import)

    template_cmd = commands.add_parser("template", help="写出专家填写用的 Excel 模板")
    template_cmd.add_argument("--out", help="输出路径（默认 exports/review/复核结果模板.xlsx）")
    template_cmd.add_argument("--school", action="append", help="为该校预填其全部诊断要素行与一行改进措施（可重复）")
    template_cmd.set_defaults(func=cmd_template)

    register_followup(commands)


# --- sampling ------------------------------------------------------------------------------------


def plan_text(plan: dict) -> str:
    lines = [
        f"{plan['year']} 年复核抽样计划（周期 {plan['cycle_start']}—{plan['cycle_end']}，种子 {plan['seed']}，"
        f"风险数据 {plan['risk_year']} 年）",
        f"在办 {plan['active_colleges']} 所，周期至少复核 {plan['cycle_target']}"
        f" 所（各年 {'|'.join(map(str, plan['year_quotas']))}），"
        f"此前已覆盖 {plan['covered_before']} 所；本年新抽 {plan['places']}"
        f" 所：风险与材料提交 {plan['risk_places']}、随机 {plan['random_places']}",
        "",
    ]
    for row in plan["selected"]:
        lines.append(
            f"{row['rank']:>3}. {row['school_code']} {row['name_zh']}  [{row['reason_zh']}] {row['rationale_zh']}"
        )
        lines.extend(f"       · {reason}" for reason in row["top_reasons"])
        lines.extend(f"       · 材料提交：{reason}" for reason in row.get("submission_reasons") or [])
    if not plan["selected"]:
        lines.append("（本年没有需要复核的院校）")
    for note in plan["notes"]:
        lines.append(f"注意：{note}")
    return "\n".join(lines)


def parse_as_of(text: str | None) -> dt.date:
    return dt.date.fromisoformat(text) if text else today()


def is_redraw(previous: dict | None, plan: dict) -> bool:
    """Another seed or another selection than the recorded plan of the year (re-recording the same plan is not)."""
    return previous is not None and (previous["seed"] != plan["seed"] or previous["selected"] != plan["selected"])


def cmd_sample(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    inputs = gather_inputs(args.cycle_start, args.year, args.seed, as_of, args.risk_year)
    plan = propose_plan(inputs).as_json()
    earlier = plan_path(args.year)
    record = json.loads(earlier.read_text(encoding="utf-8")) if earlier.is_file() else None
    previous = record["plan"] if record else None
    folder = sampling_dir() / str(args.year)
    versions = record.get("versions") if record else None
    if is_redraw(previous, plan):
        if not (args.reason or "").strip():
            raise ValueError(
                f'{args.year} 年已记录抽样计划（种子 {previous["seed"]}）：重新抽样须加 --reason "原因"，原计划将保留 '
                "/ a recorded plan is redrawn only with --reason"
            )
        redrawn_at = dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
        versions = keep_earlier_plan(folder, record, args.reason.strip(), redrawn_at)
    paths = record_plan(folder, inputs.as_json(), plan, versions)
    if args.json:
        print(json.dumps(plan["selected"], ensure_ascii=False, indent=2))
    else:
        print(plan_text(plan))
        print(f"\n计划已记录：{paths['json']}\nExcel：{paths['xlsx']}\n网页：{paths['html']}")
    if is_redraw(previous, plan):
        print(
            f"注意：{args.year} 年计划已重新抽取（原因：{args.reason.strip()}），原计划保留为第 {len(versions)} 版："
            f"{folder / versions[-1]['folder']}",
            file=sys.stderr,
        )
    return 0


def cycle_text(status: dict) -> str:
    track = "按计划推进" if status["on_track"] else "落后于覆盖要求"
    lines = [
        f"复核周期 {status['cycle_start']}—{status['cycle_end']}（截至 {status['as_of']}）",
        f"在办院校 {status['active_colleges']} 所，周期至少复核 {status['cycle_target']} 所；"
        f"已复核 {status['reviewed']} 所，连同已列入计划的共 {status['covered']}"
        f" 所，到本年应达 {status['expected_by_now']} 所：{track}",
        f"须复核（整改期已满且已申请）{status['re_review_due']} 所",
        "",
    ]
    for row in status["colleges"]:
        if row["reviewed_years"] or row["planned_years"] or row["re_review_due"]:
            steps = "；".join(row.get("followups_zh") or [])
            lines.append(
                f"{row['school_code']} {row['name_zh']}：{row['status_zh']}" + (f"（{steps}）" if steps else "")
            )
    return "\n".join(lines + plan_versions_text(status.get("plan_versions") or []))


def plan_versions_text(versions: list[dict]) -> list[str]:
    """The cycle's plans, a line per version: a redrawn one says when and why it was replaced."""
    lines = ["", "抽样计划版本："] if versions else []
    for version in versions:
        head = f"{version['year']} 年第 {version['version']} 版（种子 {version['seed']}，入选 {'、'.join(version['selected'])}）"
        if version["current"]:
            lines.append(f"{head}：现行")
        else:
            lines.append(f"{head}：已于 {version['redrawn_at']} 重新抽取，原因：{version['redraw_reason']}")
    return lines


def cmd_cycle(args: argparse.Namespace) -> int:
    from dashboards.sampling_report import build_cycle_html

    status = cycle_inputs(args.cycle_start, parse_as_of(args.as_of))
    path = sampling_dir() / f"cycle-{status['cycle_start']}.html"
    atomic_write_bytes(path, build_cycle_html(status).encode("utf-8"))
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        print(cycle_text(status))
        print(f"\n网页：{path}")
    return 0


def register_sampling(subparsers) -> None:
    sample = subparsers.add_parser("sample", help="提出某年的复核抽样计划并记录 / propose a sampling plan")
    sample.add_argument("--cycle-start", type=int, required=True, help="周期起始年份 Y0")
    sample.add_argument("--year", type=int, required=True, help="抽样年份 Y（Y0 ≤ Y < Y0+周期年数）")
    sample.add_argument("--seed", type=int, required=True, help="随机抽取的种子（记录在计划中）")
    sample.add_argument("--as-of", help="决定日期 YYYY-MM-DD（默认今天）")
    sample.add_argument("--risk-year", type=int, help="所用风险数据的年份（默认 Y-1 及以前最近一年）")
    sample.add_argument("--json", action="store_true", help="以 JSON 输出入选院校")
    sample.add_argument(
        "--reason", help="重新抽取已记录年份的计划时必填：原因（原计划保留）/ why a recorded year is redrawn"
    )
    sample.set_defaults(func=cmd_sample)

    cycle = subparsers.add_parser("cycle", help="复核周期进度：已复核、结论、须复核、覆盖要求 / cycle view")
    cycle.add_argument("--cycle-start", type=int, help="周期起始年份（默认：截至日期所在周期）")
    cycle.add_argument("--as-of", help="截至日期 YYYY-MM-DD（默认今天）")
    cycle.add_argument("--json", action="store_true", help="以 JSON 输出")
    cycle.set_defaults(func=cmd_cycle)


def register(subparsers) -> None:
    """The secretariat's commands: `review` (results and conclusions), then `sample` and `cycle`."""
    register_review(subparsers)
    register_sampling(subparsers)
