"""`zhengai experts list | assign | demo-pool`: the expert pool and review groups from the command
line (the rules and the assignment are in pipelines/secretariat/experts.py)."""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.secretariat.experts import (
    KINDS,
    demo_pool_rows,
    form_groups,
    gather_inputs,
    load_categories,
    load_expert_rules,
    load_pool,
    pool_path,
    record_groups,
    write_pool,
)


def cmd_list(args: argparse.Namespace) -> int:
    pool = load_pool()
    if args.json:
        print(json.dumps(pool, ensure_ascii=False, indent=1))
        return 0
    active = [e for e in pool if e["status"] == "active"]
    print(f"专家库 {pool_path()}：{len(pool)} 人，在库 {len(active)} 人，除名 {len(pool) - len(active)} 人")
    for kind in KINDS:
        print(f"  {kind}：{sum(e['kind'] == kind for e in active)} 人")
    for expert in pool:
        state = "在库" if expert["status"] == "active" else f"除名 {expert['removed_on']}"
        print(f"{expert['expert_id']}\t{expert['name_zh']}\t{expert['kind']}\t{expert['employer_name']}\t{state}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    inputs = gather_inputs(args.year, args.seed)
    groups = form_groups(inputs)
    paths = record_groups(inputs, groups)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "school_code": g["school_code"],
                        "experts": [
                            {"expert_id": m["expert_id"], "kind": m["kind"], "role": m["role"]} for m in g["experts"]
                        ],
                        "problems": g["problems"],
                    }
                    for g in groups
                ],
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    for group in groups:
        state = "已组成" if group["formed"] else "未能按规则组成"
        print(f"{group['school_code']} {group['name_zh']}：{state}")
        for member in group["experts"]:
            print(f"  {member['role']} {member['name_zh']}（{member['kind']}，{member['employer_name']}）")
        for problem in group["problems"]:
            print(f"  问题：{problem}")
    print(f"\n已记录：{paths['json']}\nExcel：{paths['xlsx']}\n网页：{paths['html']}")
    return 0 if all(g["formed"] for g in groups) else 1


def cmd_demo_pool(args: argparse.Namespace) -> int:
    from pipelines.registry import load_registry

    path = pool_path()
    if path.exists() and not args.force:
        print(f"zhengai experts demo-pool: {path} 已存在（--force 覆盖）", file=sys.stderr)
        return 2
    rules = load_expert_rules()
    categories = list(dict.fromkeys(load_categories().values()))[:19]
    rows = demo_pool_rows(load_registry().rows, args.size, args.seed, rules.cities, categories)
    write_pool(path, rows)
    print(f"演示专家库已写入 {path}（{len(rows)} 人）")
    return 0


def register(subparsers) -> None:
    experts = subparsers.add_parser("experts", help="专家库与复核专家组 / the expert pool and review groups")
    actions = experts.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="校验并列出专家库 / validate and list the pool")
    listing.add_argument("--json", action="store_true", help="以 JSON 输出 / print JSON")
    listing.set_defaults(func=cmd_list)
    assign = actions.add_parser("assign", help="为当年抽样计划中的每所学校组建专家组 / form the year's groups")
    assign.add_argument("--year", type=int, required=True, help="复核年度（须已有该年的抽样计划）/ review year")
    assign.add_argument(
        "--seed", type=int, required=True, help="随机种子：相同种子得到相同分组 / random seed (same seed, same groups)"
    )
    assign.add_argument("--json", action="store_true", help="以 JSON 输出 / print JSON")
    assign.set_defaults(func=cmd_assign)
    demo = actions.add_parser("demo-pool", help="按院校名册生成演示用专家库 / write a made-up pool for the demo")
    demo.add_argument("--size", type=int, default=45, help="专家人数 / number of experts")
    demo.add_argument("--seed", type=int, default=1, help="随机种子 / random seed")
    demo.add_argument("--force", action="store_true", help="覆盖已有的专家库 / replace an existing pool")
    demo.set_defaults(func=cmd_demo_pool)
