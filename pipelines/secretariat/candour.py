"""Candour: does a college's self-diagnosis (附件3) see what its status data show? Prompts for experts, never verdicts.

Per college, report year and element, each indicator linked to the element (ref.indicator_elements)
that the data flag (red or yellow in mart.indicator_warnings of the college's latest data year up to
the report year) is looked for in the element's text, sentence by sentence, with the words of
`reference/candour_keywords.csv`:

- a *topic* sentence names the indicator (its name or a synonym; a row with an element code counts
  only in that element);
- it *acknowledges* the problem when it also holds a problem or cause word (附件3's 存在问题 and
  原因分析 words of reference/selfreport_keywords.csv, plus the file's `problem` words), or when
  the element's 改进措施 names the indicator (the measures address it);
- it *claims an achievement* when it holds a `claim` word and no problem word.

Then `claim_contradicted`: a claim about a flagged indicator (「生师比明显改善」 while the data say
生师比 is beyond its 合格 value); `flag_unmentioned`: neither acknowledged nor claimed in the element
(said with low confidence when the report acknowledges it under another element). Keyword matching
misses paraphrases and cannot read irony: each prompt carries a confidence (the lowest of the words
it rests on, low when the flag rests only on unconfirmed thresholds) and says that the experts judge.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pipelines.secretariat.selfreport import load_keywords, split_sentences
from pipelines.settings import REFERENCE_DIR

KEYWORDS_FILE = REFERENCE_DIR / "candour_keywords.csv"
FLAG_UNMENTIONED, CLAIM_CONTRADICTED = "flag_unmentioned", "claim_contradicted"
KIND_ZH = {FLAG_UNMENTIONED: "数据预警未提及", CLAIM_CONTRADICTED: "自评成绩与数据不符"}
CONFIDENCE_ORDER = ("low", "medium", "high")
LEVEL_ZH = {"red": "红色预警", "yellow": "黄色预警"}
PROMPT_NOTE = "供专家核实的提示，不是结论"
QUOTE_CHARS = 60
PROMPT_COLUMNS = ("school_code", "year", "element_code", "kind", "indicator_code", "message_zh", "confidence")


@dataclass(frozen=True)
class Word:
    keyword: str
    confidence: str


@dataclass(frozen=True)
class CandourWords:
    """The words of reference/candour_keywords.csv: topics per (indicator, element or ''), claims, problems."""

    topics: dict[tuple[str, str], tuple[Word, ...]]
    claims: tuple[Word, ...]
    problems: tuple[str, ...]

    def topics_of(self, indicator: str, element: str) -> tuple[Word, ...]:
        return self.topics.get((indicator, ""), ()) + self.topics.get((indicator, element), ())


def load_candour_words(path: Path = KEYWORDS_FILE) -> CandourWords:
    topics: dict[tuple[str, str], list[Word]] = {}
    claims, problems = [], []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            word = Word(row["keyword"].strip(), row["confidence"].strip())
            if row["role"] == "topic":
                topics.setdefault((row["indicator_code"].strip(), row["element_code"].strip()), []).append(word)
            elif row["role"] == "claim":
                claims.append(word)
            elif row["role"] == "problem":
                problems.append(word.keyword)
    aspects = load_keywords()
    problems += aspects["problem"][1] + aspects["cause"][1]
    return CandourWords({key: tuple(words) for key, words in topics.items()}, tuple(claims), tuple(problems))


@dataclass(frozen=True)
class ElementText:
    """A college's 附件3 row for one element (mart.selfreport_elements)."""

    school_code: str
    year: int
    element_code: str
    opinion: str
    measures: str
    effects: str


@dataclass(frozen=True)
class Flag:
    """A red or yellow indicator of a college's data year, linked to an element."""

    school_code: str
    report_year: int
    data_year: int
    element_code: str
    indicator_code: str
    name_zh: str
    level: str
    reason: str
    threshold_confidences: tuple[str, ...]  # per cause; '' for a cause resting on no threshold


def lowest(*levels: str) -> str:
    return min(levels, key=lambda level: CONFIDENCE_ORDER.index(level) if level in CONFIDENCE_ORDER else 0)


def first_match(text: str, words: tuple[Word, ...]) -> Word | None:
    return next((word for word in words if word.keyword in text), None)


def acknowledges(element: ElementText, topics: tuple[Word, ...], problems: tuple[str, ...]) -> bool:
    """The element names the indicator in a sentence stating a problem or cause, or in its 改进措施."""
    if first_match(element.measures, topics):
        return True
    sentences = split_sentences(element.opinion) + split_sentences(element.effects)
    return any(first_match(s, topics) and any(p in s for p in problems) for s in sentences)


def claim(element: ElementText, topics: tuple[Word, ...], words: CandourWords) -> tuple[str, str] | None:
    """The first sentence claiming an achievement about the indicator, with the confidence of its words."""
    for sentence in split_sentences(element.opinion) + split_sentences(element.effects):
        topic, claimed = first_match(sentence, topics), first_match(sentence, words.claims)
        if topic and claimed and not any(p in sentence for p in words.problems):
            return sentence.strip(), lowest(topic.confidence, claimed.confidence)
    return None


def quote(sentence: str) -> str:
    return sentence if len(sentence) <= QUOTE_CHARS else sentence[:QUOTE_CHARS] + "…"


def flag_confidence(flag: Flag) -> str:
    """Low when every cause of the flag rests on a threshold the reference data mark unconfirmed."""
    confidences = flag.threshold_confidences
    if confidences and all(c == "unconfirmed" for c in confidences):
        return "low"
    return "high"


def data_text(flag: Flag) -> str:
    return f"{flag.data_year} 年状态数据显示「{flag.name_zh}」为{LEVEL_ZH.get(flag.level, flag.level)}：{flag.reason}"


def prompt(flag: Flag, kind: str, message: str, confidence: str) -> dict:
    return {
        "school_code": flag.school_code,
        "year": flag.report_year,
        "element_code": flag.element_code,
        "kind": kind,
        "indicator_code": flag.indicator_code,
        "message_zh": f"【{KIND_ZH[kind]}，{PROMPT_NOTE}】{message}",
        "confidence": confidence,
    }


def element_prompts(
    element: ElementText, flags: list[Flag], report: list[ElementText], words: CandourWords
) -> list[dict]:
    """The prompts of one element: its flagged indicators, each claimed against the data or not acknowledged."""
    prompts = []
    for flag in flags:
        topics = words.topics_of(flag.indicator_code, element.element_code)
        if not topics:
            continue
        searched = "、".join(word.keyword for word in topics)
        base = lowest(*(word.confidence for word in topics), flag_confidence(flag))
        claimed = claim(element, topics, words)
        if claimed:
            sentence, confidence = claimed
            message = f"要素 {element.element_code} 自我诊断称「{quote(sentence)}」，而{data_text(flag)}"
            prompts.append(prompt(flag, CLAIM_CONTRADICTED, message, lowest(confidence, flag_confidence(flag))))
        elif not acknowledges(element, topics, words.problems):
            elsewhere = [
                other.element_code
                for other in report
                if other.element_code != element.element_code
                and acknowledges(other, words.topics_of(flag.indicator_code, other.element_code), words.problems)
            ]
            where = f"（报告在要素 {'、'.join(elsewhere)} 中提到该问题）" if elsewhere else ""
            message = (
                f"{data_text(flag)}；要素 {element.element_code} 的自我诊断与改进措施未见提及{where}"
                f"（检索词：{searched}；措辞不同也可能已述及，请专家核实）"
            )
            prompts.append(prompt(flag, FLAG_UNMENTIONED, message, "low" if elsewhere else base))
    return prompts


def candour_prompts(elements: list[ElementText], flags: list[Flag], words: CandourWords) -> list[dict]:
    """Every prompt, by college, report year, element and indicator (see the module's docstring)."""
    by_report: dict[tuple[str, int], list[ElementText]] = {}
    for element in elements:
        by_report.setdefault((element.school_code, element.year), []).append(element)
    by_element: dict[tuple[str, int, str], list[Flag]] = {}
    for flag in flags:
        by_element.setdefault((flag.school_code, flag.report_year, flag.element_code), []).append(flag)
    prompts = []
    for (school, year), report in sorted(by_report.items()):
        for element in sorted(report, key=lambda e: e.element_code):
            flagged = sorted(by_element.get((school, year, element.element_code), []), key=lambda f: f.indicator_code)
            prompts += element_prompts(element, flagged, report, words)
    return prompts


# --- reading the warehouse -------------------------------------------------------------------------


def data_year(years: list[int], report_year: int) -> int | None:
    """The college's latest data year up to the report year (the report of December Y reads the data of Y)."""
    earlier = [year for year in years if year <= report_year]
    return max(earlier) if earlier else None


def threshold_confidences(causes: list[str], qualified: str | None, restricted: str | None) -> tuple[str, ...]:
    by_cause = {"restricted": restricted, "qualified": qualified, "persisting": qualified}
    return tuple((by_cause.get(cause) or "") for cause in causes)


def read_inputs(conn) -> tuple[list[ElementText], list[Flag]]:
    """The recorded reports' element texts and the red and yellow indicators of each report's data year;
    nothing before the warnings exist (a warehouse without data yet)."""
    present = {
        f"{schema}.{name}"
        for schema, name in conn.execute("select schema_name, table_name from duckdb_tables()").fetchall()
    }
    if not {"mart.selfreport_elements", "mart.indicator_warnings", "ref.indicator_elements"} <= present:
        return [], []
    elements = [
        ElementText(*row)
        for row in conn.execute(
            "select school_code, year, element_code, coalesce(self_diagnosis, ''), "
            "coalesce(improvement_measures, ''), coalesce(improvement_effects, '') from mart.selfreport_elements"
        ).fetchall()
    ]
    years = dict(
        conn.execute(
            "select school_code, list(distinct year) from mart.indicator_warnings "
            "where school_code in (select school_code from mart.selfreport_elements) group by all"
        ).fetchall()
    )
    warnings: dict[tuple[str, int], list[tuple]] = {}
    for row in conn.execute(
        "select w.school_code, w.year, links.element_code, w.indicator_code, w.name_zh, w.level, "
        "coalesce(w.reasons[1], ''), w.causes, w.qualified_confidence, w.restricted_confidence "
        "from mart.indicator_warnings as w inner join ref.indicator_elements as links using (indicator_code) "
        "where w.level in ('red', 'yellow') "
        "and w.school_code in (select school_code from mart.selfreport_elements)"
    ).fetchall():
        warnings.setdefault((row[0], row[1]), []).append(row)
    flags = []
    for school, report_year in sorted({(e.school_code, e.year) for e in elements}):
        year = data_year(years.get(school) or [], report_year)
        for row in warnings.get((school, year), []):
            confidences = threshold_confidences(list(row[7] or []), row[8], row[9])
            flags.append(Flag(school, report_year, year, *row[2:7], confidences))
    return elements, flags
