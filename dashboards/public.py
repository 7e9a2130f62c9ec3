"""Pages of the public disclosure site (方案 二(三), 四(三)): data in, HTML out, no I/O.

Every page stands alone: its CSS is inline, there is no script, links are relative, so a college's
folder can be copied to its own website as it is. Tables have captions and column headers, text
is dark on white (contrast above 7:1), wide tables scroll inside their box at phone width, and
the print style drops the navigation.
"""

from __future__ import annotations

from dashboards.common import attr, number_text, text

PUBLIC_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 0 auto;
       max-width: 60rem; padding: 1rem; color: #1a1a1a; background: #fff; line-height: 1.6; font-size: 1rem; }
h1 { font-size: 1.45rem; margin: .3rem 0; } h2 { font-size: 1.2rem; border-bottom: 2px solid #ccc; margin-top: 1.8rem; }
h3 { font-size: 1.05rem; }
a { color: #0b4f8a; } a:focus { outline: 3px solid #0b4f8a; outline-offset: 2px; }
nav ul { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .95rem; }
caption { text-align: left; font-weight: bold; padding: .2rem 0; }
th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef2f6; white-space: nowrap; } td.num { text-align: right; white-space: nowrap; }
.muted { color: #4a4a4a; font-size: .9rem; }
.plan p { margin: .5rem 0; }
footer { margin-top: 2rem; border-top: 1px solid #ccc; padding-top: .5rem; font-size: .9rem; color: #4a4a4a; }
@media (max-width: 480px) { body { padding: .6rem; font-size: .95rem; } th, td { padding: .25rem .35rem; } }
@media print { nav, .skip { display: none; } body { max-width: none; } a { color: #000; }
               .scroll { overflow: visible; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; }
"""
FOOTER = (
    "本网站依据《广西壮族自治区高等职业院校内部质量保证体系诊断与改进实施方案》公布诊改相关信息，接受社会监督。"
    "公开范围由 reference/disclosure.csv 规定。"
)


def public_page(title: str, body: str, nav: list[tuple[str, str]]) -> str:
    links = "".join(f'<li><a href="{attr(href)}">{text(label)}</a></li>' for href, label in nav)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{PUBLIC_CSS}</style>\n</head>\n<body>\n"
        '<a class="skip" href="#main">跳到正文</a>\n'
        f'<header><nav aria-label="网站导航"><ul>{links}</ul></nav></header>\n'
        f'<main id="main">\n<h1>{text(title)}</h1>\n{body}\n</main>\n'
        f"<footer>{text(FOOTER)}</footer>\n</body>\n</html>\n"
    )


def table(caption: str, headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """A captioned table; `rows` hold HTML already escaped; columns in `numeric` align right."""
    if not rows:
        return f"<p>{text(caption)}：暂无。</p>"
    head = "".join(f'<th scope="col">{text(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><caption>{text(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def link(href: str, label: str) -> str:
    return f'<a href="{attr(href)}">{text(label)}</a>'


def home_body(years: list[int], colleges: list[dict], removed_count: int) -> str:
    year_links = "".join(f"<li>{link(f'years/{y}.html', f'{y} 年抽样复核')}</li>" for y in years)
    college_rows = [
        [
            text(c["school_code"]),
            link(f"schools/{c['school_code']}/index.html", c["name_zh"]),
            text("、".join(map(str, c["review_years"])) or "—"),
        ]
        for c in colleges
    ]
    return (
        "<p>广西高等职业院校内部质量保证体系诊断与改进（诊改）信息公开：政策文件、抽样复核学校、复核专家组名单、"
        "复核结论、回访结果、学校自我诊改报告及学校人才培养工作状态数据。</p>"
        f"<h2>政策文件</h2><ul><li>{link('plan.html', '实施方案与实施细则')}</li>"
        f"<li>{link('rules.html', '抽样复核与专家组规则')}</li></ul>"
        f"<h2>各年抽样复核</h2>{'<ul>' + year_links + '</ul>' if year_links else '<p>暂无。</p>'}"
        f"<h2>专家库除名公布</h2><p>{link('experts/removed.html', f'被除名专家名单（{removed_count} 人）')}</p>"
        + "<h2>各校公开信息</h2>"
        + table("院校名单", ["学校代码", "学校名称", "抽样复核年份"], college_rows)
    )


def plan_body(plan_text: str) -> str:
    paragraphs = [p.strip() for p in plan_text.split("\n") if p.strip()]
    return '<div class="plan">' + "".join(f"<p>{text(p)}</p>" for p in paragraphs) + "</div>"


def rules_body(sampling: list[dict], experts: list[dict], elements: list[dict]) -> str:
    return (
        table(
            "抽样复核规则（reference/sampling_rules.csv）",
            ["参数", "取值", "说明"],
            [[text(r["parameter"]), text(r["value"]), text(r["description_zh"])] for r in sampling],
        )
        + table(
            "专家组规则（reference/expert_rules.csv）",
            ["参数", "取值", "说明", "依据"],
            [[text(r["parameter"]), text(r["value"]), text(r["description_zh"]), text(r["source"])] for r in experts],
        )
        + table(
            "诊断要素（附件 2）",
            ["要素代码", "诊断要素"],
            [[text(e["element_code"]), text(e["element_name"])] for e in elements],
        )
    )


def members_table(group: list[dict], caption: str) -> str:
    return table(
        caption,
        ["职务", "姓名", "类别", "工作单位"],
        [
            [text(m.get("role")), text(m.get("name_zh")), text(m.get("kind")), text(m.get("employer_name"))]
            for m in group
        ],
    )


def year_body(
    year: int,
    sampled: list[dict],
    groups: dict[str, list[dict]],
    conclusions: dict[str, dict],
    revisits: dict[str, list[dict]],
) -> str:
    rows = [
        [
            text(s["school_code"]),
            link(f"../schools/{s['school_code']}/index.html", s.get("name_zh") or ""),
            text(s.get("reason_zh")),
            text(conclusions.get(s["school_code"], {}).get("conclusion") or "尚未复核"),
        ]
        for s in sampled
    ]
    parts = [table(f"{year} 年抽样复核学校", ["学校代码", "学校名称", "入选方式", "复核结论"], rows)]
    for school in sampled:
        code = school["school_code"]
        parts.append(f"<h2>{text(school.get('name_zh'))}（{text(code)}）</h2>")
        parts.append(
            members_table(groups.get(code, []), "复核专家组名单")
            if code in groups
            else "<p>复核专家组名单：尚未公布。</p>"
        )
        parts.append(conclusion_text(conclusions.get(code)))
        parts.append(revisit_table(revisits.get(code, [])))
    return "".join(parts)


def conclusion_text(conclusion: dict | None) -> str:
    if not conclusion:
        return "<p>复核结论：尚未复核。</p>"
    deadline = conclusion.get("improvement_deadline")
    tail = f"；整改期至 {text(deadline)}" if deadline else ""
    return (
        f"<p>复核结论：<strong>{text(conclusion.get('conclusion'))}</strong>"
        f"（复核日期 {text(conclusion.get('review_date'))}{tail}）</p>"
    )


def revisit_table(revisits: list[dict]) -> str:
    return table(
        "回访结果",
        ["回访日期", "回访结果"],
        [[text(r.get("revisit_date")), text(r.get("result_zh"))] for r in revisits],
    )


def removed_body(removed: list[dict] | None) -> str:
    intro = "<p>依据方案 五(二)：“违反纪律或社会反响差的专家，从专家库中除名并在一定范围内公布”。</p>"
    if removed is None:
        return intro + "<p>专家库正在更正，本名单暂未更新，请稍后查看。</p>"
    return intro + table(
        "被除名专家",
        ["姓名", "除名日期", "除名原因"],
        [[text(e.get("name_zh")), text(e.get("removed_on")), text(e.get("removed_reason"))] for e in removed],
    )


def college_body(college: dict, reviews: list[dict], indicators: list[dict], documents: list[dict]) -> str:
    """One college's public page: its reviews (group, conclusion, revisits), filed documents, indicators."""
    parts = [
        f"<p>学校代码 {text(college['school_code'])}。本页只含公开信息，可整体复制到学校网站"
        "（被复核的学校也应在学校网站公布相关信息：方案 四(三)）。</p>"
    ]
    parts.append("<h2>抽样复核</h2>" if reviews else "<h2>抽样复核</h2><p>尚未被抽样复核。</p>")
    for review in reviews:
        parts.append(f"<h3>{review['year']} 年</h3>")
        parts.append(
            members_table(review["group"], f"{review['year']} 年复核专家组名单")
            if review["group"]
            else "<p>复核专家组名单：尚未公布。</p>"
        )
        parts.append(conclusion_text(review.get("conclusion")))
        parts.append(revisit_table(review.get("revisits", [])))
    parts.append("<h2>自我诊改报告与整改材料</h2>")
    parts.append(
        "<ul>" + "".join(f"<li>{link(d['href'], d['label'])}</li>" for d in documents) + "</ul>"
        if documents
        else "<p>暂无已提交的公开材料。</p>"
    )
    parts.append("<h2>人才培养工作状态数据：基本办学条件指标</h2>")
    years = sorted({row["year"] for row in indicators}, reverse=True)
    for year in years:
        rows = [
            [
                text(r["indicator_name"]),
                number_text(r["value"]),
                text(r.get("unit") or ""),
                number_text(r.get("qualified_value")),
            ]
            for r in indicators
            if r["year"] == year
        ]
        parts.append(
            table(
                f"{year} 年（教发〔2004〕2号 基本办学条件指标）",
                ["指标", "数值", "单位", "合格值"],
                rows,
                numeric={1, 3},
            )
        )
    if not years:
        parts.append("<p>暂无数据。</p>")
    return "".join(parts)
