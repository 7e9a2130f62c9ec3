"""Pages of the public disclosure site (方案 二(三), 四(三)): data in, HTML out, no I/O.

Every page stands alone: its CSS is inline (the site stylesheet, whose `body.public` section styles
these pages), there is no script, links are relative, so a college's folder can be copied to its own
website as it is. Tables have captions and column headers, text is dark on white (contrast above
7:1), wide tables scroll inside their box at phone width, and the print style drops the navigation.
The pages are templates/public_*.html; this module turns records into their rows, a cell being a
value or a link {"href", "label"} (public_macros.html's table()).
"""

from __future__ import annotations

from dashboards.common import number_text, render_page

FOOTER = (
    "本网站依据《广西壮族自治区高等职业院校内部质量保证体系诊断与改进实施方案》公布诊改相关信息，接受社会监督。"
    "公开范围由 reference/disclosure.csv 规定。"
)
BODY_CLASS = "public"


def public_page(template: str, title: str, nav: list[tuple[str, str]], **context: object) -> str:
    """One public page: `template` extends public_page.html (skip link, navigation, main, footer)."""
    return render_page(template, title, body_class=BODY_CLASS, nav=nav, footer=FOOTER, **context)


def link(href: str, label: str) -> dict:
    return {"href": href, "label": label}


def home_page(years: list[int], colleges: list[dict], removed_count: int, nav: list[tuple[str, str]]) -> str:
    rows = [
        [
            c["school_code"],
            link(f"schools/{c['school_code']}/index.html", c["name_zh"]),
            "、".join(map(str, c["review_years"])) or "—",
        ]
        for c in colleges
    ]
    return public_page(
        "public_home.html", "广西高职院校诊改信息公开", nav, years=years, colleges=rows, removed_count=removed_count
    )


def plan_page(plan_text: str, nav: list[tuple[str, str]]) -> str:
    paragraphs = [p.strip() for p in plan_text.split("\n") if p.strip()]
    return public_page("public_plan.html", "实施方案与实施细则", nav, paragraphs=paragraphs)


def rules_page(sampling: list[dict], experts: list[dict], elements: list[dict], nav: list[tuple[str, str]]) -> str:
    return public_page(
        "public_rules.html",
        "抽样复核与专家组规则",
        nav,
        sampling=[[r["parameter"], r["value"], r["description_zh"]] for r in sampling],
        experts=[[r["parameter"], r["value"], r["description_zh"], r["source"]] for r in experts],
        elements=[[e["element_code"], e["element_name"]] for e in elements],
    )


def member_rows(group: list[dict]) -> list[list]:
    return [[m.get("role"), m.get("name_zh"), m.get("kind"), m.get("employer_name")] for m in group]


def revisit_rows(revisits: list[dict]) -> list[list]:
    return [[r.get("revisit_date"), r.get("result_zh")] for r in revisits]


def year_page(
    year: int,
    sampled: list[dict],
    groups: dict[str, list[dict]],
    conclusions: dict[str, dict],
    revisits: dict[str, list[dict]],
    nav: list[tuple[str, str]],
) -> str:
    rows = [
        [
            s["school_code"],
            link(f"../schools/{s['school_code']}/index.html", s.get("name_zh") or ""),
            s.get("reason_zh"),
            conclusions.get(s["school_code"], {}).get("conclusion") or "尚未复核",
        ]
        for s in sampled
    ]
    schools = [
        {
            "school_code": s["school_code"],
            "name_zh": s.get("name_zh"),
            "members": member_rows(groups[s["school_code"]]) if s["school_code"] in groups else None,
            "conclusion": conclusions.get(s["school_code"]),
            "revisits": revisit_rows(revisits.get(s["school_code"], [])),
        }
        for s in sampled
    ]
    return public_page("public_year.html", f"{year} 年抽样复核", nav, year=year, sampled=rows, schools=schools)


def removed_page(removed: list[dict] | None, nav: list[tuple[str, str]]) -> str:
    rows = (
        None if removed is None else [[e.get("name_zh"), e.get("removed_on"), e.get("removed_reason")] for e in removed]
    )
    return public_page("public_removed.html", "专家库除名公布", nav, removed=rows)


def college_page(
    college: dict, reviews: list[dict], indicators: list[dict], documents: list[dict], nav: list[tuple[str, str]]
) -> str:
    """One college's public page: its reviews (group, conclusion, revisits), filed documents, indicators."""
    years = sorted({row["year"] for row in indicators}, reverse=True)
    tables = [
        {
            "year": year,
            "rows": [
                [
                    r["indicator_name"],
                    number_text(r["value"]),
                    r.get("unit") or "",
                    number_text(r.get("qualified_value")),
                ]
                for r in indicators
                if r["year"] == year
            ],
        }
        for year in years
    ]
    return public_page(
        "public_college.html",
        college["name_zh"],
        nav,
        school_code=college["school_code"],
        reviews=[
            {
                "year": review["year"],
                "members": member_rows(review["group"]) if review["group"] else None,
                "conclusion": review.get("conclusion"),
                "revisits": revisit_rows(review.get("revisits", [])),
            }
            for review in reviews
        ],
        documents=documents,
        indicators=tables,
    )
