"""The secretariat's files: the experts' Excel template, and a sampling plan's plan.json, plan.xlsx and plan.html.

Every file is written through `pipelines.files.atomic_write_bytes` (a temporary file in the same folder, then a rename),
so a reader never sees half a plan. Excel cells from data are values, never formulas (`pipelines.excel`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

from pipelines.excel import new_workbook, write_value, write_values
from pipelines.files import atomic_write_bytes

TEMPLATE_SHEET = "复核结果"
MEASURES_SHEET = "改进措施"
NOTES_SHEET = "填写说明"
TEMPLATE_HEADERS = (
    ("school_code", "学校代码"),
    ("school_name", "学校名称"),
    ("element_code", "诊断要素代码"),
    ("element_name", "诊断要素名称"),
    ("matched", "诊断是否相符（相符/不相符）"),
    ("note", "说明（不相符时写明专家的诊断）"),
)
MEASURES_HEADERS = (
    ("school_code", "学校代码"),
    ("school_name", "学校名称"),
    ("targeted", "针对性强（是/否）"),
    ("feasible", "切实可行（是/否）"),
    ("effective", "成效明显（是/否）"),
    ("note", "说明"),
)
TEMPLATE_NOTES = (
    "“复核结果”表：每所学校每个诊断要素填一行；学校代码为院校名册中的 5 位代码。",
    "诊断是否相符：学校对该要素的自我诊断与专家诊断是否相符，填 相符 或 "
    "不相符（也可填 是/否、1/0）；不相符时在“说明”中写明专家的诊断。",
    "每所学校须填齐其全部诊断要素（附件2 的 15 个，或该校登记的要素集）：缺少要素的文件不予导入。",
    "“改进措施”表：每所学校填一行，对其改进措施分别判断 针对性强、切实可行、成效明显，各填 是 或 否。",
    "学校名称、诊断要素名称两列仅供查看，导入时不读取。",
    "结论规则（实施细则 四）：相符要素数 ≥ 要素总数的 12/15 且改进措施针对性强、切实可行、成效明显（三项均为“是”）为“有效”；"
    "相符数 < 10/15 且改进措施不强（任一项为“否”）为“异常”；其余为“待改进”。",
)


# --- the experts' template -----------------------------------------------------------------------


def template_xlsx_bytes(rows: Iterable[dict], measures_rows: Iterable[dict], elements: list[tuple[str, str]]) -> bytes:
    """Sheets 复核结果 (a row per college and element), 改进措施 (a row per college) and 填写说明."""
    buffer = io.BytesIO()
    workbook = new_workbook(buffer, in_memory=True)
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    as_text = workbook.add_format({"num_format": "@"})
    yes_no = {"validate": "list", "source": ["是", "否"]}

    def table(name: str, headers, widths, data: Iterable[dict], lists: dict[int, dict]) -> None:
        sheet = workbook.add_worksheet(name)
        write_values(sheet, 0, 0, [title for _, title in headers], header)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width, as_text)
        count = 0
        for count, row in enumerate(data, start=1):
            write_values(sheet, count, 0, [str(row.get(key) or "") for key, _ in headers], as_text)
        for col, validation in lists.items():
            sheet.data_validation(1, col, max(count, 200), col, validation)
        sheet.freeze_panes(1, 0)

    table(
        TEMPLATE_SHEET,
        TEMPLATE_HEADERS,
        (10, 28, 12, 20, 22, 40),
        rows,
        {4: {"validate": "list", "source": ["相符", "不相符"]}},
    )
    table(MEASURES_SHEET, MEASURES_HEADERS, (10, 28, 16, 16, 16, 40), measures_rows, {2: yes_no, 3: yes_no, 4: yes_no})
    notes = workbook.add_worksheet(NOTES_SHEET)
    lines = [*TEMPLATE_NOTES, "", "诊断要素代码（附件2）"]
    for line_no, line in enumerate(lines):
        write_value(notes, line_no, 0, line)
    for offset, (code, name) in enumerate(elements):
        write_values(notes, len(lines) + offset, 0, [code, name], as_text)
    notes.set_column(0, 0, 14)
    notes.set_column(1, 1, 30)
    workbook.close()
    return buffer.getvalue()


def write_template(
    path: Path,
    rows: Iterable[dict] = (),
    measures_rows: Iterable[dict] = (),
    elements: list[tuple[str, str]] | None = None,
) -> Path:
    """The experts' template at `path` (rows pre-filled if given)."""
    if elements is None:
        from pipelines.secretariat.inputs import element_codes, element_sort_key

        elements = sorted(element_codes().items(), key=lambda item: element_sort_key(item[0]))
    atomic_write_bytes(path, template_xlsx_bytes(rows, measures_rows, elements))
    return path


# --- a sampling plan -----------------------------------------------------------------------------

EXCEL_COLUMNS = (
    ("rank", "序号"),
    ("school_code", "学校代码"),
    ("name_zh", "学校名称"),
    ("reason_zh", "入选方式"),
    ("rationale_zh", "入选理由"),
    ("top_reasons", "主要预警原因"),
    ("risk_score", "风险分"),
    ("risk_rank", "风险排名"),
    ("last_reviewed_year", "上次复核年份"),
)


def plan_xlsx_bytes(plan: dict, inputs: dict) -> bytes:
    """The plan as a workbook: 抽样计划 (who and why), 说明 (quotas, notes, exclusions), 风险快照."""
    buffer = io.BytesIO()
    workbook = new_workbook(buffer, in_memory=True)
    bold = workbook.add_format({"bold": True})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet("抽样计划")
    write_value(sheet, 0, 0, f"{plan['year']} 年复核抽样计划（周期 {plan['cycle_start']}—{plan['cycle_end']}）", bold)
    write_value(
        sheet,
        1,
        0,
        f"依据：{plan['risk_year']} 年风险快照 {plan['risk_snapshot_sha256'][:12]}；"
        f"随机种子 {plan['seed']}；截至 {plan['as_of']}",
    )
    write_values(sheet, 3, 0, [title for _, title in EXCEL_COLUMNS], header)
    for offset, row in enumerate(plan["selected"], start=4):
        values = [("\n".join(row[k]) if k == "top_reasons" else row[k]) for k, _ in EXCEL_COLUMNS]
        write_values(sheet, offset, 0, values, wrap)
    for col, width in enumerate((6, 10, 28, 12, 60, 60, 8, 8, 12)):
        sheet.set_column(col, col, width)
    notes = workbook.add_worksheet("说明")
    lines = [
        f"在办院校 {plan['active_colleges']} 所，本周期至少复核 {plan['cycle_target']} 所，"
        f"各年名额 {'|'.join(map(str, plan['year_quotas']))}",
        f"本周期此前已复核或已列入计划 {plan['covered_before']} 所；本年新抽 {plan['places']} 所"
        f"（风险 {plan['risk_places']}、随机 {plan['random_places']}）",
        *plan["notes"],
        "",
        "未列入的院校",
        *[f"{e['school_code']} {e['name_zh']}：{e['why_zh']}" for e in plan["excluded"]],
    ]
    for line_no, line in enumerate(lines):
        write_value(notes, line_no, 0, line)
    risk = workbook.add_worksheet("风险快照")
    columns = ("school_code", "risk_score", "red_count", "yellow_count", "insufficient_count", "rank")
    write_values(risk, 0, 0, ["学校代码", "风险分", "红色要素", "黄色要素", "数据不足要素", "排名"], header)
    for offset, row in enumerate(inputs["risk_snapshot"]["rows"], start=1):
        write_values(risk, offset, 0, [row[c] for c in columns])
    workbook.close()
    return buffer.getvalue()


def record_plan(folder: Path, inputs: dict, plan: dict) -> dict[str, Path]:
    """plan.xlsx, plan.html and plan.json (every input beside the plan) in `folder`; the JSON last."""
    from dashboards.sampling_report import build_plan_html

    record = {"inputs": inputs, "plan": plan}
    paths = {"json": folder / "plan.json", "xlsx": folder / "plan.xlsx", "html": folder / "plan.html"}
    html = build_plan_html(plan).encode("utf-8")
    xlsx = plan_xlsx_bytes(plan, inputs)
    atomic_write_bytes(paths["xlsx"], xlsx)
    atomic_write_bytes(paths["html"], html)
    atomic_write_bytes(paths["json"], json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
    return paths
