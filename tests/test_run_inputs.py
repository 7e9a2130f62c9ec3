"""A run whose inputs did not change is skipped (pipelines/runinputs.py): `zhengai run`, the nightly
schedule and the inbox sensor. Every kind of input a run reads, changed, makes the next run run; a
run that failed, or a home whose results are gone, never lets the next one skip.

The first tests run the real pipeline on the small province of province_fixtures.py, in the home its
`zhengai run` left (a skipped run rewrites nothing; a re-delivered file runs it for real); the others
run `zhengai run` as a data officer does with the pipeline's job replaced by one counted asset, so
that each kind of input costs a second, not a run."""

from __future__ import annotations

import datetime as dt
import gc
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines import cli, runinputs
from pipelines.cli import main
from pipelines.definitions import defs
from pipelines.files import CTIME_TICK_NS
from pipelines.ingest.discover import discover
from pipelines.schedules import INPUTS_TAG, inbox_fingerprint, ingested_inbox
from pipelines.settings import IngestLimits, get_settings, write_home_setting
from province_fixtures import AS_OF, aged

SKIPPED = "无变化，跳过"


def rewritten(path: Path) -> None:
    """The file written again with the same bytes and its old times (`cp -p`): only its ctime moves."""
    data, info = path.read_bytes(), path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    time.sleep(CTIME_TICK_NS / 1e9 * 2)


def output_times(home: Path) -> dict[str, int]:
    site = (home / "site").resolve()
    files = [home / "warehouse.duckdb", home / "work" / "warehouse.duckdb", home / "site", *site.rglob("*")]
    return {str(path): path.lstat().st_mtime_ns for path in files}


# -- the real pipeline --------------------------------------------------------------------------------


@pytest.fixture
def in_province(small_province, monkeypatch):
    monkeypatch.setenv("ZHENGAI_HOME", str(small_province))
    monkeypatch.setenv("DAGSTER_HOME", str(small_province / "dagster"))
    return small_province


def test_a_run_whose_inputs_did_not_change_is_skipped_and_rewrites_nothing(in_province, capsys):
    before = output_times(in_province)
    capsys.readouterr()
    assert main(["run", "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert SKIPPED in out and "运行成功" not in out
    assert output_times(in_province) == before


def test_a_file_delivered_again_runs_the_pipeline_again(in_province, capsys):
    export = sorted((in_province / "inbox").rglob("*.xlsx"))[0]
    rewritten(export)
    before = output_times(in_province)
    capsys.readouterr()
    assert main(["run", "--as-of", AS_OF]) == 0
    assert "运行成功" in capsys.readouterr().out
    assert (
        output_times(in_province)[str(in_province / "warehouse.duckdb")]
        != before[str(in_province / "warehouse.duckdb")]
    )
    assert main(["run", "--as-of", AS_OF]) == 0
    assert SKIPPED in capsys.readouterr().out


# -- every kind of input, the job counted ------------------------------------------------------------------

RUNS: list[int] = []


@dg.asset
def counted() -> None:
    RUNS.append(1)


@dg.asset
def failing() -> None:
    raise RuntimeError("断电 / power cut")


def fake_results(home: Path) -> None:
    """What a run leaves: the two warehouses and the site."""
    for path in (home / "warehouse.duckdb", home / "work" / "warehouse.duckdb"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        duckdb.connect(str(path)).close()
    (home / "site" / "province").mkdir(parents=True, exist_ok=True)
    (home / "site" / "province" / "index.html").write_text("<html></html>", encoding="utf-8")


@pytest.fixture
def home(zhengai_home, tmp_path, monkeypatch):
    """A home whose last run succeeded, its inputs aged; the code is a small project of its own."""
    (zhengai_home / "registry").mkdir()
    (zhengai_home / "registry" / "schools.csv").write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
        "13830,广西示例职业技术学院,理工,公办,active,,2000,\n",
        encoding="utf-8",
    )
    export = zhengai_home / "inbox" / "13830" / "2024" / "表6.1 校内专任教师.csv"
    export.parent.mkdir(parents=True)
    export.write_text("教工号,姓名\n0001,甲\n", encoding="utf-8")
    project = tmp_path / "project"
    for name in ("pipelines/cli.py", "sql/raw/ingest_log.sql", "reference/thresholds.csv"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(f"-- {name}\n", encoding="utf-8")
    monkeypatch.setattr(runinputs, "PROJECT_ROOT", project)
    aliases = tmp_path / "header_aliases.csv"
    aliases.write_text("table_code,header,column_name\n", encoding="utf-8")
    monkeypatch.setenv("ZHENGAI_HEADER_ALIASES", str(aliases))
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([counted]))
    fake_results(zhengai_home)
    aged(tmp_path)
    RUNS.clear()
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 1
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 1  # nothing changed: skipped
    return zhengai_home


def secretariat_file(folder: str):
    def change(home: Path, monkeypatch) -> None:
        path = home / folder / "2024" / "13830.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n", encoding="utf-8")

    return change


CHANGES = {
    "inbox file re-delivered (same size and mtime)": lambda home, mp: rewritten(next((home / "inbox").rglob("*.csv"))),
    "inbox file added": lambda home, mp: (home / "inbox" / "13830" / "2024" / "表6.2 校内兼课人员.csv").write_text(
        "x\n", encoding="utf-8"
    ),
    "inbox file removed": lambda home, mp: next((home / "inbox").rglob("*.csv")).unlink(),
    "registry": lambda home, mp: (home / "registry" / "schools.csv").write_text(
        (home / "registry" / "schools.csv").read_text(encoding="utf-8").replace("理工", "综合"), encoding="utf-8"
    ),
    "reviews": secretariat_file("reviews"),
    "selfreports": secretariat_file("selfreports"),
    "followups": secretariat_file("followups"),
    "public files": secretariat_file("public-files"),
    "experts": secretariat_file("experts"),
    "sampling plan": secretariat_file("exports/sampling"),
    "expert groups": secretariat_file("exports/experts"),
    "settings.env": lambda home, mp: write_home_setting("ZHENGAI_ALERT_WEBHOOK", "http://127.0.0.1:9/hook"),
    "a setting in the environment": lambda home, mp: mp.setenv("ZHENGAI_COLLECTION_DEADLINE", "09-30"),
    "header aliases": lambda home, mp: Path(os.environ["ZHENGAI_HEADER_ALIASES"]).write_text(
        "table_code,header,column_name\n6.1,工号,teacher_id\n", encoding="utf-8"
    ),
    "code": lambda home, mp: (runinputs.PROJECT_ROOT / "pipelines" / "cli.py").write_text("# new\n", encoding="utf-8"),
    "sql": lambda home, mp: (runinputs.PROJECT_ROOT / "sql" / "raw" / "ingest_log.sql").write_text("-- v2\n"),
    "reference table": lambda home, mp: (runinputs.PROJECT_ROOT / "reference" / "thresholds.csv").write_text("a\n"),
}
RESULTS = {
    "published warehouse": lambda home: (home / "warehouse.duckdb").unlink(),
    "work warehouse": lambda home: (home / "work" / "warehouse.duckdb").unlink(),
    "site": lambda home: shutil.rmtree(home / "site"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_changed_input_runs_again(home, monkeypatch, change):
    CHANGES[change](home, monkeypatch)
    fake_results(home)  # as the run would write them again
    assert main(["run", "--as-of", AS_OF]) == 0
    assert len(RUNS) == 2


@pytest.mark.parametrize("result", sorted(RESULTS))
def test_a_home_whose_results_are_gone_runs_again(home, result):
    RESULTS[result](home)
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 2


def test_another_as_of_date_runs_again(home):
    assert main(["run", "--as-of", "2024-12-02"]) == 0 and len(RUNS) == 2


def test_force_runs_anyway(home, capsys):
    assert main(["run", "--as-of", AS_OF, "--force"]) == 0 and len(RUNS) == 2


def test_a_failed_run_never_makes_the_next_one_skip(home, monkeypatch):
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([failing], raise_on_error=False))
    assert main(["run", "--as-of", AS_OF, "--force"]) == 1
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([counted]))
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 2


def test_a_file_changed_within_the_clock_tick_is_never_trusted(home):
    export = next((home / "inbox").rglob("*.csv"))
    export.write_text("教工号,姓名\n0002,乙\n", encoding="utf-8")  # listed within the tick: racily clean
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 2
    assert runinputs.last_successful_inputs() is None  # not recorded: the next run runs too
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 3


def schedule_tick():
    schedule = defs().resolve_schedule_def("nightly_at_0200")
    with dg.instance_for_test() as instance:
        return schedule.evaluate_tick(dg.build_schedule_context(instance=instance))


def test_the_nightly_schedule_skips_with_the_reason_and_tags_its_inputs(home, monkeypatch):
    write_home_setting("ZHENGAI_AS_OF", AS_OF)
    aged(home)
    assert main(["run"]) == 0 and len(RUNS) == 2  # settings.env changed: runs, then records
    tick = schedule_tick()
    assert not tick.run_requests and SKIPPED in tick.skip_message
    rewritten(next((home / "inbox").rglob("*.csv")))
    (request,) = schedule_tick().run_requests
    assert (
        request.tags[INPUTS_TAG]
        == runinputs.run_fingerprint(dt.date(2024, 12, 1))
        != runinputs.last_successful_inputs()
    )
    assert get_settings().run_inputs.is_file()


# -- one listing of the inbox per run ----------------------------------------------------------------


def test_the_ingest_reads_the_inbox_as_the_run_listed_it_and_the_next_run_reads_the_rest(home, monkeypatch):
    """`zhengai run` lists the inbox once (pipelines/listing.py): its fingerprint and its ingest see the
    same files, so a file delivered after the listing is the next run's, never skipped by it."""
    inbox, limits = get_settings().inbox, IngestLimits.from_env()
    late = inbox / "13830" / "2024" / "表6.2 校内兼课人员.csv"
    discovered: list[set[str]] = []

    def execute(*args):
        late.write_text("教工号,姓名\n0003,丙\n", encoding="utf-8")  # delivered while the run starts
        discovered.append({delivery.source_file for delivery in discover(inbox, limits)})
        return dg.materialize([counted])

    monkeypatch.setattr(cli, "execute_nightly", execute)
    assert main(["run", "--as-of", AS_OF, "--force"]) == 0 and len(RUNS) == 2
    assert discovered == [{"13830/2024/表6.1 校内专任教师.csv"}]
    aged(inbox)  # the late file settled: only the listing can tell it apart now
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([counted]))
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 3
    assert {delivery.source_file for delivery in discover(inbox, limits)} == discovered[0] | {
        "13830/2024/表6.2 校内兼课人员.csv"
    }
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 3  # nothing changed since: skipped


def test_the_run_records_the_inbox_fingerprint_of_its_listing_as_the_sensor_computes_it(home, monkeypatch):
    """One pass over the run's listing gives both fingerprints (`digest_inbox`): the inbox fingerprint a
    successful run records is the sensor's own for the files the run listed, never for a later file."""
    inbox = get_settings().inbox
    late = inbox / "13830" / "2024" / "表6.2 校内兼课人员.csv"
    listed: list[str | None] = []

    def execute(*args):
        listed.append(inbox_fingerprint())  # as the sensor computes it for what the run listed
        late.write_text("教工号,姓名\n0003,丙\n", encoding="utf-8")  # delivered while the run runs
        return dg.materialize([counted])

    monkeypatch.setattr(cli, "execute_nightly", execute)
    assert main(["run", "--as-of", AS_OF, "--force"]) == 0
    assert ingested_inbox() == listed[0] != inbox_fingerprint()
    aged(inbox)
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([counted]))
    assert main(["run", "--as-of", AS_OF]) == 0
    assert ingested_inbox() == inbox_fingerprint() != listed[0]


def test_an_inbox_linked_to_a_share_is_fingerprinted_through_the_link(home, tmp_path):
    """The ingest reads through an inbox that is a link to a share: so does the run fingerprint."""
    share = tmp_path / "share"
    shutil.move(home / "inbox", share)
    (home / "inbox").symlink_to(share, target_is_directory=True)
    aged(share)
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 2
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 2
    rewritten(next(share.rglob("*.csv")))
    assert main(["run", "--as-of", AS_OF]) == 0 and len(RUNS) == 3


def test_the_steps_run_with_the_collector_on_over_what_they_allocate_and_the_process_gets_it_back(home, monkeypatch):
    """The start-up heap (Dagster, the definitions, DuckDB...) is frozen while the steps run, then released."""
    during: list[tuple[bool, int]] = []

    def execute(*args):
        during.append((gc.isenabled(), gc.get_freeze_count()))
        return dg.materialize([counted])

    monkeypatch.setattr(cli, "execute_nightly", execute)
    assert main(["run", "--as-of", AS_OF, "--force"]) == 0
    ((enabled, frozen),) = during
    assert enabled and frozen > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
