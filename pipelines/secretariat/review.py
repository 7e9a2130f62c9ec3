"""Expert review results and the conclusions the rules prescribe (细则 §4, DOMAIN.md §3).

`zhengai review conclude FILE` prints each college's conclusion; `zhengai review import FILE
--year Y` records the results as files under `$ZHENGAI_HOME/reviews/<year>/<school_code>.csv`
(the source of truth the warehouse is rebuilt from: `mart.review_results`,
`mart.review_conclusions`); `zhengai review template` writes the Excel template the experts fill.

The rule itself is a pure function on whole numbers compared as fractions, never rounded
floats; its parameters (12/15, 10/15, the one-year improvement period) come from
`reference/sampling_rules.csv`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pipelines.excel import new_workbook, write_value, write_values
from pipelines.registry import load_registry
from pipelines.settings import REFERENCE_DIR, get_settings, now_local

RULES_FILE = REFERENCE_DIR / "sampling_rules.csv"
DIAGNOSIS_FILE = REFERENCE_DIR / "diagnosis_points.csv"

EFFECTIVE, ABNORMAL, NEEDS_IMPROVEMENT = "有效", "异常", "待改进"
CONCLUSION_EN = {EFFECTIVE: "effective", ABNORMAL: "abnormal", NEEDS_IMPROVEMENT: "needs_improvement"}
STRONG, WEAK = "强", "弱"

TRUE_TEXTS = {"是", "1", "true", "yes", "y", "相符", "√"}
FALSE_TEXTS = {"否", "0", "false", "no", "n", "不相符", "×"}
STRONG_TEXTS = {"强", "strong"}
WEAK_TEXTS = {"弱", "weak"}

# Column → header texts it may appear under (normalised: no spaces, no parenthesised hint).
COLUMNS = ("school_code", "element_code", "matched", "measures")
HEADERS = {
    "school_code": ("school_code", "学校代码", "院校代码", "学校编码"),
    "element_code": ("element_code", "要素代码", "诊断要素代码", "诊断要素编号", "要素编号"),
    "matched": ("matched", "诊断是否相符", "是否相符", "诊断相符", "相符"),
    "measures": ("measures", "改进措施判断", "改进措施", "改进措施强弱"),
}
TEMPLATE_SHEET = "复核结果"
TEMPLATE_HEADERS = (
    ("school_code", "学校代码"),
    ("school_name", "学校名称"),
    ("element_code", "诊断要素代码"),
    ("element_name", "诊断要素名称"),
    ("matched", "诊断是否相符（是/否）"),
    ("measures", "改进措施判断（强/弱）"),
)
RECORD_COLUMNS = (
    "school_code", "year", "element_code", "matched", "measures", "review_date", "source_file", "imported_at",
)


class ReviewInputError(ValueError):
    """Malformed review results; the message names every offending row. Nothing has been recorded."""


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The review and sampling rules of `reference/sampling_rules.csv`, as exact numbers."""

    cycle_years: int
    first_cycle_start: int
    coverage_share: Fraction
    year_quotas: tuple[int, ...] | None
    random_share: Fraction
    effective_matched_share: Fraction
    abnormal_matched_share: Fraction
    improvement_period_years: int
    top_reasons: int

    def as_dict(self) -> dict[str, str]:
        return {
            "cycle_years": str(self.cycle_years),
            "first_cycle_start": str(self.first_cycle_start),
            "coverage_share": str(self.coverage_share),
            "year_quotas": "|".join(str(q) for q in self.year_quotas) if self.year_quotas else "",
            "random_share": str(self.random_share),
            "effective_matched_share": str(self.effective_matched_share),
            "abnormal_matched_share": str(self.abnormal_matched_share),
            "improvement_period_years": str(self.improvement_period_years),
            "top_reasons": str(self.top_reasons),
        }


def parse_rules(values: dict[str, str], source: str = RULES_FILE.name) -> Rules:
    """Rules from `parameter → value` texts; a missing or malformed value is an error naming it."""

    def get(name: str) -> str:
        if name not in values:
            raise ValueError(f"{source} 缺少参数 {name} / lacks parameter {name}")
        return (values[name] or "").strip()

    def fraction(name: str) -> Fraction:
        try:
            value = Fraction(get(name))
        except (ValueError, ZeroDivisionError) as error:
            raise ValueError(f"{source}: {name} 须为分数或小数，如 1/4 / must be a fraction ({error})") from error
        if not 0 <= value <= 1:
            raise ValueError(f"{source}: {name} 须在 0 到 1 之间 / must lie in [0, 1], got {value}")
        return value

    def integer(name: str, minimum: int) -> int:
        try:
            value = int(get(name))
        except ValueError as error:
            raise ValueError(f"{source}: {name} 须为整数 / must be an integer") from error
        if value < minimum:
            raise ValueError(f"{source}: {name} 须不小于 {minimum} / must be at least {minimum}")
        return value

    cycle_years = integer("cycle_years", 1)
    quotas_text = get("year_quotas")
    quotas = None
    if quotas_text:
        try:
            quotas = tuple(int(part) for part in quotas_text.split("|"))
        except ValueError as error:
            raise ValueError(f"{source}: year_quotas 须为以 | 分隔的整数，如 3|3|4 / e.g. 3|3|4") from error
        if len(quotas) != cycle_years or min(quotas) < 0:
            raise ValueError(
                f"{source}: year_quotas 须给出 {cycle_years} 个非负整数 / needs {cycle_years} non-negative integers"
            )
    rules = Rules(
        cycle_years=cycle_years,
        first_cycle_start=integer("first_cycle_start", 1900),
        coverage_share=fraction("coverage_share"),
        year_quotas=quotas,
        random_share=fraction("random_share"),
        effective_matched_share=fraction("effective_matched_share"),
        abnormal_matched_share=fraction("abnormal_matched_share"),
        improvement_period_years=integer("improvement_period_years", 0),
        top_reasons=integer("top_reasons", 0),
    )
    if rules.abnormal_matched_share > rules.effective_matched_share:
        raise ValueError(f"{source}: abnormal_matched_share 不能大于 effective_matched_share")
    return rules


def load_rules(path: Path = RULES_FILE) -> Rules:
    with open(path, encoding="utf-8", newline="") as handle:
        values = {row["parameter"].strip(): row["value"] for row in csv.DictReader(handle)}
    return parse_rules(values, path.name)


# --- the conclusion rule (pure) ------------------------------------------------------------------


def conclude(elements: int, matched: int, strong: bool, rules: Rules) -> str:
    """有效, 异常 or 待改进 for `matched` of `elements` and the measures judgement, exactly.

    有效: matched ≥ effective share · elements and measures strong; 异常: matched < abnormal
    share · elements and measures weak; 待改进 otherwise. With 15 elements the shares give
    12 and 10; with other plans they scale in proportion (compared as fractions).
    """
    if elements <= 0:
        raise ValueError("要素数须大于 0 / a review needs at least one element")
    if not 0 <= matched <= elements:
        raise ValueError(f"相符数 {matched} 不在 0..{elements} 之间 / matched out of range")
    share = Fraction(matched, elements)
    if strong and share >= rules.effective_matched_share:
        return EFFECTIVE
    if not strong and share < rules.abnormal_matched_share:
        return ABNORMAL
    return NEEDS_IMPROVEMENT


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def improvement_deadline(conclusion: str, review_date: dt.date, rules: Rules) -> dt.date | None:
    """End of the improvement period for 待改进 and 异常; None for 有效."""
    if conclusion == EFFECTIVE:
        return None
    return add_years(review_date, rules.improvement_period_years)


# --- reading and validating input ----------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    row_no: int
    school_code: str
    element_code: str
    matched: bool
    measures: str  # 强 | 弱


@dataclass(frozen=True)
class Conclusion:
    school_code: str
    elements: int
    matched: int
    measures: str
    conclusion: str

    def as_json(self) -> dict:
        return {
            "school_code": self.school_code,
            "elements": self.elements,
            "matched": self.matched,
            "conclusion": self.conclusion,
        }


_SPACES = re.compile(r"[\s\u3000]+")
_HINT = re.compile(r"[（(].*?[）)]")


def normalise_header(text: str | None) -> str:
    return _HINT.sub("", _SPACES.sub("", text or "")).lower()


def clean_cell(value: object) -> str:
    text = "" if value is None else _SPACES.sub("", str(value))
    return "" if text in {"-", "—", "无"} else text


def normalise_code(text: str) -> str:
    """`13829.0` (a number read from Excel) → `13829`."""
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The sheet's rows as text with their 1-based row numbers (CSV: UTF-8 or GBK; xlsx: template sheet)."""
    if not path.is_file():
        raise FileNotFoundError(f"找不到文件 / file not found: {path}")
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        return read_workbook_rows(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ReviewInputError(f"{path.name}: 无法读取文件（{error.strerror}）/ cannot read the file") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ReviewInputError(f"{path.name}: 无法识别文件编码（请用 UTF-8 保存）/ unreadable encoding")
    try:
        return [(index + 1, row) for index, row in enumerate(csv.reader(io.StringIO(decoded, newline="")))]
    except csv.Error as error:
        raise ReviewInputError(
            f"{path.name}: 不是可读的 CSV 文件（{error}），请从模板另存为 CSV 或直接提交 Excel 模板 / not a readable CSV"
        ) from None


def read_workbook_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The template sheet's rows (else the first sheet's); a file Excel cannot open is refused in one line."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
        sheet_name = TEMPLATE_SHEET if TEMPLATE_SHEET in reader.sheet_names else reader.sheet_names[0]
        frame = reader.load_sheet_by_name(sheet_name, header_row=None, dtypes="string").to_polars()
    except (fastexcel.FastExcelError, OSError, IndexError):
        raise ReviewInputError(
            f"{path.name}: 无法作为 Excel 工作簿打开（文件损坏、加密或并非 Excel 文件），请在 Excel 中打开并另存为 .xlsx 后重试"
            " / not a readable Excel workbook"
        ) from None
    return [(index + 1, ["" if v is None else str(v) for v in row]) for index, row in enumerate(frame.rows())]


def parse_results(
    rows: list[tuple[int, list[str]]],
    elements: Iterable[str],
    colleges: Iterable[str],
    source: str = "input",
) -> list[ResultRow]:
    """Validated result rows; every problem is reported at once, each naming its row."""
    rows = [(row_no, cells) for row_no, cells in rows if any(clean_cell(c) for c in cells)]
    if not rows:
        raise ReviewInputError(f"{source}: 文件为空 / the file holds no rows")
    wanted = {normalise_header(text): column for column, texts in HEADERS.items() for text in texts}

    def header_positions(header: list[str]) -> dict[str, int]:
        positions: dict[str, int] = {}
        for index, text in enumerate(header):
            column = wanted.get(normalise_header(text))
            if column and column not in positions:
                positions[column] = index
        return positions

    # The header is the first row naming every column (a title row may stand above it), else the first row.
    start = next((i for i, (_, cells) in enumerate(rows[:5]) if len(header_positions(cells)) == len(COLUMNS)), 0)
    header_no, header = rows[start]
    rows = rows[start:]
    positions = header_positions(header)
    missing = [column for column in COLUMNS if column not in positions]
    if missing:
        expected = "、".join(HEADERS[column][1] for column in missing)
        raise ReviewInputError(
            f"{source} 第 {header_no} 行（表头）缺少列：{expected} / header row lacks columns {missing}"
        )
    element_set, college_set = set(elements), set(colleges)
    problems: list[str] = []
    results: list[ResultRow] = []
    seen: dict[tuple[str, str], int] = {}
    measures_of: dict[str, tuple[str, int]] = {}
    for row_no, cells in rows[1:]:
        value = {
            column: clean_cell(cells[positions[column]]) if positions[column] < len(cells) else ""
            for column in COLUMNS
        }
        school, element = normalise_code(value["school_code"]), value["element_code"]
        matched_text, measures_text = value["matched"].lower(), value["measures"].lower()
        row_problems = []
        if not school:
            row_problems.append("学校代码为空 / school_code is empty")
        elif school not in college_set:
            row_problems.append(f"学校代码 {school} 不在院校名册中 / unknown college {school}")
        if not element:
            row_problems.append("诊断要素代码为空 / element_code is empty")
        elif element not in element_set:
            row_problems.append(f"诊断要素 {element} 不存在（有效代码见附件2）/ unknown element {element}")
        if matched_text in TRUE_TEXTS:
            matched = True
        elif matched_text in FALSE_TEXTS:
            matched = False
        else:
            matched = None
            row_problems.append(
                f"诊断是否相符应填 是/否，实为“{value['matched']}” / matched must be 是/否, 1/0 or true/false"
            )
        if measures_text in STRONG_TEXTS:
            measures = STRONG
        elif measures_text in WEAK_TEXTS:
            measures = WEAK
        else:
            measures = None
            row_problems.append(f"改进措施判断应填 强/弱，实为“{value['measures']}” / measures must be 强 or 弱")
        if school and element:
            first = seen.setdefault((school, element), row_no)
            if first != row_no:
                row_problems.append(
                    f"与第 {first} 行重复（{school} 要素 {element}）/ duplicate of row {first}"
                )
        if school and measures:
            first_measures, first_row = measures_of.setdefault(school, (measures, row_no))
            if first_measures != measures:
                row_problems.append(
                    f"{school} 的改进措施判断与第 {first_row} 行（{first_measures}）不一致，每所学校只能有一个判断"
                    f" / conflicting measures for {school} (row {first_row} says {first_measures})"
                )
        if row_problems:
            problems.extend(f"第 {row_no} 行：{text}" for text in row_problems)
        else:
            results.append(ResultRow(row_no, school, element, matched, measures))
    if problems:
        shown = problems[:30]
        more = f"\n  ……另有 {len(problems) - 30} 处问题" if len(problems) > 30 else ""
        raise ReviewInputError(
            f"{source}：复核结果有 {len(problems)} 处问题，未记录任何内容 / refused, nothing recorded:\n  "
            + "\n  ".join(shown)
            + more
        )
    if not results:
        raise ReviewInputError(f"{source}: 没有数据行 / no data rows")
    return results


def summarise(results: Iterable[ResultRow], rules: Rules) -> list[Conclusion]:
    """One conclusion per college, in the order the colleges first appear."""
    by_school: dict[str, list[ResultRow]] = {}
    for row in results:
        by_school.setdefault(row.school_code, []).append(row)
    conclusions = []
    for school, rows in by_school.items():
        elements, matched, measures = len(rows), sum(row.matched for row in rows), rows[0].measures
        conclusions.append(
            Conclusion(school, elements, matched, measures, conclude(elements, matched, measures == STRONG, rules))
        )
    return conclusions


def element_codes(path: Path = DIAGNOSIS_FILE) -> dict[str, str]:
    """Element code → name, from 附件2 as transcribed in reference/diagnosis_points.csv."""
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["element_code"].strip(): row["element_name"].strip() for row in csv.DictReader(handle)}


# --- the published warehouse and the registry ----------------------------------------------------

RUN_FIRST = "请先运行 `zhengai run` 生成数据仓库 / run `zhengai run` first"


@contextmanager
def published_warehouse() -> Iterator:
    """A read-only connection to the published warehouse; a clear error when there is none yet."""
    import duckdb

    path = get_settings().warehouse
    if not path.is_file():
        raise FileNotFoundError(f"未找到已发布的数据仓库 {path}：{RUN_FIRST}")
    conn = duckdb.connect(str(path), read_only=True)
    try:
        yield conn
    finally:
        conn.close()


def require_tables(conn, *tables: str) -> None:
    present = {
        f"{schema}.{name}"
        for schema, name in conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    missing = [table for table in tables if table not in present]
    if missing:
        raise FileNotFoundError(f"数据仓库中没有 {', '.join(missing)}：{RUN_FIRST}")


def load_colleges() -> dict[str, str]:
    """College code → name: ref.schools of the published warehouse, else the registry file itself."""
    settings = get_settings()
    if settings.warehouse.is_file():
        with published_warehouse() as conn:
            require_tables(conn, "ref.schools")
            return dict(conn.execute("select school_code, name_zh from ref.schools").fetchall())
    if settings.registry.is_file():
        return load_registry(settings.registry).names()
    raise FileNotFoundError(f"未找到院校名册 {settings.registry} 或数据仓库：{RUN_FIRST}")


# --- recording (the source of truth) -------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def reviews_dir() -> Path:
    return get_settings().home / "reviews"


def today() -> dt.date:
    return now_local().date()


def default_review_date(year: int, on: dt.date) -> dt.date:
    """Today for the current year, 31 December for any other year."""
    return on if on.year == year else dt.date(year, 12, 31)


def record_results(
    results: list[ResultRow], year: int, review_date: dt.date, source: str, imported_at: dt.datetime
) -> list[Path]:
    """One normalised CSV per college: `reviews/<year>/<school_code>.csv` (replacing an earlier import)."""
    by_school: dict[str, list[ResultRow]] = {}
    for row in results:
        by_school.setdefault(row.school_code, []).append(row)
    staged: list[tuple[Path, bytes]] = []
    for school, rows in sorted(by_school.items()):
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(RECORD_COLUMNS)
        for row in sorted(rows, key=lambda r: element_sort_key(r.element_code)):
            writer.writerow([
                school, year, row.element_code, "true" if row.matched else "false", row.measures,
                review_date.isoformat(), source, imported_at.isoformat(timespec="seconds"),
            ])
        staged.append((reviews_dir() / str(year) / f"{school}.csv", buffer.getvalue().encode("utf-8")))
    for path, data in staged:
        write_atomic(path, data)
    return [path for path, _ in staged]


def element_sort_key(code: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in code.split("."))


@dataclass(frozen=True)
class RecordedReview:
    """One college's recorded review in one year, with its conclusion."""

    school_code: str
    year: int
    review_date: dt.date
    elements: int
    matched: int
    measures: str
    conclusion: str
    improvement_deadline: dt.date | None
    source_file: str
    imported_at: str
    rows: tuple[dict, ...]


def load_recorded_reviews(rules: Rules, root: Path | None = None) -> list[RecordedReview]:
    """Every recorded review under `reviews/<year>/<school_code>.csv`, sorted by college and year."""
    root = root or reviews_dir()
    reviews = []
    for path in sorted(root.glob("*/*.csv")):
        if not path.parent.name.isdigit():
            continue
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            continue
        elements, matched = len(rows), sum(row["matched"] == "true" for row in rows)
        measures = rows[0]["measures"]
        review_date = dt.date.fromisoformat(rows[0]["review_date"])
        conclusion = conclude(elements, matched, measures == STRONG, rules)
        reviews.append(RecordedReview(
            school_code=rows[0]["school_code"],
            year=int(rows[0]["year"]),
            review_date=review_date,
            elements=elements,
            matched=matched,
            measures=measures,
            conclusion=conclusion,
            improvement_deadline=improvement_deadline(conclusion, review_date, rules),
            source_file=rows[0]["source_file"],
            imported_at=rows[0]["imported_at"],
            rows=tuple(rows),
        ))
    return sorted(reviews, key=lambda r: (r.school_code, r.year))


# --- the Excel template --------------------------------------------------------------------------


def write_template(path: Path, rows: Iterable[dict] = (), elements: dict[str, str] | None = None) -> Path:
    """The experts' template: sheet 复核结果 with Chinese headers (rows pre-filled if given) and 填写说明."""
    elements = elements if elements is not None else element_codes()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".xlsx", dir=path.parent)
    os.close(handle)
    try:
        workbook = new_workbook(staging)
        header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        as_text = workbook.add_format({"num_format": "@"})
        sheet = workbook.add_worksheet(TEMPLATE_SHEET)
        write_values(sheet, 0, 0, [title for _, title in TEMPLATE_HEADERS], header)
        for col, width in enumerate((10, 28, 12, 20, 20, 20)):
            sheet.set_column(col, col, width, as_text)
        count = 0
        for count, row in enumerate(rows, start=1):
            write_values(sheet, count, 0, [str(row.get(key) or "") for key, _ in TEMPLATE_HEADERS], as_text)
        last = max(count, 200)
        sheet.data_validation(1, 4, last, 4, {"validate": "list", "source": ["是", "否"]})
        sheet.data_validation(1, 5, last, 5, {"validate": "list", "source": [STRONG, WEAK]})
        sheet.freeze_panes(1, 0)
        notes = workbook.add_worksheet("填写说明")
        lines = [
            "每所学校每个诊断要素填一行；学校代码为院校名册中的 5 位代码。",
            "诊断是否相符：学校对该要素的自我诊断与专家诊断是否相符，填 是 或 否（也可填 1/0）。",
            "改进措施判断：专家对该校改进措施针对性、可行性、有效性的总体判断，填 强 或 弱，同一学校各行须一致。",
            "学校名称、诊断要素名称两列仅供查看，导入时不读取。",
            "结论规则：相符要素数 ≥ 要素总数的 12/15 且措施强为“有效”；相符数 < 10/15 且措施弱为“异常”；其余为“待改进”。",
            "",
            "诊断要素代码",
        ]
        for line_no, line in enumerate(lines):
            write_value(notes, line_no, 0, line)
        for offset, (code, name) in enumerate(sorted(elements.items(), key=lambda i: element_sort_key(i[0]))):
            write_values(notes, len(lines) + offset, 0, [code, name], as_text)
        notes.set_column(0, 0, 14)
        notes.set_column(1, 1, 30)
        workbook.close()
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path


# --- commands ------------------------------------------------------------------------------------


def conclusions_text(conclusions: list[Conclusion], names: dict[str, str]) -> str:
    lines = [f"{'学校代码':<8}{'要素数':>6}{'相符数':>6}  措施  结论  学校名称"]
    for item in conclusions:
        lines.append(
            f"{item.school_code:<12}{item.elements:>8}{item.matched:>8}  {item.measures:<4}  "
            f"{item.conclusion:<4}  {names.get(item.school_code, '')}"
        )
    return "\n".join(lines)


def read_and_validate(path: Path) -> tuple[list[ResultRow], dict[str, str]]:
    colleges = load_colleges()
    results = parse_results(read_rows(path), element_codes(), colleges, source=path.name)
    return results, colleges


def cmd_conclude(args: argparse.Namespace) -> int:
    results, colleges = read_and_validate(Path(args.file))
    conclusions = summarise(results, load_rules())
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
    results, colleges = read_and_validate(source)
    rules = load_rules()
    conclusions = summarise(results, rules)
    imported_at = dt.datetime.now(dt.timezone.utc).astimezone()
    folder = reviews_dir() / str(args.year)
    replaced = [c.school_code for c in conclusions if (folder / f"{c.school_code}.csv").exists()]
    paths = record_results(results, args.year, review_date, source.name, imported_at)
    print(conclusions_text(conclusions, colleges))
    for item in conclusions:
        deadline = improvement_deadline(item.conclusion, review_date, rules)
        if deadline:
            print(f"  {item.school_code}：{item.conclusion}，整改期至 {deadline}，期满须申请复核")
    print(f"\n已记录 {len(paths)} 所学校的 {args.year} 年复核结果于 {reviews_dir() / str(args.year)}")
    if replaced:
        print(f"（替换了此前导入的 {'、'.join(replaced)} 的 {args.year} 年结果）")
    print("下次 `zhengai run` 后进入 mart.review_results 与 mart.review_conclusions。")
    return 0


def cmd_template(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else get_settings().exports / "review" / "复核结果模板.xlsx"
    elements = element_codes()
    rows = []
    if args.school:
        colleges = load_colleges()
        unknown = [code for code in args.school if code not in colleges]
        if unknown:
            raise ValueError(f"院校名册中没有 {', '.join(unknown)} / unknown colleges")
        rows = [
            {"school_code": code, "school_name": colleges[code], "element_code": element, "element_name": name}
            for code in args.school
            for element, name in sorted(elements.items(), key=lambda i: element_sort_key(i[0]))
        ]
    write_template(out, rows, elements)
    print(f"复核结果模板已写入 {out}（{len(rows)} 行预填）")
    return 0


def register(subparsers) -> None:
    review = subparsers.add_parser("review", help="专家复核结果：计算结论、导入、模板 / expert review results")
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
    template_cmd.add_argument("--school", action="append", help="为该校预填 15 个要素行（可重复）")
    template_cmd.set_defaults(func=cmd_template)
