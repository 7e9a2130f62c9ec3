"""The quality layer's suite results cache: cached results are the uncached ones, and a change to a
row, a file, a suite, a rule or the code revalidates exactly what it must."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from quality_fixtures import QualityWarehouse, clean_rows

SCHOOL = "13001"
OTHER = "13002"
YEAR = 2024
AS_OF = dt.date(2024, 12, 1)


def warehouse(*schools: str) -> QualityWarehouse:
    w = QualityWarehouse()
    for code in schools or (SCHOOL,):
        w.add_school(code)
    return w


# --- suite results cache ---------------------------------------------------------------------------


def cache_warehouse() -> tuple[QualityWarehouse, object]:
    """Two colleges with 6.1 delivered; SCHOOL has a duplicate 教工号, OTHER is clean."""
    from pipelines.quality.calendar import quality_params
    from pipelines.quality.inputs import prepare_inputs

    w = warehouse(SCHOOL, OTHER)
    rows = clean_rows(w.table("6.1"), YEAR, 20)
    rows[3]["staff_no"] = rows[4]["staff_no"]
    w.deliver(SCHOOL, YEAR, rows={"6.1": rows})
    w.deliver(OTHER, YEAR, rows={"6.1": clean_rows(w.table("6.1"), YEAR, 20)})
    params = quality_params(AS_OF)
    prepare_inputs(w.conn, params)
    return w, params


def ordered_issues(found: list[dict]) -> list[dict]:
    return sorted(found, key=lambda i: json.dumps(i, sort_keys=True, ensure_ascii=False))


def counting_validations(monkeypatch) -> list[str]:
    """Record the colleges of every college-year whose cached results were out of date (each is
    screened by DuckDB, then validated by GX where the screen could not clear it)."""
    import pipelines.quality.gx_runner as runner

    seen: list[str] = []
    original = runner.screened_college_years

    def counted(conn, table, suite, scope):
        seen.extend(
            school for (school,) in conn.execute(f"select distinct school_code from {scope} order by 1").fetchall()
        )
        return original(conn, table, suite, scope)

    monkeypatch.setattr(runner, "screened_college_years", counted)
    return seen


def logged_again(w: QualityWarehouse, school: str, code: str, sha: str = "another") -> None:
    """The log side of a college's table loaded again by the ingest (a re-export, or the same file read
    again): its file logged with the new sha256 and the run's time, as every load is."""
    w.conn.execute(
        "update raw.ingest_log set file_sha256 = ?, ingested_at = ingested_at + interval 1 day "
        "where school_code = ? and table_code = ?",
        [sha, school, code],
    )


def test_cached_suite_results_are_the_uncached_ones_and_skip_gx(monkeypatch):
    import pipelines.quality.gx_runner as runner

    w, params = cache_warehouse()
    uncached = ordered_issues(runner.suite_issues(w.conn, params, tables=("6.1",), cache=False))
    cold = ordered_issues(runner.suite_issues(w.conn, params, tables=("6.1",)))
    assert cold == uncached
    assert {(i["school_code"], i["check_name"]) for i in cold} == {(SCHOOL, "unique_key")}
    assert w.conn.execute(
        "select school_code, issues = '[]' from quality.suite_results_cache "
        "where table_name = 'full_time_teachers' order by 1"
    ).fetchall() == [(SCHOOL, False), (OTHER, True)]

    def no_gx():
        raise AssertionError("a cached result must not need GX")

    monkeypatch.setattr(runner, "gx_context", no_gx)
    warm = ordered_issues(runner.suite_issues(w.conn, params, tables=("6.1",)))
    assert warm == uncached


def test_gx_is_set_up_in_a_thread_and_its_failure_reaches_the_run(monkeypatch):
    """GX is imported in a thread while the other tables' fingerprints are computed; an error there
    is raised where the frames are validated, not lost with the thread."""
    import threading

    import pipelines.quality.gx_runner as runner

    w, params = cache_warehouse()
    threads = []

    def failing_context():
        threads.append(threading.current_thread().name)
        raise RuntimeError("GX could not start")

    monkeypatch.setattr(runner, "gx_context", failing_context)
    with pytest.raises(RuntimeError, match="GX could not start"):
        runner.suite_issues(w.conn, params, tables=("6.1", "7.2"))
    assert threads == ["gx-context"]


def test_gx_starts_without_loading_scipy_stats_or_altair_which_still_load_when_used():
    """A fresh process (the tests before may have loaded them): GX's context comes up without
    scipy.stats and altair, and both work when something uses them (GX's own module included)."""
    import subprocess
    import sys

    code = (
        "import sys; from pipelines.quality.gx_runner import gx_context; gx_context(); "
        "loaded = 'scipy.stats._stats_py' in sys.modules; charts = 'altair.vegalite' in sys.modules; "
        "import scipy.stats; "
        "from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl; "
        "print(loaded, charts, round(float(scipy.stats.entropy([1, 1])), 3), kl.alt.Chart.__name__, "
        "type(sys.modules['altair']).__name__)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False", "0.693", "Chart", "module"]


def test_a_reloaded_table_revalidates_only_that_table_of_that_college(monkeypatch):
    import pipelines.quality.gx_runner as runner
    from pipelines.quality.inputs import prepare_inputs

    w, params = cache_warehouse()
    both = ("6.1", "7.2")
    runner.suite_issues(w.conn, params, tables=both)
    seen = counting_validations(monkeypatch)
    w.conn.execute("update raw.full_time_teachers set gender = 'X' where school_code = ? and row_no = 5", [OTHER])
    logged_again(w, OTHER, "6.1")
    changed = ordered_issues(runner.suite_issues(w.conn, params, tables=both))
    assert seen == [OTHER]  # 6.1 of OTHER only: not its 7.2, not SCHOOL
    assert changed == ordered_issues(runner.suite_issues(w.conn, params, tables=both, cache=False))
    assert (OTHER, "allowed_values") in {(i["school_code"], i["check_name"]) for i in changed}

    seen.clear()
    logged_again(w, SCHOOL, "7.2")  # the same rows from a new file
    assert ordered_issues(runner.suite_issues(w.conn, params, tables=both)) == changed
    assert seen == [SCHOOL]
    seen.clear()
    logged_again(w, SCHOOL, "7.2")  # loaded again by a later run: the same sha, a new load time
    runner.suite_issues(w.conn, params, tables=both)
    assert seen == [SCHOOL]
    seen.clear()
    w.conn.execute("delete from raw.courses where school_code = ? and row_no = 4", [OTHER])  # one row fewer
    prepare_inputs(w.conn, params)  # as every run does first: the row counts
    runner.suite_issues(w.conn, params, tables=both)
    assert seen == [OTHER]
    seen.clear()
    runner.suite_issues(w.conn, params, tables=both)
    assert seen == []


def test_tables_judged_on_other_college_years_are_screened_on_their_own(monkeypatch):
    """Tables whose changed college-years are the same share one marked scope; a table with others
    (OTHER did not deliver 6.1, its 7.2 has a defect) is screened on its own."""
    import pipelines.quality.gx_runner as runner
    from pipelines.quality.calendar import quality_params
    from pipelines.quality.inputs import prepare_inputs

    w = warehouse(SCHOOL, OTHER)
    w.deliver(SCHOOL, YEAR)
    courses = clean_rows(w.table("7.2"), YEAR)
    courses[1]["course_type"] = "X"
    w.deliver(OTHER, YEAR, skip=("6.1",), rows={"7.2": courses})
    params = quality_params(AS_OF)
    prepare_inputs(w.conn, params)
    tables = ("6.1", "6.2", "7.2")
    seen = counting_validations(monkeypatch)
    cold = ordered_issues(runner.suite_issues(w.conn, params, tables=tables))
    assert seen == [SCHOOL, SCHOOL, OTHER, SCHOOL, OTHER]
    assert {(i["school_code"], i["table_code"]) for i in cold} == {(OTHER, "7.2")}
    assert cold == ordered_issues(runner.suite_issues(w.conn, params, tables=tables, cache=False))


def test_a_changed_suite_or_rule_revalidates_everything(monkeypatch):
    from dataclasses import replace

    import pipelines.quality.gx_runner as runner

    w, params = cache_warehouse()
    runner.suite_issues(w.conn, params, tables=("6.1",))
    seen = counting_validations(monkeypatch)
    original = runner.load_suite

    def without_key(name):
        suite = original(name)
        return {**suite, "expectations": [e for e in suite["expectations"] if e["meta"].get("check") != "unique_key"]}

    monkeypatch.setattr(runner, "load_suite", without_key)
    assert runner.suite_issues(w.conn, params, tables=("6.1",)) == []
    assert seen == [SCHOOL, OTHER]
    monkeypatch.setattr(runner, "load_suite", original)
    seen.clear()
    assert {i["check_name"] for i in runner.suite_issues(w.conn, params, tables=("6.1",))} == {"unique_key"}
    assert seen == [SCHOOL, OTHER]

    seen.clear()
    bigger = replace(params, rules={**params.rules, "suite_chunk_rows": 7})
    runner.suite_issues(w.conn, bigger, tables=("6.1",))
    assert seen == []  # the chunk size never changes results
    seen.clear()
    fewer = replace(params, rules={**params.rules, "sample_rows": 1})
    runner.suite_issues(w.conn, fewer, tables=("6.1",))
    assert seen == [SCHOOL, OTHER]


def test_the_code_fingerprint_covers_every_module_of_the_package_and_every_suite(tmp_path):
    """Changing the bytes of any module of pipelines/quality (or any suite) changes the fingerprint
    the cached results are kept under, so no code change can leave stale results in the cache."""
    import shutil

    from pipelines.quality import cache
    from pipelines.settings import EXPECTATIONS_DIR

    package = sorted(cache.PACKAGE_DIR.rglob("*.py"))
    assert {path.stem for path in package} >= {
        "__init__",
        "asset_checks",
        "cache",
        "calendar",
        "gx_runner",
        "inputs",
        "issues",
        "messages",
        "rules",
        "sql_checks",
        "suites",
    }
    copies = {}
    for (directory, _pattern), name in zip(cache.FINGERPRINTED, ("code", "suites"), strict=True):
        copies[directory] = tmp_path / name
        shutil.copytree(directory, copies[directory], ignore=shutil.ignore_patterns("__pycache__"))
    sources = tuple((copies[directory], pattern) for directory, pattern in cache.FINGERPRINTED)
    assert cache.sources_digest(sources) == cache.sources_digest()
    originals = [*package, *sorted(EXPECTATIONS_DIR.glob("*.json"))]
    seen = {cache.sources_digest(sources)}
    for original in originals:
        directory = cache.PACKAGE_DIR if original.suffix == ".py" else EXPECTATIONS_DIR
        copy = copies[directory] / original.relative_to(directory)
        copy.write_bytes(original.read_bytes() + b"\n")
        seen.add(cache.sources_digest(sources))
        copy.write_bytes(original.read_bytes())
    assert len(seen) == len(originals) + 1  # each change gave a fingerprint of its own


def test_a_changed_code_fingerprint_revalidates_everything(monkeypatch):
    import pipelines.quality.cache as cache
    import pipelines.quality.gx_runner as runner

    w, params = cache_warehouse()
    runner.suite_issues(w.conn, params, tables=("6.1",))
    seen = counting_validations(monkeypatch)
    runner.suite_issues(w.conn, params, tables=("6.1",))
    assert seen == []
    monkeypatch.setattr(cache, "code_version", lambda: "another version of the package")
    assert {i["check_name"] for i in runner.suite_issues(w.conn, params, tables=("6.1",))} == {"unique_key"}
    assert seen == [SCHOOL, OTHER]
