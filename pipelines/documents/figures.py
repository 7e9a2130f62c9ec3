"""Sentences and cells both documents use for indicators: values with units, trends over three years,
thresholds (marked 未核实 where unconfirmed), the anonymous peer position, the official card."""

from __future__ import annotations

from dashboards.college_card import CARD_TITLE, card_label
from dashboards.common import number_text
from pipelines.documents.blocks import bullets, cell, heading, paragraph, table

SEVERITY_ZH = {"error": "错误", "warn": "提醒", "info": "信息"}
DATA_STATUS_ZH = {"sufficient": "数据可用", "insufficient": "数据不足", "no_data_coverage": "无数据覆盖"}


def value_text(value: float | None, row: dict) -> str:
    if value is None:
        return "无数值"
    return number_text(value, row["decimals"]) + (row["unit"] or "")


def trend_text(row: dict, year: int) -> str:
    """「2022年 x → 2023年 y → 2024年 z（变好）」, the years without a value left out."""
    values = [(year - 2, row["value_2y_ago"]), (year - 1, row["value_1y_ago"]), (year, row["value"])]
    shown = [f"{y}年 {value_text(v, row)}" for y, v in values if v is not None]
    if not shown:
        return "三年均无数值"
    last, before = row["value"], row["value_1y_ago"]
    if last is None or before is None or last == before:
        direction = "（持平）" if last is not None and last == before else ""
    else:
        better = last < before if row["direction"] == "lower" else last > before
        direction = "（较上年变好）" if better else "（较上年变差）"
    return " → ".join(shown) + direction


def threshold_text(value: float | None, row: dict, confidence: str | None) -> str:
    if value is None:
        return "—"
    return value_text(value, row) + ("" if confidence == "confirmed" else "（未核实）")


def peer_text(row: dict, minimum: int) -> str:
    """The college's place among same-type colleges, anonymous: a count, its rank from the best, quartiles."""
    if row["value"] is None:
        return "无数值，不作比较"
    if row["peer_count"] is None:
        return f"同类（{row['school_type']}）有数值的院校 {row['peers_with_value']} 所，不足 {minimum} 所，不作比较"
    return (
        f"同类（{row['school_type']}）{row['peer_count']} 所中居第 {row['peer_rank_from_best']} 位（由好到差）；"
        f"同类中位数 {value_text(row['peer_median'], row)}，"
        f"四分位 {value_text(row['peer_q1'], row)}–{value_text(row['peer_q3'], row)}"
    )


def against_threshold(row: dict) -> tuple[str, str | None]:
    """The year's value against 合格 and 限制招生 (教发〔2004〕2号), with a level to colour it."""
    value, direction = row["value"], row["direction"]
    if row["exempt"]:
        return f"按规定豁免，视为合格（{row['exempt_reason_zh'] or ''}）", "green"
    if value is None:
        return "数据不足", "insufficient"

    def beyond(limit: float) -> bool:
        return value > limit if direction == "lower" else value < limit

    restricted = row["restricted_value"]
    if restricted is not None and beyond(restricted):
        unconfirmed = "" if row["restricted_confidence"] == "confirmed" else "（该限制招生值未核实）"
        return "未达限制招生值" + unconfirmed, "red"
    if beyond(row["qualified_value"]):
        return "未达合格值", "yellow"
    return "达到合格值", "green"


def card_blocks(cards: list[dict]) -> list[dict]:
    if not cards:
        return [paragraph(f"{CARD_TITLE}：无数据。", "muted")]
    rows = [[f"{card['year']}年", card_label(card), "；".join(card["reasons_zh"] or [])] for card in cards]
    return [
        heading(CARD_TITLE, 2),
        paragraph(
            "教育部对五项基本办学条件指标的官方结论，不同于本系统给诊断要素的预警颜色；高职的限制招生值均为未核实的常见引述值。",
            "muted",
        ),
        table(["采集年度", "结论", "依据"], rows),
    ]


def basic_figures_table(indicators: list[dict], year: int) -> dict:
    """The 资源表-style table: every indicator with a 合格 value, three years, 合格 and 限制招生 values."""
    rows = []
    for row in indicators:
        verdict, level = against_threshold(row)
        rows.append(
            [
                row["name_zh"],
                value_text(row["value_2y_ago"], row) if row["value_2y_ago"] is not None else "—",
                value_text(row["value_1y_ago"], row) if row["value_1y_ago"] is not None else "—",
                value_text(row["value"], row),
                threshold_text(row["qualified_value"], row, row["qualified_confidence"]),
                threshold_text(row["restricted_value"], row, row["restricted_confidence"]),
                cell(verdict, level),
            ]
        )
    headers = ["指标", f"{year - 2}年", f"{year - 1}年", f"{year}年", "合格值", "限制招生值", f"{year}年对照"]
    return table(headers, rows, "表1 基本办学条件与监测指标（合格值、限制招生值：教发〔2004〕2号，按学校类型）")


def quality_blocks(issues: list[dict], limit: int = 40) -> list[dict]:
    """The year's data-quality findings, errors and reminders listed, information only counted."""
    shown = [issue for issue in issues if issue["severity"] in ("error", "warn")]
    infos = len(issues) - len(shown)
    if not shown:
        summary = "本年度数据质量检查未发现错误或需提醒的问题。"
        return [paragraph(summary + (f"另有 {infos} 条信息（如单位换算）。" if infos else ""))]
    errors = sum(1 for issue in shown if issue["severity"] == "error")
    rows = [
        [
            cell(SEVERITY_ZH[issue["severity"]], "red" if issue["severity"] == "error" else "yellow"),
            f"表{issue['table_code']} {issue['table_name'] or ''}".strip() if issue["table_code"] else "—",
            issue["failed_count"],
            issue["message_zh"],
        ]
        for issue in shown[:limit]
    ]
    blocks = [
        paragraph(f"错误 {errors} 条，提醒 {len(shown) - errors} 条，信息 {infos} 条。"),
        table(["类别", "数据表", "问题行数", "说明"], rows),
    ]
    if len(shown) > limit:
        blocks.append(paragraph(f"另有 {len(shown) - limit} 条未列出，见该校数据质量报告。", "muted"))
    return blocks


def coverage_bullets(points: list[dict]) -> dict:
    """The element's points the status data cannot speak to."""
    items = []
    for point in points:
        label = f"诊断点 {point['element_code']}-{point['point_no']} {point['point_name']}"
        if point["coverage"] == "no_coverage":
            items.append(f"{label}：未引用状态数据平台的数据表（无数据覆盖），需依据其他材料诊断。")
        elif point["coverage"] == "no_indicator":
            items.append(
                f"{label}：引用了表{'、表'.join(point['tables'])}，但目前没有与其含义相符的指标（无适用指标）。"
            )
    return bullets(items)


def data_status_text(row: dict) -> str:
    """quality.element_data_status in one sentence; reasons the element's list already gives are not repeated."""
    status = DATA_STATUS_ZH.get(row["data_status"], "无数据")
    detail = (row["data_status_zh"] or "").removeprefix("数据不足：")
    if detail and any(detail in reason for reason in row["reasons"]):
        detail = "原因见上"
    return f"数据质量：{status}" + (f"（{detail}）" if detail else "") + "。"
