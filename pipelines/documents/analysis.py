"""The status-data analysis report (人才培养工作状态数据分析报告) of one college and collection year.

Structure (reference/SOURCES.md, "Analysis report and dossier"): a 说明 on where the data come from and
how to read them (as the 评估中心's 教学状态数据分析报告 opens); 一、学校基本情况 with the basic running-
condition figures against the 合格 values (as the 2011 平台数据分析报告's 办学基本情况综述 and 表1) and the
official card; 二、per diagnostic item and element (附件2) its indicators, their three-year trend, the
college's anonymous place among same-type colleges and the element's data status; 三、data quality;
四、what the status data cannot say (elements and points without coverage). Sections 二 and 四 follow the
project's element structure; that order is ours, not a published template's.
"""

from __future__ import annotations

from itertools import groupby

from dashboards.common import LEVEL_ZH
from pipelines.documents import sources
from pipelines.documents.blocks import Document, bullets, cell, element, heading, paragraph, table
from pipelines.documents.figures import (
    basic_figures_table,
    card_blocks,
    coverage_bullets,
    data_status_text,
    peer_text,
    quality_blocks,
    trend_text,
)
from pipelines.settings import now_local

TITLE = "人才培养工作状态数据分析报告"


def build_analysis(conn, school_code: str, year: int) -> Document:
    """The report of `school_code` for collection year `year`, from the published warehouse."""
    college = sources.college(conn, school_code)
    sources.require_data_year(college, year)
    minimum = sources.peer_min_count()
    params = {"school": school_code, "year": year}
    document = Document(
        f"{college.name_zh}{year}年{TITLE}",
        f"学校代码 {college.school_code}；采集年度 {year}（{year - 1}年9月1日至{year}年8月31日）；"
        f"生成于 {now_local():%Y-%m-%d}，由状态数据自动生成，学校可在此基础上修改补充",
    )
    document.add(*explanation_blocks(minimum))
    document.add(*profile_blocks(conn, college, year))
    elements = sources.rows(conn, "documents/elements", **params)
    indicators = sources.rows(conn, "documents/element_indicators", **params, peer_min_count=minimum)
    points = sources.rows(conn, "documents/points")
    document.heading("二、诊断项目与要素分析", 1)
    document.add(*element_sections(elements, indicators, points, year, minimum))
    document.heading("三、数据质量", 1)
    document.add(*quality_blocks(sources.rows(conn, "documents/quality_issues", **params)))
    document.heading("四、状态数据不能说明的内容", 1)
    document.add(*uncovered_blocks(elements, points))
    return document


def explanation_blocks(minimum: int) -> list[dict]:
    return [
        heading("说明", 1),
        bullets(
            [
                "本报告的数据全部来自学校报送的人才培养工作状态数据（经本平台导入、检查后的数据仓库）；"
                "时点数（在校生、面积等）为学年末数值。",
                "指标的计算方法、合格值和限制招生值见《普通高等学校基本办学条件指标（试行）》（教发〔2004〕2号）"
                "及本平台的指标目录；标有“未核实”的标准值尚未找到可引用的原文，以秘书处核实为准。",
                f"与同类院校的比较只给出匿名的统计量（院校数、位次、中位数、四分位），不出现其他学校的名称或代码；"
                f"同类院校（学校类型相同）有数值的不足 {minimum} 所时不作比较。",
                "要素预警（红、黄、绿、数据不足）是本平台依据规则给出的提示，不是诊断结论；"
                "无数据覆盖、无适用指标的要素和诊断点需学校依据其他材料自行诊断（见第四部分）。",
            ]
        ),
    ]


def profile_blocks(conn, college: sources.College, year: int) -> list[dict]:
    params = {"school": college.school_code, "year": year}
    years = "、".join(str(y) for y in college.data_years)
    profile = table(
        ["项目", "内容"],
        [
            ["学校名称", college.name_zh],
            ["学校代码", college.school_code],
            ["学校类型（决定合格值）", college.school_type],
            ["举办性质", college.ownership],
            ["数据仓库中的采集年度", years],
        ],
    )
    return [
        heading("一、学校基本情况", 1),
        profile,
        heading("基本办学条件", 2),
        basic_figures_table(sources.rows(conn, "documents/basic_indicators", **params), year),
        *card_blocks(sources.rows(conn, "documents/card", **params)),
    ]


def indicator_table(rows: list[dict], year: int, minimum: int) -> dict:
    if not rows:
        return paragraph("本要素没有指标。", "muted")
    body = [
        [
            row["name_zh"],
            f"{row['point_no']} {row['point_name'] or ''}".strip(),
            trend_text(row, year),
            peer_text(row, minimum),
            cell(level_text(row), row["level"]),
        ]
        for row in rows
    ]
    return table(["指标", "对应诊断点", "三年趋势", "同类院校中的位置（匿名）", "预警"], body)


def level_text(row: dict) -> str:
    return LEVEL_ZH.get(row["level"], row["level"])


def element_sections(elements: list[dict], indicators: list[dict], points: list[dict], year: int, minimum: int):
    by_element, points_of = sources.by_element(indicators), sources.by_element(points)
    blocks = []
    for (item_code, item_name), members in groupby(elements, key=lambda e: (e["item_code"], e["item_name"])):
        blocks.append(heading(f"{item_code}. {item_name}", 2))
        for row in members:
            code = row["element_code"]
            blocks.append(
                element(
                    f"{code} {row['element_name']}",
                    row["level"],
                    [
                        bullets(row["reasons"]),
                        indicator_table(by_element[code], year, minimum) if row["indicator_count"] else {},
                        paragraph(data_status_text(row), "muted"),
                        coverage_bullets(points_of[code]),
                    ],
                )
            )
    return blocks


def uncovered_blocks(elements: list[dict], points: list[dict]) -> list[dict]:
    whole = [e for e in elements if e["level"] in ("no_coverage", "no_indicator")]
    covered_codes = {e["element_code"] for e in whole}
    partial = [p for p in points if p["coverage"] != "covered" and p["element_code"] not in covered_codes]
    blocks = [
        paragraph(
            "以下要素或诊断点，状态数据平台没有相应的数据表，或有数据表而没有含义相符的指标。"
            "对这些内容，本报告不作数据判断，请学校依据制度文件、过程记录等其他材料自行诊断。"
        )
    ]
    if whole:
        blocks.append(
            table(
                ["诊断要素", "情况"],
                [[f"{e['element_code']} {e['element_name']}", cell(e["level_zh"], e["level"])] for e in whole],
                "整个要素",
            )
        )
    if partial:
        blocks.append(paragraph("其余要素中未被覆盖的诊断点：", "muted"))
        blocks.append(coverage_bullets(partial))
    return blocks
