"""The public disclosure site, `$ZHENGAI_HOME/site/public/`, served without a token (方案 二(三), 四(三)).

What is public is declared in one place, `reference/disclosure.csv` (dataset, field, public yes/no,
the plan's line that requires it): every record reaches a page only through `disclosed`, which keeps
the fields declared public and drops everything else, so a field added to a record later stays
private until the file says otherwise. Sources: the plan text (`reference/policy/plan_zh.txt`), the
rules files, the recorded sampling plans and expert groups, the recorded reviews, the pool's removed
experts, the files colleges filed under `$ZHENGAI_HOME/public-files/` (`<year>/<school_code>/
self_report.pdf`, `improvement_summary.pdf`, `diagnosis_report.pdf`; `revisits.csv` with
school_code, year, revisit_date, result_zh), and the official basic indicators of
`mart.indicator_values` (those with a 限制招生 value in ref.thresholds; never warnings or risk).

The site is written inside the site build being made (pipelines/sitebuild.py): by the nightly run's
`public.public_site` asset, or by `zhengai public`, which builds and publishes a new build at once.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
from pathlib import Path

from dashboards.common import write_page
from dashboards.public import college_page, home_page, plan_page, removed_page, rules_page, year_page
from pipelines.files import atomic_write_bytes, atomic_write_text_if_changed
from pipelines.settings import REFERENCE_DIR, get_settings

DISCLOSURE_FILE = REFERENCE_DIR / "disclosure.csv"
PLAN_FILE = REFERENCE_DIR / "policy" / "plan_zh.txt"
DOCUMENT_SUFFIXES = (".pdf", ".txt")
DOCUMENT_LABELS = {
    "self_report": "学校自我诊改报告",
    "improvement_summary": "整改工作总结",
    "diagnosis_report": "专家组诊断报告",
}
OFFICIAL_INDICATORS_SQL = """
select v.school_code, v.year, v.indicator_code, i.name_zh as indicator_name, i.unit, v.value, t.qualified_value
from mart.indicator_values as v
join mart.school_base as b using (school_code, year)
join ref.thresholds as t on t.indicator_code = v.indicator_code and t.school_type = b.school_type
join ref.indicators as i on i.indicator_code = v.indicator_code
where t.restricted_value is not null and v.value is not null
order by v.school_code, v.year, v.indicator_code
"""


def public_files_dir() -> Path:
    return get_settings().home / "public-files"


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def load_disclosure(path: Path | None = None) -> dict[str, set[str]]:
    """Dataset → the fields declared public; a field not declared `yes` is private."""
    public: dict[str, set[str]] = {}
    for row in read_csv(path or DISCLOSURE_FILE):
        fields = public.setdefault(row["dataset"].strip(), set())
        if row["public"].strip().lower() in ("yes", "是"):
            fields.add(row["field"].strip())
    return public


def disclosed(records: list[dict], dataset: str, disclosure: dict[str, set[str]]) -> list[dict]:
    """`records` with only the fields `reference/disclosure.csv` declares public for `dataset`."""
    fields = disclosure.get(dataset, set())
    return [{key: value for key, value in record.items() if key in fields} for record in records]


# --- gathering -----------------------------------------------------------------------------------


def table_present(conn, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = $s and table_name = $n",
            {"s": schema, "n": name},
        ).fetchone()[0]
    )


def official_indicators(conn) -> list[dict]:
    needed = (("mart", "indicator_values"), ("mart", "school_base"), ("ref", "thresholds"), ("ref", "indicators"))
    if not all(table_present(conn, *name) for name in needed):
        return []
    cursor = conn.execute(OFFICIAL_INDICATORS_SQL)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def colleges(conn) -> list[dict]:
    if not table_present(conn, "ref", "schools"):
        return []
    rows = conn.execute("select school_code, name_zh from ref.schools order by school_code").fetchall()
    return [{"school_code": code, "name_zh": name} for code, name in rows]


def elements(conn) -> list[dict]:
    if not table_present(conn, "ref", "diagnostic_elements"):
        return []
    rows = conn.execute("select element_code, element_name from ref.diagnostic_elements order by element_code")
    return [{"element_code": code, "element_name": name} for code, name in rows.fetchall()]


def conclusions_by_year() -> dict[int, dict[str, dict]]:
    from pipelines.secretariat.review import load_recorded_reviews
    from pipelines.secretariat.rules import load_rules

    result: dict[int, dict[str, dict]] = {}
    for review in load_recorded_reviews(load_rules()):
        result.setdefault(review.year, {})[review.school_code] = {
            "conclusion": review.conclusion,
            "review_date": review.review_date.isoformat(),
            "improvement_deadline": review.improvement_deadline.isoformat() if review.improvement_deadline else None,
            "matched": review.matched,
        }
    return result


def revisits() -> list[dict]:
    path = public_files_dir() / "revisits.csv"
    return read_csv(path) if path.is_file() else []


def removed_experts() -> list[dict] | None:
    """The pool's removed experts; None when the pool has mistakes (`zhengai experts list` names them):
    a pool being edited must not stop the nightly run or the rest of the site."""
    from pipelines.secretariat.experts import PoolError, load_pool, pool_path

    if not pool_path().is_file():
        return []
    try:
        return [e for e in load_pool() if e["status"] == "removed"]
    except PoolError:
        return None


def filed_documents(year: int, code: str, disclosure: dict[str, set[str]]) -> list[Path]:
    """The files a college filed for `year` whose kind disclosure.csv declares public."""
    folder = public_files_dir() / str(year) / code
    allowed = disclosure.get("self_reports", set())
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES and p.stem in allowed
    )


def gather(conn) -> dict:
    """Everything the public site shows, already cut to its public fields."""
    from pipelines.secretariat.experts import recorded_groups
    from pipelines.secretariat.sampling import recorded_plans

    disclosure = load_disclosure()
    years: dict[int, dict] = {}
    reviews = conclusions_by_year()
    visits = revisits()
    removed = removed_experts()
    removed = None if removed is None else disclosed(removed, "removed_experts", disclosure)
    for record in recorded_plans():
        year = int(record["plan"]["year"])
        groups = recorded_groups(year) or []
        years[year] = {
            "sampled": disclosed(record["plan"]["selected"], "sampling", disclosure),
            # A group short of the rules is not a group yet: it is published once the secretariat re-assigns.
            "groups": {g["school_code"]: disclosed(g["experts"], "groups", disclosure) for g in groups if g["formed"]},
            "conclusions": {
                code: disclosed([c], "conclusions", disclosure)[0] for code, c in reviews.get(year, {}).items()
            },
            "revisits": {},
        }
        for visit in visits:
            if str(visit.get("year")) == str(year):
                public = disclosed([visit], "revisits", disclosure)[0]
                years[year]["revisits"].setdefault(visit.get("school_code"), []).append(public)
    return {
        "disclosure": disclosure,
        "years": dict(sorted(years.items())),
        "colleges": colleges(conn),
        "indicators": disclosed(official_indicators(conn), "indicators", disclosure),
        "elements": elements(conn),
        "removed": removed,
    }


# --- writing -------------------------------------------------------------------------------------


def nav(depth: int) -> list[tuple[str, str]]:
    up = "../" * depth
    return [
        (f"{up}index.html", "首页"),
        (f"{up}plan.html", "政策文件"),
        (f"{up}rules.html", "规则"),
        (f"{up}experts/removed.html", "专家除名公布"),
    ]


def college_reviews(code: str, years: dict[int, dict]) -> list[dict]:
    return [
        {
            "year": year,
            "group": data["groups"].get(code, []),
            "conclusion": data["conclusions"].get(code),
            "revisits": data["revisits"].get(code, []),
        }
        for year, data in years.items()
        if any(s.get("school_code") == code for s in data["sampled"])
    ]


def college_documents(college: dict, data: dict) -> list[tuple[Path, str, dict]]:
    """(filed file, its path under the college's folder, its link) for each public document of the college."""
    code = college["school_code"]
    documents = []
    for review in college["reviews"]:
        for path in filed_documents(review["year"], code, data["disclosure"]):
            label = f"{review['year']} 年{DOCUMENT_LABELS.get(path.stem, path.stem)}"
            href = f"files/{review['year']}/{path.name}"
            documents.append((path, href, {"href": href, "label": label}))
    return documents


def write_college(out: Path, college: dict, data: dict, indicators: list[dict], ledger, version: str) -> list[Path]:
    """schools/<code>/: index.html and files/ with the college's filed public documents, unless the ledger
    holds them built from the same inputs (documents by their bytes); returns the files of the college."""
    from pipelines.sitebuild import fingerprint

    code = college["school_code"]
    folder = out / "schools" / code
    documents = college_documents(college, data)
    files = [folder / "index.html", *(folder / href for _, href, _ in documents)]
    filed = [(href, hashlib.sha256(path.read_bytes()).hexdigest()) for path, href, _ in documents]
    print_ = fingerprint(version, college, indicators, filed)
    if ledger.unchanged(code, print_):
        return files
    for path, href, _ in documents:
        atomic_write_bytes(folder / href, path.read_bytes(), durable=False)
    links = [link for _, _, link in documents]
    write_page(folder / "index.html", college_page(college, college["reviews"], indicators, links, nav(2)))
    ledger.record(code, print_, files)
    return files


def remove_other_files(out: Path, kept: set[Path]) -> None:
    """Delete every file under `out` this build neither wrote nor kept (a college that left, a withdrawn
    document), and the folders that leaves empty."""
    for folder, _, names in os.walk(out, topdown=False):
        for name in names:
            if Path(folder) / name not in kept:
                (Path(folder) / name).unlink()
        if Path(folder) != out and not os.listdir(folder):
            os.rmdir(folder)


def shared_pages(data: dict) -> dict[str, str]:
    """The pages every visitor shares (home, plan, rules, removed experts, each year), by their path."""
    rules = rules_page(
        read_csv(REFERENCE_DIR / "sampling_rules.csv"),
        read_csv(REFERENCE_DIR / "expert_rules.csv"),
        data["elements"],
        nav(0),
    )
    pages = {
        "index.html": home_page(list(data["years"]), data["colleges"], len(data["removed"] or []), nav(0)),
        "plan.html": plan_page(PLAN_FILE.read_text(encoding="utf-8"), nav(0)),
        "rules.html": rules,
        "experts/removed.html": removed_page(data["removed"], nav(1)),
    }
    for year, year_data in data["years"].items():
        pages[f"years/{year}.html"] = year_page(
            year, year_data["sampled"], year_data["groups"], year_data["conclusions"], year_data["revisits"], nav(1)
        )
    return pages


def build_public_site(site: Path, conn) -> dict[str, int]:
    """Write `site/public/`: a shared page when its text changed, a college's page and documents when their
    inputs changed (pipelines/sitebuild.py PageLedger); a page of a college that left, or a withdrawn
    document, does not stay online."""
    from pipelines.sitebuild import PageLedger, code_version

    data = gather(conn)
    out = site / "public"
    indicators: dict[str, list[dict]] = {}
    for row in data["indicators"]:
        indicators.setdefault(row["school_code"], []).append(row)
    for college in data["colleges"]:
        college["review_years"] = [
            y
            for y, d in data["years"].items()
            if any(s.get("school_code") == college["school_code"] for s in d["sampled"])
        ]
        college["reviews"] = college_reviews(college["school_code"], data["years"])
    pages = shared_pages(data)
    for name, html in pages.items():
        atomic_write_text_if_changed(out / name, html, durable=False)
    kept = {out / name for name in pages}
    ledger = PageLedger(site, "public_site")
    version = code_version(
        "pipelines/public_site.py", "dashboards/public.py", "dashboards/common.py", "dashboards/templates"
    )
    for college in data["colleges"]:
        kept.update(write_college(out, college, data, indicators.get(college["school_code"], []), ledger, version))
    remove_other_files(out, kept)
    ledger.save()
    return {"colleges": len(data["colleges"]), "years": len(data["years"]), "removed": len(data["removed"] or [])}


def cmd_public(args: argparse.Namespace) -> int:
    """Build the public site into a new site build from the published warehouse, then publish it."""
    from pipelines.runlock import run_lock
    from pipelines.secretariat.inputs import published_warehouse, today
    from pipelines.sitebuild import publish_site, site_build

    run_id = f"public{today():%Y%m%d}{os.getpid()}"
    with run_lock("zhengai public"), published_warehouse() as conn:
        counts = build_public_site(site_build(run_id), conn)
        published = publish_site(run_id)
    print(
        f"公示网站已发布：{get_settings().site / 'public'}（{counts['colleges']} 所院校，"
        f"{counts['years']} 个复核年度，除名专家 {counts['removed']} 人；构建 {published}）"
    )
    return 0


def register(subparsers) -> None:
    public = subparsers.add_parser("public", help="生成并发布公示网站 site/public/ / build and publish the public site")
    public.set_defaults(func=cmd_public)
