"""The official card of 教发〔2004〕2号 (mart.college_card) as HTML, for the college dashboard and the
province overview. Its name is kept apart from the project's element colours everywhere: the card
is "办学条件黄牌/红牌（教发〔2004〕2号）", an element level is "要素预警：红色/黄色"."""

from __future__ import annotations

import polars as pl

from dashboards.common import text

CARD_TITLE = "办学条件黄牌/红牌（教发〔2004〕2号）"
CARD_ZH = {
    "合格": "合格",
    "未达合格": "未达合格值（不定黄牌/红牌）",
    "限制招生": "限制招生（办学条件黄牌）",
    "暂停招生": "暂停招生（办学条件红牌）",
    "数据不足": "数据不足，无法确定",
}
CARD_CLASS = {"合格": "level-green", "未达合格": "", "限制招生": "card-yellow", "暂停招生": "card-red", "数据不足": ""}
# The card-* outlines are in the site stylesheet (dashboards/templates/site.css).
CARD_NOTE = (
    f'<p class="muted">{CARD_TITLE}是教育部对全校五项基本办学条件指标（生师比、具有研究生学位教师比例、生均教学行政用房、'
    "生均教学科研仪器设备值、生均图书）的官方结论：一项低于限制招生值为限制招生（黄牌），两项及以上、或连续三年黄牌为暂停招生（红牌）。"
    "它不同于本系统给诊断要素的预警颜色（要素预警：红色/黄色）。高职的限制招生值未找到可引用的原文，均为未核实的常见引述值，"
    "标有“依据未核实的标准值”的结论以秘书处核实为准。</p>"
)


def card_label(row: dict) -> str:
    label = CARD_ZH.get(row["card"], row["card"])
    return label + ("（依据未核实的标准值）" if row["rests_on_unconfirmed"] else "")


def college_card_html(cards: pl.DataFrame | None) -> str:
    """One row per year: the card, its reasons, and whether it rests on unconfirmed thresholds."""
    if cards is None or cards.height == 0:
        return ""
    rows = "".join(
        f'<tr class="{CARD_CLASS.get(row["card"], "")}"><td>{row["year"]}年</td>'
        f'<td class="card-badge">{text(card_label(row))}</td>'
        f"<td>{''.join(f'<p>{text(reason)}</p>' for reason in row['reasons_zh'])}</td></tr>"
        for row in cards.sort("year", descending=True).iter_rows(named=True)
    )
    return f"<h2>{CARD_TITLE}</h2>{CARD_NOTE}<table><tr><th>采集年度</th><th>结论</th><th>依据</th></tr>{rows}</table>"


def province_cards_html(cards: pl.DataFrame | None, year: int, names: dict[str, str]) -> str:
    """The colleges carded 限制招生 or 暂停招生 in `year`, and how many colleges got each card."""
    if cards is None or cards.height == 0:
        return ""
    of_year = cards.filter(pl.col("year") == year)
    counts = dict(of_year.group_by("card").len().iter_rows())
    summary = "，".join(f"{CARD_ZH[card]} {counts[card]} 所" for card in CARD_ZH if counts.get(card))
    carded = of_year.filter(pl.col("card").is_in(["限制招生", "暂停招生"])).sort(
        "card", "school_code", descending=[True, False]
    )
    rows = "".join(
        f'<tr class="{CARD_CLASS[row["card"]]}"><td>{text(names.get(row["school_code"]) or row["school_code"])}</td>'
        f'<td class="card-badge">{text(card_label(row))}</td><td>{text("；".join(row["reasons_zh"]))}</td></tr>'
        for row in carded.iter_rows(named=True)
    )
    table = (
        f"<table><tr><th>学校</th><th>结论</th><th>依据</th></tr>{rows}</table>"
        if rows
        else '<p class="muted">本年度没有学校被确定为限制招生或暂停招生。</p>'
    )
    return f"<h2>{year}年{CARD_TITLE}</h2>{CARD_NOTE}<p>{text(summary)}。</p>{table}"
