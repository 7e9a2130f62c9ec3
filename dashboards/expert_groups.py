"""The secretariat's page and workbook of a year's review groups (exports/experts/<Y>/groups.html, .xlsx):
data in, HTML or xlsx bytes out."""

from __future__ import annotations

import io

from dashboards.common import page_html, text
from pipelines.excel import new_workbook, write_value, write_values


def build_groups_html(groups: list[dict], inputs: dict) -> str:
    """The secretariat's Chinese page of the year's groups, with every choice and exclusion explained."""
    parts = [
        f"<h1>{inputs['year']} 年复核专家组</h1>",
        f'<p class="muted">随机种子 {text(inputs["seed"])}；抽样计划 {text(inputs["plan_file"])}；'
        f"专家库 {len(inputs['pool'])} 人。内部资料，请勿公开（公开名单见公示网站）。</p>",
    ]
    if inputs.get("fields_note"):
        parts.append(f"<p>{text(inputs['fields_note'])}</p>")
    for group in groups:
        status = "已组成" if group["formed"] else "未能按规则组成"
        parts.append(f"<h2>{text(group['school_code'])} {text(group['name_zh'])}（{status}）</h2>")
        parts.append(
            f"<p>主要专业大类：{text('、'.join(group['fields']) or '未知')}；所在城市：{text(group['city'])}</p>"
        )
        parts += [f'<p class="problem"><strong>问题：</strong>{text(p)}</p>' for p in group["problems"]]
        rows = "".join(
            f"<tr><td>{text(m['role'])}</td><td>{text(m['name_zh'])}</td><td>{text(m['kind'])}</td>"
            f"<td>{text(m['employer_name'])}</td><td>{text(m['why_zh'])}</td></tr>"
            for m in group["experts"]
        )
        parts.append(
            '<table><caption>专家组成员</caption><thead><tr><th scope="col">职务</th>'
            '<th scope="col">姓名</th><th scope="col">类别</th><th scope="col">工作单位</th>'
            f'<th scope="col">入选理由</th></tr></thead><tbody>{rows}</tbody></table>'
        )
        if group["excluded"]:
            items = "".join(
                f"<li>{text(x['name_zh'])}（{text(x['kind'])}）：{text('；'.join(x['why_zh']))}</li>"
                for x in group["excluded"]
            )
            parts.append(f"<h3>回避与排除</h3><ul>{items}</ul>")
    return page_html(f"{inputs['year']} 年复核专家组", "\n".join(parts))


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
