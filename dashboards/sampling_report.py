"""The sampling plan of a year and the review-cycle view, as Chinese HTML pages.

Data in (the plan and cycle dictionaries of `pipelines.secretariat.sampling`), HTML out; no I/O.
"""

from __future__ import annotations

from dashboards.common import number_text, page_html, text

REASON_CLASS = {"re_review": "level-red", "risk": "level-yellow", "random": "level-insufficient"}


def _reasons_list(reasons: list[str]) -> str:
    if not reasons:
        return ""
    return "<ul>" + "".join(f"<li>{text(reason)}</li>" for reason in reasons) + "</ul>"


def build_plan_html(plan: dict) -> str:
    """One year's plan: who, why (risk with its reasons, random draw, re-review), and the plan's inputs."""
    rows = (
        "".join(
            "<tr>"
            f'<td class="num">{row["rank"]}</td><td class="nowrap">{text(row["school_code"])}</td>'
            f'<td class="nowrap">{text(row["name_zh"])}</td>'
            f'<td class="nowrap"><span class="badge {REASON_CLASS[row["reason"]]}">{text(row["reason_zh"])}</span></td>'
            f"<td>{text(row['rationale_zh'])}{_reasons_list(row['top_reasons'])}</td>"
            f'<td class="num">{number_text(row["risk_score"])}</td>'
            f'<td class="num">{text(row["last_reviewed_year"])}</td>'
            "</tr>"
            for row in plan["selected"]
        )
        or '<tr><td colspan="7">本年没有需要复核的院校</td></tr>'
    )
    excluded = "".join(
        f"<tr><td>{text(e['school_code'])}</td><td>{text(e['name_zh'])}</td><td>{text(e['why_zh'])}</td></tr>"
        for e in plan["excluded"]
    )
    notes = "".join(f"<li>{text(note)}</li>" for note in plan["notes"])
    quotas = "|".join(str(q) for q in plan["year_quotas"])
    body = f"""
<h1>{plan["year"]} 年复核抽样计划</h1>
<p class="muted">复核周期 {plan["cycle_start"]}—{plan["cycle_end"]} · 决定日期 {text(plan["as_of"])}</p>
<table class="summary">
<tr><th>在办院校</th><td>{plan["active_colleges"]} 所</td></tr>
<tr><th>本周期至少复核</th><td>{plan["cycle_target"]} 所（各年名额 {quotas}）</td></tr>
<tr><th>本周期此前已复核或已列入计划</th><td>{plan["covered_before"]} 所</td></tr>
<tr><th>本年新抽</th><td>{plan["places"]} 所：按风险 {plan["risk_places"]} 所，随机抽取 {plan["random_places"]} 所
（候选 {plan["random_pool"]} 所）</td></tr>
</table>
{f'<h2>注意</h2><ul class="notes">{notes}</ul>' if notes else ""}
<h2>入选院校</h2>
<table>
<tr><th>序号</th><th>学校代码</th><th>学校名称</th><th>入选方式</th><th>入选理由</th><th>风险分</th><th>上次复核</th></tr>
{rows}
</table>
<h2>未列入的院校</h2>
{f"<table><tr><th>学校代码</th><th>学校名称</th><th>原因</th></tr>{excluded}</table>" if excluded else "<p>无</p>"}
<h2>计划依据</h2>
<ul>
<li>风险数据：mart.school_risk {plan["risk_year"]} 年快照，SHA-256 <code>{text(plan["risk_snapshot_sha256"])}</code></li>
<li>随机种子：{plan["seed"]}（随机抽取在按学校代码排序的候选名单上进行，同样的输入总是得到同样的计划）</li>
<li>全部输入记录在同目录的 plan.json 中，可据以复算核对。</li>
</ul>
<footer>诊改专委会秘书处 · 依据方案 §4(三)、细则 §3(二)</footer>
"""
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
    """The cycle: who has been reviewed, with what conclusion, who is due, and whether coverage is on track."""
    track = '<span class="ok">按计划推进</span>' if status["on_track"] else '<span class="behind">落后于覆盖要求</span>'
    rows = "".join(
        "<tr>"
        f"<td>{text(row['school_code'])}</td><td>{text(row['name_zh'])}</td><td>{text(row['status_zh'])}</td>"
        f"<td>{text('、'.join(map(str, row['reviewed_years'])) or None)}</td>"
        f"<td>{text(row['latest_conclusion'])}"
        f"{'（' + str(row['latest_year']) + ' 年）' if row['latest_year'] else ''}</td>"
        f"<td>{text(row['improvement_deadline'])}</td>"
        f"<td>{text('、'.join(map(str, row['planned_years'])) or None)}</td>"
        "</tr>"
        for row in sorted(status["colleges"], key=_attention_first)
    )
    quotas = "|".join(str(q) for q in status["year_quotas"])
    body = f"""
<h1>复核周期 {status["cycle_start"]}—{status["cycle_end"]}</h1>
<p class="muted">截至 {text(status["as_of"])}</p>
<table class="summary">
<tr><th>在办院校</th><td>{status["active_colleges"]} 所</td></tr>
<tr><th>本周期至少复核</th><td>{status["cycle_target"]} 所（各年名额 {quotas}）</td></tr>
<tr><th>已复核</th><td>{status["reviewed"]} 所（连同已列入计划的共 {status["covered"]} 所）</td></tr>
<tr><th>到本年应达</th><td>{status["expected_by_now"]} 所：{track}</td></tr>
<tr><th>整改期满须复核</th><td>{status["re_review_due"]} 所</td></tr>
</table>
<h2>各校情况</h2>
<table>
<tr><th>学校代码</th><th>学校名称</th><th>状态</th><th>本周期复核年份</th><th>最近结论</th><th>整改期至</th><th>计划年份</th></tr>
{rows}
</table>
{plan_versions_html(status.get("plan_versions") or [])}
<footer>诊改专委会秘书处 · 复核结论依据细则 §4：有效、待改进、异常；待改进与异常整改一年后申请复核</footer>
"""
    return page_html(f"复核周期 {status['cycle_start']}—{status['cycle_end']}", body)


def plan_versions_html(versions: list[dict]) -> str:
    """The cycle's plans, a row per version; a redrawn version says when and why it was replaced."""
    if not versions:
        return ""
    rows = "".join(
        f"<tr><td>{v['year']}</td><td>第 {v['version']} 版</td><td>{v['seed']}</td>"
        f"<td>{text('、'.join(v['selected']) or None)}</td>"
        f"<td>{'现行' if v['current'] else '已重新抽取（' + text(v['redrawn_at']) + '）'}</td>"
        f"<td>{text(v.get('redraw_reason'))}</td></tr>"
        for v in versions
    )
    return (
        "<h2>抽样计划版本</h2><table><tr><th>年份</th><th>版本</th><th>随机种子</th><th>入选院校</th>"
        f"<th>状态</th><th>重新抽取原因</th></tr>{rows}</table>"
    )
