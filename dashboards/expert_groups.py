"""The secretariat's page and workbook of a year's review groups (exports/experts/<Y>/groups.html, .xlsx):
data in, HTML or xlsx bytes out."""

from __future__ import annotations

import io

from dashboards.common import render_page
from pipelines.excel import new_workbook, write_value, write_values


def build_groups_html(groups: list[dict], inputs: dict) -> str:
    """The secretariat's Chinese page of the year's groups, with every choice and exclusion explained
    (templates/expert_groups.html)."""
    return render_page("expert_groups.html", f"{inputs['year']} 年复核专家组", groups=groups, inputs=inputs)


XLSX_GROUP_COLUMNS = ("学校代码", "学校名称", "职务", "专家编号", "姓名", "类别", "工作单位", "入选理由")


def groups_xlsx_bytes(groups: list[dict], inputs: dict) -> bytes:
    buffer = io.BytesIO()
    workbook = new_workbook(buffer, in_memory=True)
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    sheet = workbook.add_worksheet("专家组")
    write_value(sheet, 0, 0, f"{inputs['year']} 年复核专家组（随机种子 {inputs['seed']}）")
    write_values(sheet, 2, 0, XLSX_GROUP_COLUMNS, header)
    row_no = 3
    for group in groups:
        for member in group["experts"]:
            write_values(
                sheet,
                row_no,
                0,
                [
                    group["school_code"],
                    group["name_zh"],
                    member["role"],
                    member["expert_id"],
                    member["name_zh"],
                    member["kind"],
                    member["employer_name"],
                    member["why_zh"],
                ],
            )
            row_no += 1
    excluded = workbook.add_worksheet("回避与排除")
    write_values(excluded, 0, 0, ("学校代码", "专家编号", "姓名", "类别", "原因"), header)
    rows = [(g["school_code"], x) for g in groups for x in g["excluded"]]
    for offset, (school, item) in enumerate(rows, start=1):
        write_values(
            excluded, offset, 0, [school, item["expert_id"], item["name_zh"], item["kind"], "；".join(item["why_zh"])]
        )
    problems = workbook.add_worksheet("问题")
    write_values(problems, 0, 0, ("学校代码", "学校名称", "问题"), header)
    lines = [(g["school_code"], g["name_zh"], p) for g in groups for p in g["problems"]]
    for offset, line in enumerate(lines, start=1):
        write_values(problems, offset, 0, line)
    workbook.close()
    return buffer.getvalue()
