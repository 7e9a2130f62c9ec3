"""The public disclosure site (issue 18 items 3-4), built from a demo province the way production
builds it: generate, nightly run, sample, demo expert pool, assign, import a review, file a
self-report and a revisit, `zhengai public`. It must show what the plan requires, contain none of
the private data (risk, element warnings, staff names and numbers, tokens, the pool's private
fields) while the same scan finds them where they are, and be served without a token while the
private pages still need one."""

from __future__ import annotations

import csv
import http.client
import json
import re
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main, run_config
from pipelines.definitions import defs
from pipelines.demo.province import generate_province
from pipelines.public_site import build_public_site, disclosed, load_disclosure
from pipelines.schedules import NIGHTLY_JOB
from pipelines.secretariat.inputs import element_codes
from pipelines.settings import REFERENCE_DIR, get_settings
from serve_fixtures import served

AS_OF = "2024-12-15"
YEAR = 2027  # the cycle 2025-2027's last year: a four-college province gets its one place then
TEXT_SUFFIXES = {".html", ".json", ".csv", ".txt"}


def scan(folder: Path, markers: set[str]) -> set[str]:
    """The markers found in any file under `folder`: text files as text, workbooks by their XML parts."""
    found = set()
    for path in folder.rglob("*"):
        if found == markers:
            break  # a marker found once is found: the rest cannot add to the answer
        if not path.is_file():
            continue
        if path.suffix.lower() == ".xlsx":
            with zipfile.ZipFile(path) as book:
                parts = [name for name in book.namelist() if name.endswith(".xml")]
                content = "".join(book.read(name).decode("utf-8", "replace") for name in parts)
        elif path.suffix.lower() in TEXT_SUFFIXES:
            content = path.read_text(encoding="utf-8", errors="replace")
        else:
            continue
        found |= {marker for marker in markers - found if marker in content}
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("public")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        settings = get_settings()
        generate_province(settings.inbox, schools=4, years=[2024], seed=21, defects=False)
        with dg.DagsterInstance.ephemeral() as instance:
            result = (
                defs()
                .resolve_job_def(NIGHTLY_JOB)
                .execute_in_process(instance=instance, run_config=run_config(AS_OF, "WARNING"))
            )
        assert result.success
        nightly_public = (settings.site / "public" / "index.html").is_file()
        assert main(["sample", "--cycle-start", "2025", "--year", str(YEAR), "--seed", "2", "--as-of", AS_OF]) == 0
        plan = json.loads((settings.exports / "sampling" / str(YEAR) / "plan.json").read_text(encoding="utf-8"))
        code = plan["plan"]["selected"][0]["school_code"]
        assert main(["experts", "demo-pool", "--size", "30"]) == 0
        main(["experts", "assign", "--year", str(YEAR), "--seed", "4"])
        results = home / "results.csv"
        with open(results, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["学校代码", "诊断要素代码", "诊断是否相符", "改进措施判断"])
            writer.writerows((code, e, "是" if i < 11 else "否", "强") for i, e in enumerate(element_codes()))
        assert main(["review", "import", str(results), "--year", str(YEAR), "--date", f"{YEAR}-06-01"]) == 0
        filed = home / "public-files" / str(YEAR) / code
        filed.mkdir(parents=True)
        (filed / "self_report.pdf").write_bytes(b"%PDF-1.4 self report")
        (filed / "internal_notes.pdf").write_bytes(b"%PDF-1.4 not declared public")
        (home / "public-files" / "revisits.csv").write_text(
            f"school_code,year,revisit_date,result_zh\n{code},{YEAR},{YEAR + 1}-05-10,整改措施已落实\n",
            encoding="utf-8",
        )
        token = main_token()
        assert main(["public"]) == 0
        yield {
            "home": home,
            "site": settings.site,
            "code": code,
            "plan": plan,
            "token": token,
            "nightly_public": nightly_public,
            "groups": json.loads((settings.exports / "experts" / str(YEAR) / "groups.json").read_text("utf-8")),
        }


@pytest.fixture(autouse=True)
def demo_home(zhengai_home, demo, monkeypatch):
    """Every test reads the demo province's data home (the conftest gives each test an empty one)."""
    monkeypatch.setenv("ZHENGAI_HOME", str(demo["home"]))


def main_token() -> str:
    from pipelines.tokens import issue_token

    return issue_token("secretariat")[1]


def private_markers(demo) -> dict[str, set[str]]:
    """Strings that must never be public, by kind, read from where they really are."""
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as conn:
        staff = conn.execute("select staff_no, name from raw.full_time_teachers").fetchall()
        warnings = conn.execute(
            "select distinct reasons[1] from mart.element_warnings where level in ('red', 'yellow')"
        ).fetchall()
    pool = demo["groups"]["inputs"]["pool"]
    public_names = {e["name_zh"] for e in pool} | {c["name_zh"] for c in demo["groups"]["inputs"]["colleges"]}
    selected = demo["plan"]["plan"]["selected"]
    return {
        "risk": {"风险分"} | {row["rationale_zh"] for row in selected},
        "warnings": {row[0] for row in warnings if row[0]},
        "staff": {no for no, _ in staff if no}
        | {name for _, name in staff if name and len(name) >= 3 and name not in public_names},
        "tokens": {demo["token"], *re.findall(r'"[0-9a-f]{64}"', (demo["home"] / "tokens.json").read_text("utf-8"))},
        "pool_private": {e["expert_id"] for e in pool}
        | {f"{p['code']}:{p['from']}" for e in pool for p in e["past_employers"]},
    }


def test_the_nightly_run_builds_public_inside_its_site_build(demo):
    assert demo["nightly_public"]
    site = demo["site"]
    assert site.is_symlink() and (site / "public" / "index.html").resolve().is_relative_to(site.resolve())
    assert (site / "province" / "index.html").is_file()  # `zhengai public` kept the private pages


def test_public_site_shows_what_the_plan_requires(demo):
    public, code = demo["site"] / "public", demo["code"]
    group = next(g for g in demo["groups"]["groups"] if g["school_code"] == code)
    year_page = (public / "years" / f"{YEAR}.html").read_text("utf-8")
    college_page = (public / "schools" / code / "index.html").read_text("utf-8")
    assert all(m["name_zh"] in year_page and m["name_zh"] in college_page for m in group["experts"])
    assert "待改进" in year_page and "整改措施已落实" in college_page
    assert "基本办学条件指标" in college_page and "生师比" in college_page
    assert (public / "schools" / code / "files" / str(YEAR) / "self_report.pdf").is_file()
    assert not list(public.rglob("internal_notes.pdf"))  # a file kind disclosure.csv does not declare
    removed = (public / "experts" / "removed.html").read_text("utf-8")
    assert "违反复核工作纪律" in removed
    assert "诊改专委会" in (public / "plan.html").read_text("utf-8")
    assert "max_groups_per_expert" in (public / "rules.html").read_text("utf-8")


def test_public_site_contains_no_private_data_and_the_scan_finds_it_where_it_is(demo):
    markers = private_markers(demo)
    home, site = demo["home"], demo["site"]
    assert all(markers.values()), {k: len(v) for k, v in markers.items()}
    for kind, strings in markers.items():
        assert scan(site / "public", strings) == set(), kind
    # Positive controls: the same scan finds each kind in the private places that hold it.
    assert scan(site / "province", markers["risk"])
    assert scan(site / "schools", markers["warnings"])
    assert scan(home / "archive", markers["staff"])
    assert scan(home, {m for m in markers["tokens"] if m.startswith('"')})
    assert scan(home / "exports" / "experts", markers["pool_private"])


def test_a_field_declared_private_never_reaches_public(demo, monkeypatch, tmp_path):
    declared = (REFERENCE_DIR / "disclosure.csv").read_text("utf-8")
    rows = declared.replace("groups,employer_name,yes", "groups,employer_name,no")
    edited = tmp_path / "disclosure.csv"
    edited.write_text(rows, encoding="utf-8")
    monkeypatch.setattr("pipelines.public_site.DISCLOSURE_FILE", edited)
    members = [m for g in demo["groups"]["groups"] for m in g["experts"]]
    assert all("employer_name" not in m for m in disclosed(members, "groups", load_disclosure()))
    target = tmp_path / "build"
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as conn:
        build_public_site(target, conn)
    companies = {m["employer_name"] for m in members if m["employer_name"].endswith("公司")}
    assert companies and scan(target / "public", companies) == set()
    assert scan(demo["site"] / "public", companies) == companies


def test_a_pool_with_mistakes_costs_only_the_removed_list(demo, monkeypatch, tmp_path):
    bad = tmp_path / "experts.csv"
    bad.write_text("expert_id,name_zh,kind\nE1,,工程师\n", encoding="utf-8")
    monkeypatch.setattr("pipelines.secretariat.experts.pool_path", lambda: bad)
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as conn:
        counts = build_public_site(tmp_path / "build", conn)
    public = tmp_path / "build" / "public"
    assert "暂未更新" in (public / "experts" / "removed.html").read_text("utf-8")
    assert counts["colleges"] == len(list((demo["site"] / "public" / "schools").iterdir()))
    assert (public / "schools" / demo["code"] / "index.html").is_file()
    assert "暂未更新" not in (demo["site"] / "public" / "experts" / "removed.html").read_text("utf-8")


def test_a_group_that_could_not_be_formed_is_not_published(demo, monkeypatch, tmp_path):
    groups = [{**g, "formed": False} for g in demo["groups"]["groups"]]
    monkeypatch.setattr("pipelines.secretariat.experts.recorded_groups", lambda year: groups)
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as conn:
        build_public_site(tmp_path / "build", conn)
    page = (tmp_path / "build" / "public" / "years" / f"{YEAR}.html").read_text("utf-8")
    names = {m["name_zh"] for g in groups for m in g["experts"]}
    assert "复核专家组名单：尚未公布" in page and not any(f"<td>{name}</td>" in page for name in names)
    assert all(
        f"<td>{name}</td>" in (demo["site"] / "public" / "years" / f"{YEAR}.html").read_text("utf-8") for name in names
    )


def test_pages_are_accessible_without_script_and_self_contained(demo):
    for page in (demo["site"] / "public").rglob("*.html"):
        html = page.read_text("utf-8")
        assert '<html lang="zh-CN">' in html and 'name="viewport"' in html and "<script" not in html
        assert '<main id="main">' in html and "<h1>" in html
        assert html.count("<table>") == html.count("<caption>")
        assert not re.search(r'(href|src)="(/|https?:)', html), page  # relative links only: the folder copies
        assert "@media print" in html


def get(port: int, path: str, token: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    status = conn.getresponse().status
    conn.close()
    return status


def test_server_serves_public_without_a_token_and_still_guards_private_pages(demo):
    code = demo["code"]
    (demo["site"] / "public" / "leak.html").symlink_to(demo["home"] / "tokens.json")
    try:
        with served(demo["home"]) as (_, port):
            assert get(port, "/public/") == 200
            assert get(port, f"/public/schools/{code}/index.html") == 200
            assert get(port, f"/public/schools/{code}/files/{YEAR}/self_report.pdf") == 200
            assert get(port, "/public/leak.html") == 404  # a link out of the site stays shut
            assert get(port, "/public/../province/index.html") == 401
            assert get(port, "/province/index.html") == 401
            assert get(port, f"/schools/{code}/index.html") == 401
            assert get(port, "/province/index.html", demo["token"]) == 200
    finally:
        (demo["site"] / "public" / "leak.html").unlink()


def public_files(public: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of a public site by its path: (inode, bytes); a rewrite (by rename) changes the inode."""
    return {str(p.relative_to(public)): (p.stat().st_ino, p.read_bytes()) for p in public.rglob("*") if p.is_file()}


def test_a_second_build_rewrites_only_what_changed_and_drops_what_left(demo, tmp_path):
    build = tmp_path / "build"
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as conn:
        build_public_site(build, conn)
        before = public_files(build / "public")
        (build / "public" / "schools" / "99999").mkdir()
        (build / "public" / "schools" / "99999" / "index.html").write_text("a college that left", encoding="utf-8")
        build_public_site(build, conn)
        assert public_files(build / "public") == before  # nothing rewritten, the stale page gone
        filed = demo["home"] / "public-files" / str(YEAR) / demo["code"] / "self_report.pdf"
        document = f"schools/{demo['code']}/files/{YEAR}/self_report.pdf"
        assert document in before
        filed.rename(filed.with_suffix(".withdrawn"))
        try:
            build_public_site(build, conn)
            build_public_site(tmp_path / "fresh", conn)
        finally:
            filed.with_suffix(".withdrawn").rename(filed)
    after = public_files(build / "public")
    rewritten = {name for name, (inode, _) in after.items() if before.get(name, (None,))[0] != inode}
    assert document not in after and rewritten == {f"schools/{demo['code']}/index.html"}
    fresh = public_files(tmp_path / "fresh" / "public")
    assert {name: data for name, (_, data) in after.items()} == {name: data for name, (_, data) in fresh.items()}
