"""Nightly runs after changes give what a rebuild from scratch gives (issue 19).

A small province (3 colleges × 2 years, so the ingest's worker pool runs; an unreadable file beside one
college's exports) is run with `zhengai run` (the CLI's own entry point, as a data officer and `make
demo` run it) in one data home, then changed and run again, one change a run:

1. the first run, one college's 2024 not yet delivered;
2. a college re-exports table 3.3 with changed figures (`pipelines.demo.reexport`);
3. the held-back college-year is delivered;
4. nothing changed.

Then the final inbox is copied to a fresh home and run once. Every table of the two published
warehouses and every file of the two sites must be equal (tests/home_fixtures.py: what is left out
of the comparison, and why: the ingest log's per-run history, the suites' cache, the columns holding
run timestamps and run ids, the time stamps in pages and workbooks).

Last, a file removed: the unreadable file leaves the inbox and a fifth run must stop reporting it, as
a rebuild without it would (the completeness check reads only the last ingest's quarantine rows; the
log keeps every run's rows). A removed file that had loaded keeps its data by design
(the archive is the record; a delivery is not withdrawn by deleting it), so it has no rebuild to equal.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from home_fixtures import home_differences, table_digests
from pipelines.cli import main
from pipelines.demo.province import generate_province
from pipelines.demo.reexport import reexport_one_table, reexported_file

AS_OF = "2024-12-01"
YEARS = [2023, 2024]
UNREADABLE = "数据说明.xlsx"


def zhengai_run(home: Path) -> int:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))  # restored after `run` points it at the home
        return main(["run", "--as-of", AS_OF])


def new_home(root: Path, name: str) -> Path:
    home = root / name
    (home / "registry").mkdir(parents=True)
    return home


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    incremental = new_home(root, "incremental")
    inbox = incremental / "inbox"
    manifest = generate_province(
        inbox, schools=3, years=YEARS, seed=7, defects=False, registry=incremental / "registry" / "schools.csv"
    )
    first, *_, last = sorted(manifest["clean_schools"])
    held_back = root / "held" / last / "2024"
    shutil.move(inbox / last / "2024", held_back)
    (inbox / first / "2024" / UNREADABLE).write_bytes(b"not a workbook")
    codes = [zhengai_run(incremental)]
    after_first = table_digests(incremental / "warehouse.duckdb")

    changed = reexport_one_table(inbox)
    codes.append(zhengai_run(incremental))
    shutil.move(held_back, inbox / last / "2024")
    codes.append(zhengai_run(incremental))
    codes.append(zhengai_run(incremental))

    scratch = new_home(root, "scratch")
    shutil.copyfile(incremental / "registry" / "schools.csv", scratch / "registry" / "schools.csv")
    shutil.copytree(inbox, scratch / "inbox")
    codes.append(zhengai_run(scratch))
    return {
        "incremental": incremental,
        "scratch": scratch,
        "codes": codes,
        "after_first": after_first,
        "changed": changed,
        "delivered": (last, 2024),
        "unreadable": inbox / first / "2024" / UNREADABLE,
    }


def test_every_run_succeeds(homes):
    assert homes["codes"] == [0, 0, 0, 0, 0]


def test_the_changes_changed_the_results(homes):
    """The comparison below is not vacuous: the final warehouse differs from the first run's."""
    final = table_digests(homes["incremental"] / "warehouse.duckdb")
    changed = {name for name in final if final[name] != homes["after_first"].get(name)}
    assert "raw.library_holdings" in changed and "mart.indicator_values" in changed
    school, year = homes["delivered"]
    with duckdb.connect(str(homes["incremental"] / "warehouse.duckdb"), read_only=True) as conn:
        delivered = conn.execute(
            "select count(*) from mart.indicator_values where school_code = ? and year = ?", [school, year]
        ).fetchone()[0]
    assert delivered > 0


def test_repeated_measurements_reexport_other_colleges(homes):
    """bench_national's repeated one-college nightlies: the nth re-export is another college's file,
    the first is the one the runs above changed, and the order wraps round."""
    inbox = homes["incremental"] / "inbox"
    files = [reexported_file(inbox, nth=nth) for nth in range(3)]
    assert files[0] == homes["changed"]
    assert len({path.relative_to(inbox).parts[0] for path in files}) == 3
    assert reexported_file(inbox, nth=3) == files[0]


def test_incremental_runs_equal_a_rebuild_from_scratch(homes):
    problems, counted = home_differences(homes["scratch"], homes["incremental"])
    assert counted["tables"][0] > 50 and counted["pages"][0] > 20
    assert problems == []


def test_a_stale_table_or_page_is_a_difference(homes, tmp_path):
    """What a step that wrongly skipped would leave: one old row in a mart table, one old page."""
    stale = tmp_path / "stale"
    (stale / "site").mkdir(parents=True)
    shutil.copyfile(homes["incremental"] / "warehouse.duckdb", stale / "warehouse.duckdb")
    shutil.copytree(homes["incremental"] / "site", stale / "site", dirs_exist_ok=True)
    with duckdb.connect(str(stale / "warehouse.duckdb")) as conn:
        conn.execute(
            "update mart.indicator_values set value = value + 1 "
            "where rowid = (select min(rowid) from mart.indicator_values where value is not null)"
        )
    school = homes["changed"].parent.parent.name
    page = stale / "site" / "schools" / school / "index.html"
    page.write_bytes(page.read_bytes().replace(b"</body>", b"<p>stale</p></body>"))
    problems, _ = home_differences(homes["scratch"], stale)
    assert [line.split(" (")[0] for line in problems] == [
        "table differs: mart.indicator_values",
        f"page differs: schools/{school}/index.html",
    ]


def test_a_removed_file_is_no_longer_reported(homes):
    """Runs last: it changes the incremental home."""
    homes["unreadable"].unlink()
    assert zhengai_run(homes["incremental"]) == 0
    with duckdb.connect(str(homes["incremental"] / "warehouse.duckdb"), read_only=True) as conn:
        reported = conn.execute(
            "select count(*) from quality.issues where contains(coalesce(message_zh, ''), ?)", [UNREADABLE]
        ).fetchone()[0]
    assert reported == 0
