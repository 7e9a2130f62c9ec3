"""The expert pool and the review groups (方案 四(一), 五(二); 细则 三(三)).

`$ZHENGAI_HOME/experts/experts.csv` is the pool the secretariat edits (UTF-8 or GBK, English or
Chinese headers); `load_pool` validates it and names every problem by its row as Excel shows it.
`zhengai experts assign --year Y --seed S` forms one group per college of that year's sampling
plan (`exports/sampling/<Y>/plan.json`) with the rules of `reference/expert_rules.csv`, and records
the groups with every input under `exports/experts/<Y>/` (`groups.json`, `groups.xlsx`,
`groups.html`). `form_groups` is a pure function of those inputs: the same file gives the same groups.

Conflicts of interest are judged against the college's whole succession family (the connected
colleges of the registry's `succeeded` links: predecessors, successors and their other
predecessors), because staff of a merged college now work for its successor.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.registry import CODE_RE, decode
from pipelines.settings import REFERENCE_DIR, get_settings

RULES_FILE = REFERENCE_DIR / "expert_rules.csv"
CATEGORIES_FILE = REFERENCE_DIR / "major_categories.csv"
KINDS = ("行业企业", "高职教育", "教育教学研究")
KIND_ALIASES = {
    **{kind: kind for kind in KINDS},
    **{f"{kind}专家": kind for kind in KINDS},
    "industry": "行业企业",
    "vocational": "高职教育",
    "research": "教育教学研究",
}
STATUS_ALIASES = {
    "active": "active",
    "在库": "active",
    "": "active",
    "removed": "removed",
    "除名": "removed",
    "已除名": "removed",
}
COLUMNS = {
    "expert_id": ("expert_id", "专家编号"),
    "name_zh": ("name_zh", "姓名"),
    "kind": ("kind", "专家类别", "类别"),
    "employer_name": ("employer_name", "工作单位"),
    "employer_code": ("employer_code", "工作单位代码", "单位代码"),
    "past_employer_codes": ("past_employer_codes", "曾任职单位", "曾任职单位代码"),
    "city": ("city", "所在城市", "城市"),
    "specialties": ("specialties", "专业领域"),
    "status": ("status", "状态"),
    "removed_on": ("removed_on", "除名日期"),
    "removed_reason": ("removed_reason", "除名原因"),
}
REQUIRED = ("expert_id", "name_zh", "kind")
PAST_RE = re.compile(r"^(\d{5}):(\d{4})-(\d{4})?$")
ROLE_LEADER, ROLE_MEMBER = "组长", "成员"
SHOWN_PROBLEMS = 30


class PoolError(ValueError):
    """The pool cannot be used; the message names every problem, one per line."""


def pool_path() -> Path:
    return get_settings().home / "experts" / "experts.csv"


def experts_dir() -> Path:
    return get_settings().exports / "experts"


# --- the pool ------------------------------------------------------------------------------------


def header_positions(header: list[str]) -> dict[str, int]:
    aliases = {alias.lower(): column for column, names in COLUMNS.items() for alias in names}
    positions: dict[str, int] = {}
    for index, text in enumerate(header):
        column = aliases.get(text.strip().lstrip("\ufeff").lower())
        if column:
            positions.setdefault(column, index)
    return positions


def past_employers(text: str) -> tuple[list[dict], list[str]]:
    """`code:YYYY-YYYY|…` (an open end `code:YYYY-` means still there) as dicts, and what is wrong."""
    entries, problems = [], []
    for part in (p.strip() for p in text.split("|") if p.strip()):
        match = PAST_RE.match(part)
        if not match:
            problems.append(f"曾任职单位“{part}”应写作 学校代码:起始年-结束年，如 13801:2010-2018")
            continue
        start, end = int(match[2]), int(match[3]) if match[3] else None
        if end is not None and end < start:
            problems.append(f"曾任职单位“{part}”的结束年早于起始年")
        entries.append({"code": match[1], "from": start, "to": end})
    return entries, problems


def row_problems(cells: dict[str, str], seen: dict[str, int], row_no: int, known_codes: set[str] | None) -> list[str]:
    problems = []
    expert_id = cells["expert_id"]
    if not expert_id:
        problems.append("专家编号（expert_id）为空")
    elif seen.setdefault(expert_id, row_no) != row_no:
        problems.append(f"专家编号 {expert_id} 与第 {seen[expert_id]} 行重复")
    if not cells["name_zh"]:
        problems.append("姓名（name_zh）为空")
    if cells["kind"] not in KIND_ALIASES:
        problems.append(f"专家类别“{cells['kind']}”应为 {'、'.join(KINDS)} 之一")
    code = cells["employer_code"]
    if code and not CODE_RE.match(code):
        problems.append(f"工作单位代码“{code}”应为 5 位学校代码（单位不是学校时留空）")
    elif code and known_codes is not None and code not in known_codes:
        problems.append(f"工作单位代码 {code} 不在院校名册中")
    problems += past_employers(cells["past_employer_codes"])[1]
    status = STATUS_ALIASES.get(cells["status"].lower())
    if status is None:
        problems.append(f"状态“{cells['status']}”应为 active（在库）或 removed（除名）")
    if status == "removed":
        try:
            dt.date.fromisoformat(cells["removed_on"])
        except ValueError:
            problems.append(f"已除名的专家须填写除名日期（YYYY-MM-DD），实为“{cells['removed_on']}”")
        if not cells["removed_reason"]:
            problems.append("已除名的专家须填写除名原因（removed_reason）")
    return problems


def typed_expert(cells: dict[str, str]) -> dict:
    return {
        "expert_id": cells["expert_id"],
        "name_zh": cells["name_zh"],
        "kind": KIND_ALIASES[cells["kind"]],
        "employer_name": cells["employer_name"],
        "employer_code": cells["employer_code"] or None,
        "past_employers": past_employers(cells["past_employer_codes"])[0],
        "city": cells["city"] or None,
        "specialties": [s.strip() for s in cells["specialties"].split("|") if s.strip()],
        "status": STATUS_ALIASES[cells["status"].lower()],
        "removed_on": cells["removed_on"] or None,
        "removed_reason": cells["removed_reason"] or None,
    }


def parse_pool(text: str, name: str, known_codes: set[str] | None = None) -> list[dict]:
    """Typed experts of a decoded pool file; PoolError naming every problem by row otherwise."""
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        raise PoolError(f"专家库 {name} 为空")
    positions = header_positions(records[0])
    missing = [column for column in REQUIRED if column not in positions]
    if missing:
        raise PoolError(
            f"专家库 {name} 第 1 行（表头）缺少列：{'、'.join(COLUMNS[c][1] + '（' + c + '）' for c in missing)}"
        )
    rows = [
        (
            row_no,
            {c: record[positions[c]].strip() if c in positions and positions[c] < len(record) else "" for c in COLUMNS},
        )
        for row_no, record in enumerate(records[1:], start=2)
        if any(cell.strip() for cell in record)
    ]
    seen: dict[str, int] = {}
    problems = [
        f"第 {row_no} 行：{p}" for row_no, cells in rows for p in row_problems(cells, seen, row_no, known_codes)
    ]
    if problems:
        more = [f"……另有 {len(problems) - SHOWN_PROBLEMS} 处问题"] if len(problems) > SHOWN_PROBLEMS else []
        raise PoolError(
            f"专家库 {name} 有 {len(problems)} 处问题，请改正后重试:\n  "
            + "\n  ".join(problems[:SHOWN_PROBLEMS] + more)
        )
    if not rows:
        raise PoolError(f"专家库 {name} 没有数据行")
    return [typed_expert(cells) for _, cells in rows]


def load_pool(path: Path | None = None, known_codes: set[str] | None = None) -> list[dict]:
    path = path or pool_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"未找到专家库 {path}：请按 README 建立（或 `zhengai experts demo-pool` 生成演示用专家库）"
        )
    text, _ = decode(path.read_bytes(), path.name)
    return parse_pool(text, path.name, known_codes)


# --- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertRules:
    group_size: int
    min_per_kind: int
    leader_kinds: tuple[str, ...]
    max_groups_per_expert: int
    past_employer_years: int
    same_city_excluded: bool
    main_fields: int
    cities: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {**self.__dict__, "leader_kinds": list(self.leader_kinds), "cities": list(self.cities)}


def parse_expert_rules(values: dict[str, str]) -> ExpertRules:
    try:
        rules = ExpertRules(
            group_size=int(values["group_size"]),
            min_per_kind=int(values["min_per_kind"]),
            leader_kinds=tuple(k for k in str(values["leader_kinds"]).split("|") if k),
            max_groups_per_expert=int(values["max_groups_per_expert"]),
            past_employer_years=int(values["past_employer_years"]),
            same_city_excluded=str(values["same_city_excluded"]).strip() in ("1", "True", "true"),
            main_fields=int(values["main_fields"]),
            cities=tuple(c for c in str(values.get("cities") or "").split("|") if c),
        )
    except (KeyError, ValueError) as error:
        raise ValueError(f"reference/expert_rules.csv 缺少或写错了参数 {error} / bad expert rules") from error
    if rules.group_size < len(KINDS) * rules.min_per_kind:
        raise ValueError(f"expert_rules.csv：group_size {rules.group_size} 小于各类至少人数之和")
    return rules


def expert_rule_values(path: Path = RULES_FILE) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["parameter"]: row["value"] for row in csv.DictReader(handle)}


def load_expert_rules(path: Path = RULES_FILE) -> ExpertRules:
    return parse_expert_rules(expert_rule_values(path))


def load_categories(path: Path = CATEGORIES_FILE) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["code_prefix"]: row["name_zh"] for row in csv.DictReader(handle)}


def field_key(name: str) -> str:
    """Field names compared without 与/大类/类 (2015's 电子信息 is 2021's 电子与信息)."""
    return re.sub(r"与|大类$|类$", "", name.strip())


# --- succession families -------------------------------------------------------------------------


def families(colleges: list[dict]) -> dict[str, set[str]]:
    """Each college code → every college connected to it through `succeeded` links (itself included)."""
    neighbours: dict[str, set[str]] = {c["school_code"]: set() for c in colleges}
    for college in colleges:
        for other in college.get("succeeded") or ():
            neighbours.setdefault(other, set()).add(college["school_code"])
            neighbours[college["school_code"]].add(other)
    result: dict[str, set[str]] = {}
    for code in neighbours:
        if code in result:
            continue
        seen, stack = {code}, [code]
        while stack:
            for other in neighbours[stack.pop()] - seen:
                seen.add(other)
                stack.append(other)
        for member in seen:
            result[member] = seen
    return result


# --- assignment (pure) ---------------------------------------------------------------------------


def college_city(college: dict, cities: tuple[str, ...]) -> tuple[str | None, str]:
    """The college's city: the registry's `city` column, else a city named in its name (a guess, said so)."""
    if college.get("city"):
        return college["city"], "registry"
    found = next((city for city in cities if city in (college.get("name_zh") or "")), None)
    return found, "name" if found else "unknown"


def conflicts(
    expert: dict, college: dict, family: set[str], names: dict[str, str], year: int, rules: ExpertRules
) -> list[str]:
    """Why `expert` may not review `college` in `year` (load aside); empty when nothing stands in the way."""
    why = []
    code = college["school_code"]
    if expert["status"] == "removed":
        why.append(f"已于 {expert['removed_on']} 从专家库除名（{expert['removed_reason']}）")
    employer = expert["employer_code"]
    if employer in family:
        relation = "本校" if employer == code else "本校的前身或后继学校"
        why.append(f"现任职于{relation} {names.get(employer, employer)}（{employer}）")
    for past in expert["past_employers"]:
        recent = past["to"] is None or past["to"] >= year - rules.past_employer_years
        if past["code"] in family and recent:
            place = f"{names.get(past['code'], past['code'])}（{past['code']}）"
            why.append(
                f"自 {past['from']} 年起任职于 {place}，仍在职"
                if past["to"] is None
                else f"曾于 {past['from']}—{past['to']} 年任职于 {place}，离职不满 {rules.past_employer_years} 年"
            )
    if rules.same_city_excluded and college.get("city") and expert["city"] == college["city"]:
        guessed = "，学校所在城市由校名推断" if college.get("city_source") == "name" else ""
        why.append(f"与学校同在{college['city']}（同城回避{guessed}）")
    return why


def match_fields(expert: dict, fields: list[str]) -> list[str]:
    wanted = {field_key(f): f for f in fields}
    return [wanted[key] for key in (field_key(s) for s in expert["specialties"]) if key in wanted]


def shortage_text(
    kind: str | None, need: int, have: int, pool: list[dict], excluded: list[dict], at_limit: list[str]
) -> str:
    """Why a group lacks experts of `kind` (None: any kind): the pool's experts of that kind and what ruled them out."""
    of_kind = [e for e in pool if kind is None or e["kind"] == kind]
    ruled = {x["expert_id"] for x in excluded}
    removed = sum(e["status"] == "removed" for e in of_kind)
    limited = sum(e["expert_id"] in at_limit for e in of_kind)
    conflicted = sum(e["expert_id"] in ruled for e in of_kind) - removed - limited
    label = f"{kind}专家" if kind else "专家"
    return (
        f"{label}不足：需 {need} 人，可用 {have} 人（专家库中{label} {len(of_kind)} 人，其中已除名 {removed} 人、"
        f"回避 {conflicted} 人、本年已达上限 {limited} 人）"
    )


def form_group(
    college: dict,
    pool: list[dict],
    family: set[str],
    names: dict[str, str],
    year: int,
    rules: ExpertRules,
    load: dict[str, int],
    rng: random.Random,
) -> dict:
    """One college's group: conflicts excluded, each kind filled first, then the best-matched, least-loaded."""
    fields = college.get("fields") or []
    excluded, eligible, at_limit = [], [], []
    for expert in pool:
        why = conflicts(expert, college, family, names, year, rules)
        if why:
            excluded.append(
                {"expert_id": expert["expert_id"], "name_zh": expert["name_zh"], "kind": expert["kind"], "why_zh": why}
            )
        elif load.get(expert["expert_id"], 0) >= rules.max_groups_per_expert:
            at_limit.append(expert["expert_id"])
            excluded.append(
                {
                    "expert_id": expert["expert_id"],
                    "name_zh": expert["name_zh"],
                    "kind": expert["kind"],
                    "why_zh": [f"本年已参加 {rules.max_groups_per_expert} 个专家组（每人每年上限）"],
                }
            )
        else:
            eligible.append(expert)
    rng.shuffle(eligible)  # the seeded tie-break among equally matched, equally loaded experts
    eligible.sort(key=lambda e: (-len(match_fields(e, fields)), load.get(e["expert_id"], 0)))
    chosen: list[tuple[dict, str]] = []
    problems = []
    for kind in KINDS:
        of_kind = [e for e in eligible if e["kind"] == kind][: rules.min_per_kind]
        chosen += [(e, f"本组须有{kind}专家") for e in of_kind]
        if len(of_kind) < rules.min_per_kind:
            problems.append(shortage_text(kind, rules.min_per_kind, len(of_kind), pool, excluded, at_limit))
    taken = {e["expert_id"] for e, _ in chosen}
    for expert in eligible:
        if len(chosen) >= rules.group_size:
            break
        if expert["expert_id"] not in taken:
            chosen.append((expert, "补足组员人数"))
            taken.add(expert["expert_id"])
    if len(chosen) < rules.group_size:
        problems.append(shortage_text(None, rules.group_size, len(chosen), pool, excluded, at_limit))
    leader = next(
        (e for kind in rules.leader_kinds for e, _ in chosen if e["kind"] == kind), chosen[0][0] if chosen else None
    )
    members = []
    for expert, why in chosen:
        matched = match_fields(expert, fields)
        field_note = f"专业领域匹配：{'、'.join(matched)}" if matched else "无匹配的专业领域（按负荷与随机次序选取）"
        members.append(
            {
                "expert_id": expert["expert_id"],
                "name_zh": expert["name_zh"],
                "kind": expert["kind"],
                "employer_name": expert["employer_name"],
                "role": ROLE_LEADER if expert is leader else ROLE_MEMBER,
                "why_zh": f"{why}；{field_note}",
            }
        )
        load[expert["expert_id"]] = load.get(expert["expert_id"], 0) + 1
    members.sort(key=lambda m: (m["role"] != ROLE_LEADER, KINDS.index(m["kind"]), m["expert_id"]))
    return {
        "school_code": college["school_code"],
        "name_zh": college.get("name_zh"),
        "fields": fields,
        "city": college.get("city"),
        "formed": not problems,
        "experts": members,
        "excluded": excluded,
        "problems": problems,
    }


def form_groups(inputs: dict) -> list[dict]:
    """Every group of a year from `inputs` (see `gather_inputs`); the same inputs always give the same groups.

    Colleges are served in code order from one generator seeded with the seed, so the load cap K
    binds the same way on every run; a group that cannot meet the rules keeps whom it could get and
    says why in `problems`.
    """
    rules = parse_expert_rules(inputs["rules"])
    colleges = {c["school_code"]: c for c in inputs["colleges"]}
    names = {code: c.get("name_zh") or code for code, c in colleges.items()}
    family_of = families(inputs["colleges"])
    rng = random.Random(inputs["seed"])
    load: dict[str, int] = {}
    groups = []
    for code in sorted(inputs["plan_codes"]):
        college = colleges.get(code) or {"school_code": code, "name_zh": code}
        college = {**college, "fields": inputs["fields"].get(code, [])}
        group = form_group(
            college, inputs["pool"], family_of.get(code, {code}), names, inputs["year"], rules, load, rng
        )
        if rules.same_city_excluded and not college.get("city"):
            group["problems"].append("学校所在城市未知（院校名册无 city 列，校名中也没有城市名）：未能核查同城回避")
            group["formed"] = False
        groups.append(group)
    return groups


# --- inputs and recording ------------------------------------------------------------------------


def college_fields(year: int, top: int, categories: dict[str, str]) -> tuple[dict[str, list[str]], str | None]:
    """Each college's main professional fields (专业大类 with most students in table 7.1, latest year ≤ `year`)
    from the published warehouse, and a note when they cannot be read."""
    from pipelines.secretariat.inputs import published_warehouse

    try:
        with published_warehouse() as conn:
            present = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'majors'"
            ).fetchone()[0]
            if not present:
                return {}, "数据仓库中没有表 7.1 专业设置（raw.majors）：未按专业领域匹配"
            rows = conn.execute(
                "select school_code, left(major_code, 2) as prefix, sum(coalesce(enrolled_students, 0)) as students "
                "from raw.majors where year = (select max(year) from raw.majors where year <= $y) "
                "and major_code is not null group by all order by school_code, students desc, prefix",
                {"y": year},
            ).fetchall()
    except FileNotFoundError as missing:
        return {}, f"{missing}：未按专业领域匹配"
    fields: dict[str, list[str]] = {}
    for school, prefix, _ in rows:
        name = categories.get(prefix)
        chosen = fields.setdefault(school, [])
        if name and name not in chosen and len(chosen) < top:
            chosen.append(name)
    return fields, None


def gather_inputs(year: int, seed: int) -> dict:
    """Everything the groups depend on: the year's plan, the registry, the pool, the rules, the fields."""
    from pipelines.registry import load_registry
    from pipelines.secretariat.sampling import plan_path

    path = plan_path(year)
    if not path.is_file():
        raise FileNotFoundError(f"未找到 {year} 年的抽样计划 {path}：请先运行 `zhengai sample --year {year} …`")
    plan = json.loads(path.read_text(encoding="utf-8"))["plan"]
    rule_values = expert_rule_values()
    rules = parse_expert_rules(rule_values)
    registry = load_registry()
    colleges = []
    for row in registry.rows:
        city, source = college_city(row, rules.cities)
        colleges.append(
            {
                "school_code": row["school_code"],
                "name_zh": row["name_zh"],
                "succeeded": list(row["succeeded"]),
                "city": city,
                "city_source": source,
            }
        )
    fields, fields_note = college_fields(year, rules.main_fields, load_categories())
    pool = load_pool(known_codes={row["school_code"] for row in registry.rows})
    return {
        "year": year,
        "seed": seed,
        "rules": rule_values,
        "plan_file": str(path),
        "plan_codes": [row["school_code"] for row in plan["selected"]],
        "colleges": colleges,
        "fields": fields,
        "fields_note": fields_note,
        "pool": pool,
    }


def record_groups(inputs: dict, groups: list[dict]) -> dict[str, Path]:
    from dashboards.expert_groups import build_groups_html, groups_xlsx_bytes
    from pipelines.files import atomic_write_bytes

    folder = experts_dir() / str(inputs["year"])
    paths = {"json": folder / "groups.json", "xlsx": folder / "groups.xlsx", "html": folder / "groups.html"}
    atomic_write_bytes(paths["xlsx"], groups_xlsx_bytes(groups, inputs))
    atomic_write_bytes(paths["html"], build_groups_html(groups, inputs).encode("utf-8"))
    record = {"inputs": inputs, "groups": groups}
    atomic_write_bytes(paths["json"], json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
    return paths


def recorded_groups(year: int) -> list[dict] | None:
    path = experts_dir() / str(year) / "groups.json"
    return json.loads(path.read_text(encoding="utf-8"))["groups"] if path.is_file() else None


# --- the demo pool -------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韦覃莫蓝农陆"
GIVEN = "建国华明军伟芳丽强磊洋勇艳杰娟涛超秀英霞平刚桂兰志红"
COMPANIES = (
    "广西柳工机械股份有限公司",
    "上汽通用五菱汽车股份有限公司",
    "广西北部湾港股份有限公司",
    "广西玉柴机器股份有限公司",
    "中国电信广西分公司",
    "广西建工集团有限责任公司",
)
RESEARCH = ("广西教育科学研究院", "广西职业技术教育研究中心", "广西大学教育学院")


def demo_pool_rows(
    colleges: list[dict], size: int, seed: int, cities: tuple[str, ...], categories: list[str]
) -> list[dict]:
    """A made-up pool for the demo province: the three kinds in turn, some at the registry's colleges
    (so conflicts occur), some with a recent past employer, two removed."""
    rng = random.Random(seed)
    rows = []
    for index in range(size):
        kind = KINDS[index % len(KINDS)]
        college = rng.choice(colleges) if colleges else None
        at_college = kind == "高职教育" and college is not None
        past = rng.choice(colleges) if colleges and rng.random() < 0.3 else None
        removed = index in (size - 1, size - 2)
        rows.append(
            {
                "expert_id": f"E{index + 1:04d}",
                "name_zh": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
                "kind": kind,
                "employer_name": college["name_zh"]
                if at_college
                else rng.choice(COMPANIES if kind == "行业企业" else RESEARCH),
                "employer_code": college["school_code"] if at_college else "",
                "past_employer_codes": f"{past['school_code']}:{rng.randint(2005, 2015)}-{rng.randint(2016, 2024)}"
                if past
                else "",
                "city": rng.choice(cities) if cities else "",
                "specialties": "|".join(rng.sample(categories, 2)),
                "status": "removed" if removed else "active",
                "removed_on": "2024-03-01" if removed else "",
                "removed_reason": "违反复核工作纪律" if removed else "",
            }
        )
    return rows


def write_pool(path: Path, rows: list[dict]) -> None:
    from pipelines.files import atomic_write_bytes

    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
