"""The secretariat's files: the experts' Excel template, and a sampling plan's plan.json, plan.xlsx and plan.html.

Every file is written through `pipelines.files.atomic_write_bytes` (a temporary file in the same folder, then a rename),
so a reader never sees half a plan. Excel cells from data are values, never formulas (`pipelines.excel`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

from pipelines.excel import new_workbook, set_up_printing, set_up_table, write_value, write_values
from pipelines.files import atomic_write_bytes

TEMPLATE_SHEET = "复核结果"
MEASURES_SHEET = "改进措施"
NOTES_SHEET = "填写说明"
TEMPLATE_INPUT_ROWS = 200  # rows below the pre-filled ones that keep their lists, for colleges added by hand
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
    """Sheets 复核结果 (a row per college and element), 改进措施 (a row per college) and 填写说明.

    The sheets are protected with only the input columns unlocked (the names are shown, never read);
    element codes are chosen from the list on 填写说明, the judgements from 相符/不相符 and 是/否."""
    rows = list(rows)
    listed = {code for code, _ in elements}
    # a college's registered element set may hold codes beyond 附件2's: they join the list
    elements = [
        *elements,
        *dict.fromkeys(
            (r["element_code"], r.get("element_name") or "")
            for r in rows
            if r.get("element_code") and r["element_code"] not in listed
        ),
    ]
    buffer = io.BytesIO()
    workbook = new_workbook(buffer, in_memory=True)
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    editable = workbook.add_format({"num_format": "@", "locked": False})
    shown = workbook.add_format({"num_format": "@", "locked": True, "bg_color": "#F2F2F2"})
    yes_no = {"validate": "list", "source": ["是", "否"]}
    notes_lines = [*TEMPLATE_NOTES, "", "诊断要素代码（附件2）"]
    first, last = len(notes_lines) + 1, len(notes_lines) + max(len(elements), 1)  # 1-based rows on 填写说明
    element_list = {
        "validate": "list",
        "source": f"='{NOTES_SHEET}'!$A${first}:$A${last}",
        "error_message": "请从 填写说明 所列的诊断要素代码中选择",
    }

    def table(name: str, headers, widths, data: Iterable[dict], lists: dict[int, dict], read_only: set[int]) -> None:
        sheet = workbook.add_worksheet(name)
        write_values(sheet, 0, 0, [title for _, title in headers], header)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width, shown if col in read_only else editable)
        count = 0
        for count, row in enumerate(data, start=1):
            for col, (key, _) in enumerate(headers):
                write_value(sheet, count, col, str(row.get(key) or ""), shown if col in read_only else editable)
        last_row = max(count, TEMPLATE_INPUT_ROWS)
        for col, validation in lists.items():
            sheet.data_validation(1, col, last_row, col, validation)
        set_up_table(sheet, 0, count, len(headers) - 1)
        sheet.protect("", {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True})

    table(
        TEMPLATE_SHEET,
        TEMPLATE_HEADERS,
        (10, 28, 12, 20, 22, 40),
        rows,
        {2: element_list, 4: {"validate": "list", "source": ["相符", "不相符"]}},
        {1, 3},
    )
    table(
        MEASURES_SHEET,
        MEASURES_HEADERS,
        (10, 28, 16, 16, 16, 40),
        measures_rows,
        {2: yes_no, 3: yes_no, 4: yes_no},
        {1},
    )
    notes = workbook.add_worksheet(NOTES_SHEET)
    for line_no, line in enumerate(notes_lines):
        write_value(notes, line_no, 0, line)
    as_text = workbook.add_format({"num_format": "@"})
    for offset, (code, name) in enumerate(elements):
        write_values(notes, len(notes_lines) + offset, 0, [code, name], as_text)
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
    ("submission_reasons", "材料提交情况"),
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
        cells = [row.get(k) for k, _ in EXCEL_COLUMNS]
        values = ["\n".join(cell) if isinstance(cell, list) else cell for cell in cells]
        write_values(sheet, offset, 0, values, wrap)
    for col, width in enumerate((6, 10, 28, 12, 60, 60, 50, 8, 8, 12)):
        sheet.set_column(col, col, width)
    set_up_table(sheet, 3, 3 + len(plan["selected"]), len(EXCEL_COLUMNS) - 1)
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
    notes.set_column(0, 0, 100)
    set_up_printing(notes)
    risk = workbook.add_worksheet("风险快照")
    names = {college["school_code"]: college["name_zh"] for college in inputs["colleges"]}
    columns = ("school_code", "name_zh", "risk_score", "red_count", "yellow_count", "insufficient_count", "rank")
    write_values(risk, 0, 0, ["学校代码", "学校名称", "风险分", "红色要素", "黄色要素", "数据不足要素", "排名"], header)
    snapshot = inputs["risk_snapshot"]["rows"]
    for offset, row in enumerate(snapshot, start=1):
        write_values(
            risk, offset, 0, [names.get(row["school_code"], "") if c == "name_zh" else row[c] for c in columns]
        )
    for col, width in enumerate((10, 28, 8, 10, 10, 12, 6)):
        risk.set_column(col, col, width)
    set_up_table(risk, 0, len(snapshot), len(columns) - 1)
    workbook.close()
    return buffer.getvalue()


def record_plan(folder: Path, inputs: dict, plan: dict, versions: list[dict] | None = None) -> dict[str, Path]:
    """plan.xlsx, plan.html and plan.json (every input beside the plan) in `folder`; the JSON last.

    `versions` (a redraw): the earlier plans of the year, each kept under `folder/v<n>/`, with why
    they were redrawn; plan.json keeps its `inputs` and `plan` keys and adds `versions`."""
    from dashboards.sampling_report import build_plan_html

    record = {"inputs": inputs, "plan": plan, **({"versions": versions} if versions else {})}
    paths = {"json": folder / "plan.json", "xlsx": folder / "plan.xlsx", "html": folder / "plan.html"}
    html = build_plan_html(plan).encode("utf-8")
    xlsx = plan_xlsx_bytes(plan, inputs)
    atomic_write_bytes(paths["xlsx"], xlsx)
    atomic_write_bytes(paths["html"], html)
    atomic_write_bytes(paths["json"], json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
    return paths


def keep_earlier_plan(folder: Path, record: dict, reason: str, redrawn_at: str) -> list[dict]:
    """Copy the recorded plan's files to `folder/v<n>/` and return every earlier version, this one last."""
    versions = list(record.get("versions") or [])
    number = len(versions) + 1
    kept = folder / f"v{number}"
    for name in ("plan.json", "plan.xlsx", "plan.html"):
        if (folder / name).is_file():
            atomic_write_bytes(kept / name, (folder / name).read_bytes())
    plan = record["plan"]
    versions.append(
        {
            "version": number,
            "seed": plan["seed"],
            "as_of": plan["as_of"],
            "risk_year": plan["risk_year"],
            "selected": [row["school_code"] for row in plan["selected"]],
            "redrawn_at": redrawn_at,
            "redraw_reason": reason,
            "folder": kept.name,
        }
    )
    return versions
