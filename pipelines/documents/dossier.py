"""The experts' pre-review dossier (预审诊断, 细则 三(二)1) of one college before its review in year Y.

“诊改专家组依据抽样复核学校提交的相关材料及人才培养工作状态数据进行预审诊断，确定现场诊断重点”: so the
dossier puts, per element, the college's own text (附件3, mart.selfreport_elements) beside what the data
show (mart.element_warnings and its indicators), the evidence they rest on, the data's quality and the
candour prompts (mart.candour_prompts, when that table exists), after the college's profile and review
history (mart.review_conclusions, mart.review_results, mart.review_cycle, the recorded sampling plans),
and ends with ranked suggested 现场诊断重点 (pipelines/documents/focus.py).

The data year is the college's latest collection year up to Y; the self-diagnosis is its latest report
up to Y. Everything here is a prompt for the experts, never a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from dashboards.common import LEVEL_ZH
from pipelines.documents import sources
from pipelines.documents.blocks import Document, bullets, cell, element, heading, paragraph, table
from pipelines.documents.figures import (
    card_blocks,
    data_status_text,
    peer_text,
    quality_blocks,
    threshold_text,
    trend_text,
)
from pipelines.documents.focus import CONFIDENCE_ZH, ElementEvidence, rank_focus
from pipelines.secretariat.inputs import registry_rows
from pipelines.secretariat.sampling import colleges_from, lineage, recorded_plans
from pipelines.settings import now_local

TITLE = "诊改复核预审诊断材料"
FLAGGED = ("red", "yellow", "insufficient")
NO_CANDOUR = "尚无自评报告对照：数据仓库中还没有自评对照提示（mart.candour_prompts）。"


def build_dossier(conn, school_code: str, year: int) -> Document:
    college = sources.college(conn, school_code)
    data_year = college.data_year_up_to(year)
    if data_year is None:
        raise sources.DocumentRequestError(
            f"{college.school_code} {college.name_zh} 在 {year} 年及以前没有状态数据 / no data up to that year"
        )
    codes = list(lineage(school_code, colleges_from(registry_rows(conn))))
    params = {"school": school_code, "year": data_year}
    selfreport = sources.rows(conn, "documents/selfreport", school=school_code, year=year)
    report_year = selfreport[0]["year"] if selfreport else None
    candour = candour_rows(conn, school_code, report_year)
    document = Document(
        f"{college.name_zh} {year}年{TITLE}",
        f"学校代码 {college.school_code}；状态数据：{data_year}年采集；"
        + (f"自我诊改报告：{report_year}年" if report_year else "自我诊改报告：未提交")
        + f"；生成于 {now_local():%Y-%m-%d}；供诊改专家组预审使用，内容均为提示，不是结论",
    )
    document.add(*profile_blocks(conn, college, year, data_year))
    document.add(*history_blocks(conn, school_code, codes, year))
    elements = sources.rows(conn, "documents/elements", **params)
    minimum = sources.peer_min_count()
    indicators = sources.rows(conn, "documents/element_indicators", **params, peer_min_count=minimum)
    mismatched = {
        row["element_code"] for row in sources.rows(conn, "documents/review_mismatches", codes=codes, year=year)
    }
    evidence = element_evidence(elements, selfreport, candour, mismatched)
    document.heading("三、逐要素预审", 1)
    if selfreport and selfreport[0]["overview"]:
        document.add(heading("学校的自我诊改工作概述", 2), paragraph(selfreport[0]["overview"]))
    document.add(*element_sections(elements, indicators, selfreport, candour, mismatched, data_year, minimum))
    document.heading("四、数据质量", 1)
    document.add(*quality_blocks(sources.rows(conn, "documents/quality_issues", **params)))
    document.heading("五、建议现场诊断重点", 1)
    document.add(*focus_blocks(evidence, bool(selfreport)))
    return document


def candour_rows(conn, school_code: str, report_year: int | None) -> list[dict] | None:
    """The candour prompts of the college's report year; None when the table is not in the warehouse."""
    if not sources.has_table(conn, sources.CANDOUR_TABLE):
        return None
    if report_year is None:
        return []
    return sources.rows(conn, "documents/candour_prompts", school=school_code, year=report_year)


def profile_blocks(conn, college: sources.College, year: int, data_year: int) -> list[dict]:
    risk = sources.rows(conn, "documents/risk", school=college.school_code, year=data_year)
    risk_text = "无风险分（该年度无数据）"
    if risk and risk[0]["risk_score"] is not None:
        row = risk[0]
        risk_text = (
            f"{row['risk_score']}（{data_year}年全区 {row['ranked_colleges']} 所中第 {row['rank']} 位，1 为风险最高）；"
            f"红色指标 {row['red_indicators']} 项，黄色 {row['yellow_indicators']} 项，"
            f"数据不足 {row['insufficient_indicators']} 项"
        )
    rows = [
        ["学校名称", college.name_zh],
        ["学校代码", college.school_code],
        ["学校类型", college.school_type],
        ["举办性质", college.ownership],
        ["状态数据的采集年度", "、".join(str(y) for y in college.data_years) or "无"],
        [f"{data_year}年风险分", risk_text],
    ]
    if college.succeeded:
        rows.append(["沿革", "本校由更名或合并而来，复核历史含前身院校的记录"])
    cards = sources.rows(conn, "documents/card", school=college.school_code, year=data_year)
    return [heading("一、学校概况", 1), table(["项目", "内容"], rows), *card_blocks(cards)]


def history_blocks(conn, school_code: str, codes: list[str], year: int) -> list[dict]:
    conclusions = sources.rows(conn, "documents/review_history", school=school_code, codes=codes, year=year)
    blocks = [heading("二、复核历史", 1)]
    if conclusions:
        rows = [
            [
                f"{row['year']}年" + ("" if row["own"] else "（前身院校）"),
                f"{row['matched']}/{row['elements']}",
                row["measures"],
                row["conclusion"],
                row["improvement_deadline"] or "—",
                "是" if row["re_review_due"] else "否",
            ]
            for row in conclusions
        ]
        blocks.append(table(["复核年度", "相符要素", "改进措施", "结论", "改进期限", "需重新复核"], rows))
    else:
        blocks.append(paragraph("此前没有复核记录。"))
    cycles = sources.rows(conn, "documents/review_cycle", school=school_code, year=year)
    if cycles:
        rows = [
            [
                f"{c['cycle_start']}–{c['cycle_end']}",
                c["status_zh"],
                "、".join(map(str, c["planned_years"] or [])) or "—",
            ]
            for c in cycles
        ]
        blocks.append(table(["复核周期", "本周期状态", "列入抽样计划的年度"], rows, "复核周期"))
    blocks.extend(plan_blocks(school_code))
    return blocks


def plan_blocks(school_code: str) -> list[dict]:
    """The recorded sampling plans that select the college, with the plan's reason and rationale for it."""
    rows = []
    for record in recorded_plans():
        for selected in record["plan"]["selected"]:
            if selected["school_code"] == school_code:
                reasons = "；".join(selected.get("top_reasons") or [])
                rows.append(
                    [f"{record['plan']['year']}年", selected["reason_zh"], selected["rationale_zh"], reasons or "—"]
                )
    if not rows:
        return [paragraph("尚未被列入已记录的抽样计划。", "muted")]
    return [table(["计划年度", "入选类别", "入选理由", "主要预警"], rows, "抽样计划")]


def element_evidence(
    elements: list[dict], selfreport: list[dict], candour: list[dict] | None, mismatched: set[str]
) -> list[ElementEvidence]:
    texts = {row["element_code"]: row for row in selfreport}
    kinds = defaultdict(set)
    for prompt in candour or []:
        kinds[prompt["element_code"]].add(prompt["kind"])
    return [
        ElementEvidence(
            row["element_code"],
            row["element_name"],
            row["level"],
            frozenset(kinds[row["element_code"]]),
            bool(texts.get(row["element_code"], {}).get("self_diagnosis")),
            row["element_code"] in mismatched,
        )
        for row in elements
    ]


def flagged_table(rows: list[dict], year: int, minimum: int) -> dict:
    flagged = [row for row in rows if row["level"] in FLAGGED]
    if not flagged:
        return paragraph("本要素没有预警或数据不足的指标。", "muted") if rows else {}
    body = [
        [
            row["name_zh"],
            trend_text(row, year),
            threshold_text(row["qualified_value"], row, row["qualified_confidence"]),
            peer_text(row, minimum),
            cell(LEVEL_ZH.get(row["level"], row["level"]), row["level"]),
            row["sources_zh"],
        ]
        for row in flagged
    ]
    return table(["指标", "三年趋势", "合格值", "同类院校中的位置（匿名）", "预警（原因见上）", "证据（数据表）"], body)


def selfreport_blocks(text: dict | None, submitted: bool) -> list[dict]:
    if not submitted:
        return [paragraph("学校自我诊断：未提交自我诊改报告（附件3）。", "muted")]
    if not text:
        return [paragraph("学校自我诊断：报告中没有本要素。", "muted")]
    rows = [
        ["自我诊断意见", text["self_diagnosis"] or "（空）"],
        ["改进措施", text["improvement_measures"] or "（空）"],
        ["改进成效", text["improvement_effects"] or "（空）"],
    ]
    return [table(["学校自我诊断（原文）", f"{text['year']}年自我诊改报告"], rows)]


def candour_blocks(prompts: list[dict] | None, submitted: bool) -> list[dict]:
    if prompts is None:
        return [paragraph(NO_CANDOUR, "muted")]
    if not submitted:
        return [paragraph("尚无自评报告对照：学校未提交自我诊改报告。", "muted")]
    if not prompts:
        return [paragraph("自评对照：未发现数据与自我诊断不一致之处。", "muted")]
    kind_zh = {"flag_unmentioned": "数据预警未被提及", "claim_contradicted": "所述成绩与数据不符"}
    items = [
        f"{kind_zh.get(p['kind'], p['kind'])}：{p['message_zh']}"
        f"（把握程度：{CONFIDENCE_ZH.get(p['confidence'], p['confidence'])}）"
        for p in prompts
    ]
    return [paragraph("自评对照提示（供专家核实，不是结论）："), bullets(items)]


def element_sections(elements, indicators, selfreport, candour, mismatched, data_year: int, minimum: int) -> list[dict]:
    by_element = sources.by_element(indicators)
    texts = {row["element_code"]: row for row in selfreport}
    prompts = sources.by_element(candour)
    blocks = []
    for (item_code, item_name), members in groupby(elements, key=lambda e: (e["item_code"], e["item_name"])):
        blocks.append(heading(f"{item_code}. {item_name}", 2))
        for row in members:
            code = row["element_code"]
            inner = [
                paragraph(f"数据预警（{data_year}年）："),
                bullets(row["reasons"]),
                flagged_table(by_element[code], data_year, minimum),
                paragraph(data_status_text(row), "muted"),
                *selfreport_blocks(texts.get(code), bool(selfreport)),
                *candour_blocks(None if candour is None else prompts[code], bool(selfreport)),
            ]
            if code in mismatched:
                inner.append(paragraph("上一次复核：本要素的自我诊断与复核结果不相符。"))
            blocks.append(element(f"{code} {row['element_name']}", row["level"], inner))
    return blocks


def focus_blocks(evidence: list[ElementEvidence], selfreport_submitted: bool) -> list[dict]:
    suggestions, limit = rank_focus(evidence, selfreport_submitted)
    blocks = [
        paragraph(
            "按 reference/dossier_focus_rules.csv 的分值排序（每条规则对一个要素只计一次；把握程度取得分最高的规则的把握程度）。"
            "分值为本项目的取值，细则未规定；供专家组确定现场诊断重点时参考。",
            "muted",
        )
    ]
    if not selfreport_submitted:
        blocks.append(paragraph("学校未提交自我诊改报告：各要素均无法与学校的自我诊断对照，现场需逐一了解。"))
    if not suggestions:
        return [*blocks, paragraph("没有得分的要素。")]
    rows = [
        [
            rank,
            f"{s.element_code} {s.element_name}",
            f"{s.score:g}",
            "；".join(rule.description_zh for rule in s.applied),
            CONFIDENCE_ZH[s.confidence],
        ]
        for rank, s in enumerate(suggestions[:limit], start=1)
    ]
    blocks.append(table(["序号", "诊断要素", "分值", "依据", "把握程度"], rows, "建议现场诊断重点"))
    rest = suggestions[limit:]
    if rest:
        blocks.append(
            paragraph("其余得分要素：" + "；".join(f"{s.element_code} {s.element_name}（{s.score:g}）" for s in rest))
        )
    return blocks
