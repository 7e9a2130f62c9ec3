"""The self-diagnosis report (附件3): `zhengai selfreport template|import|status|register`.

`template` writes the 附件3 form for one college (pipelines/secretariat/selfreport_form.py), with the
status-data aid per element from the published warehouse. `import` reads a completed form and checks
it against 附件3's notes (limits in reference/selfreport_rules.csv, the words that show each required
part in reference/selfreport_keywords.csv); a form with any violation is refused (exit 2) with every
violation listed per element and field, and nothing is recorded. A valid report is stored as
`$ZHENGAI_HOME/selfreports/<year>/<school_code>.docx` (an .xlsx form is stored as the same form
in Word) with its parsed text beside it (`<school_code>.json`), which each run loads into
`mart.selfreport_elements` (assets/review.py). `status` is the submissions register; `register`
records the date a college submitted its 质量年报 or 分析报告.

How 字 are counted (`count_chars`): every Chinese character, letter, digit and punctuation mark
counts one; whitespace (spaces, full-width spaces, line breaks) does not. So 「ABC 12，质量」 is 8 字.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.files import atomic_copy, atomic_write, atomic_write_text
from pipelines.secretariat.inputs import (
    ReviewInputError,
    element_sort_key,
    load_colleges,
    load_element_sets,
    published_warehouse,
    require_tables,
)
from pipelines.secretariat.selfreport_form import IDENTIFIER_PREFIX, FormContent, build_form, read_form
from pipelines.settings import REFERENCE_DIR, get_settings, now_local

RULES_FILE = REFERENCE_DIR / "selfreport_rules.csv"
KEYWORDS_FILE = REFERENCE_DIR / "selfreport_keywords.csv"
DIAGNOSIS_FILE = REFERENCE_DIR / "diagnosis_points.csv"
REQUIRED_ASPECTS = ("attainment", "achievement", "problem", "cause")
COUNTING_ZH = "计字方法：每个汉字、字母、数字、标点符号各计 1 字，空格和换行不计"
KINDS = {"质量年报": "人才培养质量年度报告", "分析报告": "人才培养工作状态数据分析报告"}
REGISTER_NAME = "submissions.csv"
REFUSALS_NAME = "refusals.csv"  # refused imports, for the sampling (细则 三(二)); the refused report itself is not kept
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")


class SelfReportRefused(ReviewInputError):
    """A form that breaks 附件3's notes; the message lists every violation. Nothing has been recorded."""


def count_chars(text: str) -> int:
    """附件3's 字: every CJK character, letter, digit and punctuation mark counts one; whitespace does not."""
    return sum(1 for char in text if not char.isspace())


def selfreports_dir() -> Path:
    return get_settings().home / "selfreports"


# --- reference data --------------------------------------------------------------------------------


def load_limits(path: Path = RULES_FILE) -> dict[str, float]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["rule"]: float(row["value"]) for row in csv.DictReader(handle)}


def load_keywords(path: Path = KEYWORDS_FILE) -> dict[str, tuple[str, list[str]]]:
    """Aspect → (its Chinese name, the words that show it)."""
    aspects: dict[str, tuple[str, list[str]]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            aspects.setdefault(row["aspect"], (row["aspect_zh"], []))[1].append(row["keyword"])
    return aspects


def item_names(path: Path = DIAGNOSIS_FILE) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["item_code"]: row["item_name"] for row in csv.DictReader(handle)}


def college_elements(school_code: str) -> list[tuple[str, str, str]]:
    """(item label, element code, element name) of the college's element set, in order."""
    items = item_names()
    elements = sorted(load_element_sets().of(school_code).items(), key=lambda item: element_sort_key(item[0]))
    rows = []
    for code, name in elements:
        item = code.split(".")[0]
        rows.append((f"{item} {items.get(item, '')}".strip(), code, name))
    return rows


# --- checks ----------------------------------------------------------------------------------------


@dataclass
class Checked:
    school_code: str
    year: int
    content: FormContent
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problem_shares: dict[str, float] = field(default_factory=dict)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each ending with its 。！？； (or a line break)."""
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def problem_share(text: str, words: list[str]) -> float:
    """The share of the opinion's 字 in sentences that state a problem or a cause (附件3: about half)."""
    sentences = split_sentences(text)
    total = count_chars(text)
    flagged = sum(count_chars(part) for part in sentences if any(word in part for word in words))
    return flagged / total if total else 0.0


def check_length(where: str, field_zh: str, text: str, limit: float, violations: list[str]) -> None:
    chars = count_chars(text)
    if not chars:
        violations.append(f"{where}「{field_zh}」未填写")
    elif chars > limit:
        violations.append(f"{where}「{field_zh}」{chars} 字，超过 {int(limit)} 字")


def check_opinion(where: str, text: str, keywords: dict, limits: dict, checked: Checked, code: str) -> None:
    for aspect in REQUIRED_ASPECTS:
        name, words = keywords[aspect]
        if not any(word in text for word in words):
            checked.violations.append(f"{where}「自我诊断意见」未阐明{name}（未见：{'、'.join(words)}）")
    share = problem_share(text, keywords["problem"][1] + keywords["cause"][1])
    checked.problem_shares[code] = round(share, 3)
    if not limits["problem_share_min"] <= share <= limits["problem_share_max"]:
        checked.warnings.append(
            f"{where}「自我诊断意见」中存在问题与原因分析约占 {share:.0%} 篇幅（附件3：应占一半左右）"
        )
    grading_words = [word for word in keywords.get("grading", ("", []))[1] if word in text]
    if grading_words:
        checked.warnings.append(f"{where}含等级性结论用语（{'、'.join(grading_words)}），附件3：无需等级性结论")


def check_form(content: FormContent, school_code: str, year: int, elements: list[tuple[str, str, str]]) -> Checked:
    """Every violation of 附件3's notes (refusing) and every warning, per element and field."""
    limits, keywords = load_limits(), load_keywords()
    checked = Checked(school_code, year, content)
    check_length("概述", "自我诊改工作概述", content.overview, limits["overview_max_chars"], checked.violations)
    for _, code, name in elements:
        where = f"要素 {code} {name}："
        written = content.elements.get(code)
        if written is None:
            checked.violations.append(f"{where}缺少该诊断要素的行")
            continue
        check_length(where, "自我诊断意见", written.opinion, limits["opinion_max_chars"], checked.violations)
        check_length(where, "改进措施", written.measures, limits["measures_max_chars"], checked.violations)
        if count_chars(written.effects):
            check_length(where, "改进成效", written.effects, limits["effects_max_chars"], checked.violations)
        else:
            checked.violations.append(f"{where}「改进成效」未填写（措施尚未实施的，请加说明）")
        if written.opinion:
            check_opinion(where, written.opinion, keywords, limits, checked, code)
    expected = {code for _, code, _ in elements}
    for code in sorted(set(content.elements) - expected, key=element_sort_key):
        checked.warnings.append(f"要素 {code}：不在该校的诊断要素集中，未记录")
    if not content.signature:
        checked.violations.append("校长未签字")
    signed = content.signed_date()
    if signed is None:
        checked.violations.append("未填写签字日期（年月日）")
    elif signed.year not in (year, year + 1):
        checked.warnings.append(f"签字日期 {signed} 不在 {year} 年度报告的提交时间内")
    return checked


def identify_school(content: FormContent, year: int, school: str | None, colleges: dict[str, str]) -> str:
    """The college: --school, else the template's identifier, else its exact name in the registry."""
    parts = content.identifier.split(":")
    code = school or (parts[1] if len(parts) == 3 and parts[0] == IDENTIFIER_PREFIX else None)
    if code is None:
        by_name = [c for c, name in colleges.items() if name == content.school_name]
        code = by_name[0] if len(by_name) == 1 else None
    if code is None or code not in colleges:
        raise SelfReportRefused(
            f"无法确定学校（学校名称「{content.school_name}」不在院校名册中）：请用 --school 指定学校代码"
        )
    if len(parts) == 3 and parts[0] == IDENTIFIER_PREFIX and parts[2] != str(year):
        raise SelfReportRefused(f"该表是 {parts[2]} 年的模板，与 --year {year} 不符")
    return code


# --- evidence --------------------------------------------------------------------------------------


def element_evidence(school_code: str, year: int) -> tuple[dict[str, str], int | None]:
    """The aid text per element (level and reasons from mart.element_warnings) for the college's latest
    data year up to `year`; empty when there is no published warehouse or no data (the form says 无数据)."""
    if not get_settings().warehouse.is_file():
        return {}, None
    with published_warehouse() as conn:
        require_tables(conn, "mart.element_warnings")
        rows = conn.execute(
            "select year, element_code, level_zh, reasons from mart.element_warnings "
            "where school_code = ? and year = (select max(year) from mart.element_warnings "
            "where school_code = ? and year <= ?)",
            [school_code, school_code, year],
        ).fetchall()
    evidence = {
        code: f"{data_year} 年状态数据：{level}。{''.join(reasons or [])}" for data_year, code, level, reasons in rows
    }
    return evidence, rows[0][0] if rows else None


# --- records ---------------------------------------------------------------------------------------


def record_report(checked: Checked, source: Path, elements: list[tuple[str, str, str]], colleges: dict) -> Path:
    """The report file, then its parsed text (the JSON is the record: written last)."""
    folder = selfreports_dir() / str(checked.year)
    target = folder / f"{checked.school_code}.docx"
    if source.suffix.lower() == ".docx":
        atomic_copy(source, target)
    else:
        document = build_form(
            checked.school_code, colleges[checked.school_code], checked.year, elements, {}, checked.content
        )
        atomic_write(target, lambda staging: document.save(str(staging)))
    content = checked.content
    names = {code: name for _, code, name in elements}
    record = {
        "school_code": checked.school_code,
        "school_name": content.school_name,
        "year": checked.year,
        "overview": content.overview,
        "signature": content.signature,
        "signed_date": str(content.signed_date()),
        "source_file": source.name,
        "imported_at": now_local().isoformat(timespec="seconds"),
        "warnings": checked.warnings,
        "elements": [
            {
                **asdict(content.elements[code]),
                "element_name": names[code],
                "problem_share": checked.problem_shares.get(code),
            }
            for _, code, _ in elements
        ],
    }
    atomic_write_text(folder / f"{checked.school_code}.json", json.dumps(record, ensure_ascii=False, indent=2))
    return target


def recorded_reports(root: Path | None = None) -> list[dict]:
    """Every recorded self-diagnosis report (parsed text), oldest year first."""
    root = root or selfreports_dir()
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(root.glob("*/*.json"))
        if path.with_suffix(".docx").is_file()
    ]


def selfreport_rows(root: Path | None = None) -> list[dict]:
    """One row per college, year and element, as mart.selfreport_elements holds them."""
    return [
        {
            "school_code": report["school_code"],
            "year": report["year"],
            "element_code": element["element_code"],
            "element_name": element["element_name"],
            "self_diagnosis": element["opinion"],
            "improvement_measures": element["measures"],
            "improvement_effects": element["effects"],
            "self_diagnosis_chars": count_chars(element["opinion"]),
            "improvement_measures_chars": count_chars(element["measures"]),
            "improvement_effects_chars": count_chars(element["effects"]),
            "problem_share": element["problem_share"],
            "overview": report["overview"],
            "signed_date": dt.date.fromisoformat(report["signed_date"]),
            "imported_at": dt.datetime.fromisoformat(report["imported_at"]).replace(tzinfo=None),
            "source_file": report["source_file"],
        }
        for report in recorded_reports(root)
        for element in report["elements"]
    ]


def register_path(year: int) -> Path:
    return selfreports_dir() / str(year) / REGISTER_NAME


def registered_submissions(year: int) -> dict[tuple[str, str], str]:
    """(kind, school_code) → date submitted, from the register the secretariat keeps."""
    path = register_path(year)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        return {(row["kind"], row["school_code"]): row["date"] for row in csv.DictReader(handle)}


def log_refusal(school_code: str, year: int, source: Path, violations: list[str]) -> None:
    """Add a line to the year's refusals log: when, which file, how many violations (the first one named)."""
    path = selfreports_dir() / str(year) / REFUSALS_NAME
    lines = (
        path.read_text(encoding="utf-8").splitlines()
        if path.is_file()
        else ["school_code,refused_at,source_file,violations,first"]
    )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        [school_code, now_local().isoformat(timespec="seconds"), source.name, len(violations), violations[0]]
    )
    atomic_write_text(path, "\n".join(lines) + "\n" + buffer.getvalue())


def selfreport_refusals(year: int) -> dict[str, int]:
    """Refused imports per college in `year`, from the refusals log."""
    path = selfreports_dir() / str(year) / REFUSALS_NAME
    if not path.is_file():
        return {}
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            counts[row["school_code"]] = counts.get(row["school_code"], 0) + 1
    return counts


def submissions(year: int, colleges: dict[str, str]) -> list[dict]:
    reports = {report["school_code"]: report for report in recorded_reports() if report["year"] == year}
    registered = registered_submissions(year)
    rows = []
    for code, name in sorted(colleges.items()):
        report = reports.get(code)
        rows.append(
            {
                "school_code": code,
                "name_zh": name,
                "selfreport": report["imported_at"][:10] if report else None,
                "selfreport_signed": report["signed_date"] if report else None,
                **{kind: registered.get((kind, code)) for kind in KINDS},
            }
        )
    return rows


# --- commands --------------------------------------------------------------------------------------


def cmd_template(args: argparse.Namespace) -> int:
    colleges = load_colleges()
    if args.school not in colleges:
        raise ValueError(f"院校名册中没有 {args.school} / unknown college")
    elements = college_elements(args.school)
    evidence, data_year = element_evidence(args.school, args.year)
    document = build_form(args.school, colleges[args.school], args.year, elements, evidence)
    out = Path(args.out) if args.out else get_settings().exports / "selfreport" / str(args.year) / f"{args.school}.docx"
    atomic_write(out, lambda staging: document.save(str(staging)))
    source = f"{data_year} 年状态数据" if data_year else "无数据（尚无已发布的数据仓库或该校无数据）"
    print(f"附件3 自我诊改报告模板已写入 {out}（{len(elements)} 个诊断要素；状态数据参考：{source}）")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    content = read_form(source)
    colleges = load_colleges()
    code = identify_school(content, args.year, args.school, colleges)
    elements = college_elements(code)
    checked = check_form(content, code, args.year, elements)
    result = {"school_code": code, "year": args.year, "violations": checked.violations, "warnings": checked.warnings}
    if checked.violations:
        log_refusal(code, args.year, source, checked.violations)
        if args.json:
            print(json.dumps({**result, "recorded": None}, ensure_ascii=False, indent=2))
        lines = "\n".join(f"  · {line}" for line in checked.violations)
        raise SelfReportRefused(
            f"{source.name}：不符合附件3 的要求，未记录（{COUNTING_ZH}）：\n{lines}"
            + "".join(f"\n  提示：{line}" for line in checked.warnings)
        )
    target = record_report(checked, source, elements, colleges)
    if args.json:
        print(json.dumps({**result, "recorded": str(target)}, ensure_ascii=False, indent=2))
        return 0
    print(f"{code} {colleges[code]} {args.year} 年自我诊改报告已记录：{target}")
    for line in checked.warnings:
        print(f"  提示：{line}")
    print("下次 `zhengai run` 后进入 mart.selfreport_elements。")
    return 0


def column(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(width - used, 1)


def cmd_status(args: argparse.Namespace) -> int:
    rows = submissions(args.year, load_colleges())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{args.year} 年材料提交登记（自我诊改报告 / 质量年报 / 分析报告）")
    print("".join(column(text, 14) for text in ("学校代码", "自我诊改报告", "质量年报", "分析报告")) + "学校名称")
    for row in rows:
        cells = [row["school_code"], row["selfreport"] or "未提交", *(row[kind] or "未登记" for kind in KINDS)]
        print("".join(column(text, 14) for text in cells) + row["name_zh"])
    done = sum(1 for row in rows if row["selfreport"])
    print(f"\n已提交自我诊改报告 {done}/{len(rows)} 所")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    colleges = load_colleges()
    if args.school not in colleges:
        raise ValueError(f"院校名册中没有 {args.school} / unknown college")
    date = dt.date.fromisoformat(args.date)
    registered = registered_submissions(args.year)
    registered[(args.kind, args.school)] = date.isoformat()
    lines = ["kind,school_code,date"] + [f"{kind},{code},{day}" for (kind, code), day in sorted(registered.items())]
    atomic_write_text(register_path(args.year), "\n".join(lines) + "\n")
    print(f"已登记 {args.school} {colleges[args.school]} {args.year} 年{KINDS[args.kind]}，提交日期 {date}")
    return 0


def register(subparsers) -> None:
    """`zhengai selfreport template|import|status|register`."""
    selfreport = subparsers.add_parser("selfreport", help="自我诊改报告（附件3）：模板、导入检查、提交登记")
    commands = selfreport.add_subparsers(dest="selfreport_command", required=True)

    template = commands.add_parser("template", help="写出某校的附件3 模板（.docx），附状态数据参考")
    template.add_argument("--school", required=True, help="学校代码")
    template.add_argument("--year", type=int, required=True, help="报告年度")
    template.add_argument("--out", help="输出路径（默认 exports/selfreport/<年度>/<学校代码>.docx）")
    template.set_defaults(func=cmd_template)

    imported = commands.add_parser(
        "import",
        help="检查并记录学校填好的附件3（.docx 或 .xlsx）；不合要求的整份退回（退出码 2）",
        description=(
            "按附件3 注 2–4 检查：概述、自我诊断意见 ≤ 500 字，改进措施、改进成效 ≤ 200 字，各要素齐全，"
            f"校长签字并注明日期。{COUNTING_ZH}。"
        ),
    )
    imported.add_argument("file", help="填好的附件3（.docx 或同样表格的 .xlsx）")
    imported.add_argument("--year", type=int, required=True, help="报告年度")
    imported.add_argument("--school", help="学校代码（默认取模板中的代码或按学校名称查找）")
    imported.add_argument("--json", action="store_true", help="以 JSON 输出检查结果")
    imported.set_defaults(func=cmd_import)

    status = commands.add_parser("status", help="某年各校材料提交登记")
    status.add_argument("--year", type=int, required=True, help="年度")
    status.add_argument("--json", action="store_true", help="以 JSON 输出")
    status.set_defaults(func=cmd_status)

    registered = commands.add_parser("register", help="登记某校提交质量年报或分析报告的日期")
    registered.add_argument("--kind", required=True, choices=sorted(KINDS), help="材料类别")
    registered.add_argument("--school", required=True, help="学校代码")
    registered.add_argument("--year", type=int, required=True, help="年度")
    registered.add_argument("--date", required=True, help="提交日期 YYYY-MM-DD")
    registered.set_defaults(func=cmd_register)
