"""The sampling plan of a year and the review-cycle view, as Chinese HTML pages.

Data in (the plan and cycle dictionaries of `pipelines.secretariat.sampling` and `.cycle`), HTML out; no I/O.
The page bodies are the templates `sampling_plan.html` and `review_cycle.html` under dashboards/templates/,
inside page.html with the site stylesheet.
"""

from __future__ import annotations

from dashboards.common import number_text, page_html, templates

REASON_CLASS = {"re_review": "level-red", "risk": "level-yellow", "random": "level-insufficient"}


def build_plan_html(plan: dict) -> str:
    """One year's plan: who, why (risk with its reasons and the submissions, random draw, re-review), the inputs."""
    selected = [{"submission_reasons": [], **row} for row in plan["selected"]]  # plans recorded before submissions
    body = (
        templates()
        .get_template("sampling_plan.html")
        .render(plan={**plan, "selected": selected}, reason_class=REASON_CLASS, number_text=number_text)
    )
    return page_html(f"{plan['year']} 年复核抽样计划", body)


def _attention_first(row: dict) -> tuple:
    """Due re-reviews first, then colleges reviewed in the cycle, then planned ones, then the rest."""
    if row["re_review_due"]:
        group = 0
    elif row["reviewed_years"]:
        group = 1
    elif row["planned_years"]:
        group = 2
    else:
        group = 3
    return (group, row["school_code"])


def build_cycle_html(status: dict) -> str:
    """The cycle: who has been reviewed, with what conclusion and which steps since, who is due, and coverage."""
    colleges = [{"followups_zh": [], **row} for row in sorted(status["colleges"], key=_attention_first)]
    body = (
        templates()
        .get_template("review_cycle.html")
        .render(status=status, colleges=colleges, versions=status.get("plan_versions") or [])
    )
    return page_html(f"复核周期 {status['cycle_start']}—{status['cycle_end']}", body)
