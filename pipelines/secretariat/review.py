"""Expert review results: element-by-element findings in, conclusions out (细则 §4, DOMAIN.md §3).

Experts record, per element, whether the college's self-diagnosis matches their finding (相符/不相符,
with a note), and once per college the three qualities of its improvement measures (针对性强、切实
可行、成效明显). Older files that give 是/否 per element and one 强/弱 per college (`measures`
column) are still read and conclude as before.

`zhengai review conclude FILE` prints each college's conclusion; `zhengai review import FILE
--year Y` records the results as files under `$ZHENGAI_HOME/reviews/<year>/<school_code>.csv`
(the source of truth the warehouse is rebuilt from: `mart.review_results`,
`mart.review_conclusions`); `zhengai review template` writes the Excel template the experts fill.

The element count n of the rule is the college's element set (see `inputs.ElementSets`), never the
number of rows in the file: a file missing an element is refused, naming it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.files import atomic_write_bytes
from pipelines.secretariat.exports import MEASURES_SHEET, TEMPLATE_SHEET
from pipelines.secretariat.inputs import (
    ElementSets,
    ReviewInputError,
    Rows,
    clean_cell,
    element_sort_key,
    normalise_code,
    normalise_header,
    read_sheets,
    reviews_dir,
)
from pipelines.secretariat.rules import (
    MEASURE_QUALITIES,
    STRONG,
    WEAK,
    MeasuresJudgement,
    Rules,
    conclude,
    improvement_deadline,
)

TRUE_TEXTS = {"是", "1", "true", "yes", "y", "相符", "√"}
FALSE_TEXTS = {"否", "0", "false", "no", "n", "不相符", "×"}
STRONG_TEXTS = {"强", "strong"}
WEAK_TEXTS = {"弱", "weak"}

# Column → header texts it may appear under (normalised: no spaces, no parenthesised hint).
HEADERS = {
    "school_code": ("school_code", "学校代码", "院校代码", "学校编码"),
    "element_code": ("element_code", "要素代码", "诊断要素代码", "诊断要素编号", "要素编号"),
    "matched": ("matched", "诊断是否相符", "是否相符", "诊断相符", "相符"),
    "measures": ("measures", "改进措施判断", "改进措施", "改进措施强弱"),
    "note": ("note", "说明", "备注", "专家说明", "专家意见"),
    "targeted": ("measures_targeted", "针对性强", "措施针对性强", "针对性"),
    "feasible": ("measures_feasible", "切实可行", "措施切实可行", "可行性"),
    "effective": ("measures_effective", "成效明显", "措施成效明显", "成效"),
}
REQUIRED = ("school_code", "element_code", "matched")
QUALITY_KEYS = tuple(key for key, _ in MEASURE_QUALITIES)
MEASURES_MISSING = "改进措施判断（或 针对性强、切实可行、成效明显 三列，或“改进措施”工作表）"
RECORD_COLUMNS = (
    "school_code",
    "year",
    "element_code",
    "matched",
    "measures",
    "review_date",
    "source_file",
    "imported_at",
    "note",
    "measures_targeted",
    "measures_feasible",
    "measures_effective",
    "measures_note",
)


@dataclass(frozen=True)
class ResultRow:
    """One element's finding: does the college's self-diagnosis match the experts' (相符), and why."""

    row_no: int
    school_code: str
    element_code: str
    matched: bool
    note: str = ""


@dataclass(frozen=True)
class CollegeFindings:
    """One college's findings: a row per element of its set, and its measures judgement."""

    school_code: str
    rows: tuple[ResultRow, ...]
    measures: MeasuresJudgement
    elements: int

    @property
    def matched(self) -> int:
        return sum(row.matched for row in self.rows)


@dataclass(frozen=True)
class Conclusion:
    school_code: str
    elements: int
    matched: int
    measures: str
    conclusion: str
    lacking: tuple[str, ...] = field(default=())

    def as_json(self) -> dict:
        """The keys `zhengai review conclude --json` has always printed."""
        return {
            "school_code": self.school_code,
            "elements": self.elements,
            "matched": self.matched,
            "conclusion": self.conclusion,
        }


# --- parsing, step by step -----------------------------------------------------------------------


class Problems(list):
    """Problems found so far, each a line naming its row; raised all at once."""

    def raise_if_any(self, source: str) -> None:
        if not self:
            return
        shown = self[:30]
        more = f"\n  ……另有 {len(self) - 30} 处问题" if len(self) > 30 else ""
        raise ReviewInputError(
            f"{source}：复核结果有 {len(self)} 处问题，未记录任何内容 / refused, nothing recorded:\n  "
            + "\n  ".join(shown)
            + more
        )


def non_empty(rows: Rows) -> Rows:
    return [(row_no, cells) for row_no, cells in rows if any(clean_cell(c) for c in cells)]


def header_positions(header: list[str]) -> dict[str, int]:
    wanted = {normalise_header(text): column for column, texts in HEADERS.items() for text in texts}
    positions: dict[str, int] = {}
    for index, text in enumerate(header):
        column = wanted.get(normalise_header(text))
        if column and column not in positions:
            positions[column] = index
    return positions


def locate_header(rows: Rows, required: tuple[str, ...]) -> tuple[int, dict[str, int], Rows]:
    """The header is the first row naming every required column (a title row may stand above it), else the first row."""
    start = next((i for i, (_, cells) in enumerate(rows[:5]) if set(required) <= set(header_positions(cells))), 0)
    header_no, header = rows[start]
    return header_no, header_positions(header), rows[start + 1 :]


def cells_by_column(cells: list[str], positions: dict[str, int]) -> dict[str, str]:
    return {column: clean_cell(cells[index]) if index < len(cells) else "" for column, index in positions.items()}


def yes_no(text: str) -> bool | None:
    lowered = text.lower()
    return True if lowered in TRUE_TEXTS else False if lowered in FALSE_TEXTS else None


def read_qualities(value: dict[str, str], problems: list[str], note: str = "") -> MeasuresJudgement | None:
    """The three qualities of a row, None when all are blank; some filled and some not is a problem."""
    texts = {key: value.get(key, "") for key in QUALITY_KEYS}
    if not any(texts.values()):
        return None
    parsed = {key: yes_no(text) for key, text in texts.items()}
    bad = [name for key, name in MEASURE_QUALITIES if parsed[key] is None]
    if bad:
        problems.append(
            f"{'、'.join(bad)} 应填 是/否（三项须同时填写），实为“{'、'.join(texts[k] or '空' for k in QUALITY_KEYS)}”"
            " / each of the three qualities must be 是 or 否"
        )
        return None
    return MeasuresJudgement(**parsed, note=note)


def read_stated_measures(text: str, problems: list[str]) -> MeasuresJudgement | None:
    lowered = text.lower()
    if lowered in STRONG_TEXTS:
        return MeasuresJudgement(stated=STRONG)
    if lowered in WEAK_TEXTS:
        return MeasuresJudgement(stated=WEAK)
    problems.append(f"改进措施判断应填 强/弱，实为“{text}” / measures must be 强 or 弱")
    return None


def check_college(school: str, colleges: set[str], problems: list[str]) -> None:
    if not school:
        problems.append("学校代码为空 / school_code is empty")
    elif school not in colleges:
        problems.append(f"学校代码 {school} 不在院校名册中 / unknown college {school}")


def parse_element_row(
    value: dict[str, str], element_sets: ElementSets, colleges: set[str], problems: list[str]
) -> tuple[str, str, bool | None, MeasuresJudgement | None]:
    """School, element, 相符 and the row's measures judgement (if it carries one), appending problems."""
    school, element = normalise_code(value["school_code"]), value["element_code"]
    check_college(school, colleges, problems)
    if not element:
        problems.append("诊断要素代码为空 / element_code is empty")
    elif school and element not in element_sets.of(school):
        if school in element_sets.registered:
            problems.append(
                f"诊断要素 {element} 不在该校登记的要素集中（{element_sets.source}）/ not in the college's set"
            )
        else:
            problems.append(f"诊断要素 {element} 不存在（有效代码见附件2）/ unknown element {element}")
    matched = yes_no(value["matched"])
    if matched is None:
        problems.append(
            f"诊断是否相符应填 相符/不相符（或 是/否），实为“{value['matched']}” / matched must be 相符/不相符, 是/否 or 1/0"
        )
    has_quality_columns = QUALITY_KEYS[0] in value
    measures = read_qualities(value, problems) if has_quality_columns else None
    if measures is None and "measures" in value:
        if value["measures"]:
            measures = read_stated_measures(value["measures"], problems)
        elif not has_quality_columns:  # the old shape: 强/弱 on every row
            problems.append("改进措施判断应填 强/弱，实为“” / measures must be 强 or 弱")
    return school, element, matched, measures


def same_judgement(a: MeasuresJudgement, b: MeasuresJudgement) -> bool:
    if a.label != b.label:
        return False
    return not (a.has_qualities and b.has_qualities) or a.lacking() == b.lacking()


def note_measures(
    school: str,
    judgement: MeasuresJudgement,
    where: str,
    seen: dict[str, tuple[MeasuresJudgement, str]],
    problems: list[str],
) -> None:
    """Record the college's measures judgement; a second, different one is a problem naming the first."""
    first, first_where = seen.setdefault(school, (judgement, where))
    if first is not judgement and not same_judgement(first, judgement):
        problems.append(
            f"{school} 的改进措施判断与{first_where}（{first.label}）不一致，每所学校只能有一个判断"
            f" / conflicting measures for {school} ({first_where} says {first.label})"
        )
    elif first is not judgement and judgement.has_qualities and not first.has_qualities:
        seen[school] = (judgement, first_where)


def parse_element_rows(
    rows: Rows,
    positions: dict[str, int],
    element_sets: ElementSets,
    colleges: set[str],
    measures_of: dict[str, tuple[MeasuresJudgement, str]],
    problems: Problems,
) -> list[ResultRow]:
    results: list[ResultRow] = []
    seen: dict[tuple[str, str], int] = {}
    for row_no, cells in rows:
        value = cells_by_column(cells, positions)
        row_problems: list[str] = []
        school, element, matched, measures = parse_element_row(value, element_sets, colleges, row_problems)
        if school and element:
            first = seen.setdefault((school, element), row_no)
            if first != row_no:
                row_problems.append(f"与第 {first} 行重复（{school} 要素 {element}）/ duplicate of row {first}")
        if school and measures:
            note_measures(school, measures, f"第 {row_no} 行", measures_of, row_problems)
        if row_problems:
            problems.extend(f"第 {row_no} 行：{text}" for text in row_problems)
        else:
            results.append(ResultRow(row_no, school, element, matched, value.get("note", "")))
    return results


def parse_measures_sheet(
    rows: Rows, colleges: set[str], measures_of: dict[str, tuple[MeasuresJudgement, str]], problems: Problems
) -> None:
    """The 改进措施 sheet: one row per college with the three qualities (and a note)."""
    rows = non_empty(rows)
    if not rows:
        return
    header_no, positions, data = locate_header(rows, ("school_code", *QUALITY_KEYS))
    missing = [HEADERS[key][1] for key in ("school_code", *QUALITY_KEYS) if key not in positions]
    if missing:
        problems.append(f"“{MEASURES_SHEET}”表第 {header_no} 行（表头）缺少列：{'、'.join(missing)}")
        return
    for row_no, cells in data:
        value = cells_by_column(cells, positions)
        row_problems: list[str] = []
        school = normalise_code(value["school_code"])
        check_college(school, colleges, row_problems)
        judgement = read_qualities(value, row_problems, note=value.get("note", ""))
        if judgement is None and not row_problems:
            row_problems.append("针对性强、切实可行、成效明显 均未填写 / the three qualities are empty")
        if school and judgement:
            note_measures(school, judgement, f"“{MEASURES_SHEET}”表第 {row_no} 行", measures_of, row_problems)
        problems.extend(f"“{MEASURES_SHEET}”表第 {row_no} 行：{text}" for text in row_problems)


def check_header(header_no: int, positions: dict[str, int], has_measures_sheet: bool, source: str) -> None:
    missing = [HEADERS[column][1] for column in REQUIRED if column not in positions]
    qualities = [key for key in QUALITY_KEYS if key in positions]
    if 0 < len(qualities) < len(QUALITY_KEYS):
        missing += [HEADERS[key][1] for key in QUALITY_KEYS if key not in positions]
    elif not qualities and "measures" not in positions and not has_measures_sheet:
        missing.append(MEASURES_MISSING)
    if missing:
        raise ReviewInputError(
            f"{source} 第 {header_no} 行（表头）缺少列：{'、'.join(missing)} / header row lacks columns"
        )


def assemble_colleges(
    results: list[ResultRow],
    measures_of: dict[str, tuple[MeasuresJudgement, str]],
    element_sets: ElementSets,
    names: dict[str, str],
    problems: Problems,
) -> list[CollegeFindings]:
    """Per college, in the order colleges first appear: every element of its set present, and a measures judgement."""
    by_school: dict[str, list[ResultRow]] = {}
    for row in results:
        by_school.setdefault(row.school_code, []).append(row)
    findings = []
    for school, rows in by_school.items():
        expected = element_sets.of(school)
        present = {row.element_code for row in rows}
        missing = sorted(set(expected) - present, key=element_sort_key)
        label = f"学校 {school}{'（' + names[school] + '）' if names.get(school) else ''}"
        if missing:
            listed = "、".join(f"{code} {expected[code]}" for code in missing)
            problems.append(
                f"{label}缺少诊断要素 {listed}：应有 {len(expected)} 个要素（{element_sets.origin(school)}），"
                f"缺项不能按较少的要素数计算结论 / missing elements {', '.join(missing)}"
            )
        if school not in measures_of:
            problems.append(f"{label}没有改进措施判断（针对性强、切实可行、成效明显）/ no measures judgement")
            continue
        ordered = tuple(sorted(rows, key=lambda r: element_sort_key(r.element_code)))
        findings.append(CollegeFindings(school, ordered, measures_of[school][0], len(expected)))
    return findings


def parse_results(
    rows: Rows,
    element_sets: ElementSets,
    colleges: dict[str, str] | Iterable[str],
    source: str = "input",
    measures_rows: Rows | None = None,
) -> list[CollegeFindings]:
    """Validated findings per college; every problem is reported at once, each naming its row or element."""
    rows = non_empty(rows)
    if not rows:
        raise ReviewInputError(f"{source}: 文件为空 / the file holds no rows")
    header_no, positions, data = locate_header(rows, REQUIRED)
    check_header(header_no, positions, bool(measures_rows and non_empty(measures_rows)), source)
    names = colleges if isinstance(colleges, dict) else {}
    college_set = set(colleges)
    problems = Problems()
    measures_of: dict[str, tuple[MeasuresJudgement, str]] = {}
    results = parse_element_rows(data, positions, element_sets, college_set, measures_of, problems)
    if measures_rows:
        parse_measures_sheet(measures_rows, college_set, measures_of, problems)
    problems.raise_if_any(source)
    if not results:
        raise ReviewInputError(f"{source}: 没有数据行 / no data rows")
    findings = assemble_colleges(results, measures_of, element_sets, names, problems)
    problems.raise_if_any(source)
    return findings


def summarise(findings: Iterable[CollegeFindings], rules: Rules) -> list[Conclusion]:
    """One conclusion per college, n being the college's element set."""
    return [
        Conclusion(
            college.school_code,
            college.elements,
            college.matched,
            college.measures.label,
            conclude(college.elements, college.matched, college.measures.strong, rules),
            tuple(college.measures.lacking()),
        )
        for college in findings
    ]


# --- recording (the source of truth) -------------------------------------------------------------


def flag(value: bool | None) -> str:
    return "" if value is None else "true" if value else "false"


def record_results(
    findings: list[CollegeFindings], year: int, review_date: dt.date, source: str, imported_at: dt.datetime
) -> list[Path]:
    """One normalised CSV per college: `reviews/<year>/<school_code>.csv` (replacing an earlier import)."""
    staged: list[tuple[Path, bytes]] = []
    for college in sorted(findings, key=lambda c: c.school_code):
        measures = college.measures
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(RECORD_COLUMNS)
        for row in college.rows:
            writer.writerow(
                [
                    college.school_code,
                    year,
                    row.element_code,
                    flag(row.matched),
                    measures.label,
                    review_date.isoformat(),
                    source,
                    imported_at.isoformat(timespec="seconds"),
                    row.note,
                    flag(measures.targeted),
                    flag(measures.feasible),
                    flag(measures.effective),
                    measures.note,
                ]
            )
        staged.append((reviews_dir() / str(year) / f"{college.school_code}.csv", buffer.getvalue().encode("utf-8")))
    for path, data in staged:
        atomic_write_bytes(path, data)
    return [path for path, _ in staged]


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
    """Every recorded review under `reviews/<year>/<school_code>.csv`, sorted by college and year.

    A recorded file holds the college's whole element set (import refuses a file missing one), so its
    row count is n; files recorded before that check are read as they were.
    """
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
        reviews.append(
            RecordedReview(
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
            )
        )
    return sorted(reviews, key=lambda r: (r.school_code, r.year))


def review_history(rules: Rules) -> list[dict]:
    """The recorded reviews as the plain records sampling plans store (and the cycle view reads)."""
    return [
        {
            "school_code": r.school_code,
            "year": r.year,
            "review_date": r.review_date.isoformat(),
            "conclusion": r.conclusion,
            "improvement_deadline": r.improvement_deadline.isoformat() if r.improvement_deadline else None,
        }
        for r in load_recorded_reviews(rules)
    ]


def default_review_date(year: int, on: dt.date) -> dt.date:
    """Today for the current year, 31 December for any other year."""
    return on if on.year == year else dt.date(year, 12, 31)


def read_findings(path: Path, element_sets: ElementSets, colleges: dict[str, str]) -> list[CollegeFindings]:
    """A results file (CSV, or the template with its 改进措施 sheet), validated."""
    sheets = read_sheets(path, (TEMPLATE_SHEET, MEASURES_SHEET))
    return parse_results(sheets[None], element_sets, colleges, path.name, sheets.get(MEASURES_SHEET))
