"""The command line speaks to officials: Chinese one-line errors, preflight, progress, summary, guards."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import duckdb
import pytest

from pipelines.cli import EXIT_BUSY, build_parser, main
from pipelines.runlock import run_lock
from pipelines.runprogress import StepProgress, preflight, summary_lines
from pipelines.settings import configured_as_of, get_settings, parse_as_of, write_home_setting
from pipelines.tokens import load_tokens

REGISTRY = (
    "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
    "13830,广西示例职业技术学院,理工,公办,active,,2000,\n"
)


@pytest.fixture
def registered(zhengai_home):
    (zhengai_home / "registry").mkdir()
    (zhengai_home / "registry" / "schools.csv").write_text(REGISTRY, encoding="utf-8")
    return zhengai_home


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


def test_as_of_accepts_dashes_and_slashes():
    assert parse_as_of("2024-12-01") == parse_as_of("2024/12/01") == dt.date(2024, 12, 1)


@pytest.mark.parametrize("bad", ["2024/13/01", "2024.12.01", "昨天"])
def test_a_bad_as_of_is_one_chinese_line(registered, capsys, bad):
    assert main(["run", "--as-of", bad]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "无法识别" in err and bad in err


def test_the_home_settings_pin_the_as_of_and_the_environment_wins(zhengai_home, monkeypatch):
    assert configured_as_of() is None
    write_home_setting("ZHENGAI_AS_OF", "2024-12-01")
    assert configured_as_of() == dt.date(2024, 12, 1)
    monkeypatch.setenv("ZHENGAI_AS_OF", "2023/12/01")
    assert configured_as_of() == dt.date(2023, 12, 1)


def test_preflight_passes_on_a_usable_home(registered):
    assert [row["school_code"] for row in preflight().rows] == ["13830"]


def test_preflight_refuses_a_missing_home_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZHENGAI_HOME", str(tmp_path / "nowhere"))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "不存在" in err
    assert not (tmp_path / "nowhere").exists()


def test_preflight_refuses_a_home_without_registry_in_one_line(zhengai_home, capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "院校名册" in err and "Traceback" not in err
    assert not (zhengai_home / "dagster").exists()  # refused before Dagster was touched


def test_preflight_refuses_while_another_run_holds_the_lock(registered, capsys):
    with run_lock("another run"):
        assert main(["run"]) == EXIT_BUSY
    err = capsys.readouterr().err
    assert one_line(err) and "正在进行" in err and "another run" in err


def test_the_default_home_does_not_depend_on_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ZHENGAI_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir("/")
    assert get_settings().home == (tmp_path / "data" / "zhengai").resolve()
    monkeypatch.chdir(tmp_path)
    assert get_settings().home == (tmp_path / "data" / "zhengai").resolve()


def test_help_is_chinese_and_shows_defaults():
    parser = build_parser()
    run_help = parser._subparsers._group_actions[0].choices["run"].format_help()
    assert "判定日期" in run_help and "默认 default: WARNING" in run_help
    ui_help = parser._subparsers._group_actions[0].choices["ui"].format_help()
    assert "默认 default: 3000" in ui_help and "默认 default: None" not in ui_help


def synth_args(zhengai_home) -> list[str]:
    return ["synth", "--out", str(zhengai_home / "inbox"), "--schools", "1", "--years", "2024", "--jobs", "1"]


def test_synth_refuses_a_home_with_a_real_registry(registered, capsys):
    before = (registered / "registry" / "schools.csv").read_bytes()
    assert main(synth_args(registered)) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "--force" in err and "演示" in err
    assert (registered / "registry" / "schools.csv").read_bytes() == before


def test_synth_refuses_a_real_inbox(zhengai_home, capsys):
    export = zhengai_home / "inbox" / "13830" / "2024" / "表6.1 校内专任教师.xlsx"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"real")
    assert main(synth_args(zhengai_home)) == 2
    assert export.read_bytes() == b"real"


def test_synth_writes_over_a_real_registry_with_force_and_into_an_empty_or_demo_home(registered):
    assert main([*synth_args(registered), "--force"]) == 0
    assert (registered / "inbox" / "manifest.json").is_file()
    assert main(synth_args(registered)) == 0  # a demo home (the generator's manifest) may be regenerated


def test_tokens_issue_refuses_a_college_outside_the_registry(registered, capsys):
    assert main(["tokens", "issue", "99999"]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "院校名册中没有学校代码 99999" in err
    assert load_tokens() == []
    assert main(["tokens", "issue", "13830"]) == 0
    assert [record.school_code for record in load_tokens()] == ["13830"]


def test_tokens_issue_for_a_college_needs_a_registry(zhengai_home, capsys):
    assert main(["tokens", "issue", "13830"]) == 2
    assert "院校名册" in capsys.readouterr().err and load_tokens() == []
    assert main(["tokens", "issue", "secretariat"]) == 0


@dg.asset(key=["demo", "counted"])
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(1234)})


@dg.asset(key=["demo", "broken"], deps=[counted])
def broken() -> None:
    raise ValueError("表6.1 读不出来")


def test_step_progress_prints_every_step_with_counts_and_failures():
    job = dg.Definitions(assets=[counted, broken], jobs=[dg.define_asset_job("two")]).resolve_job_def("two")
    lines: list[str] = []
    with dg.instance_for_test() as instance:
        run_id = "0" * 8 + "-0000-4000-8000-" + "0" * 12
        with StepProgress(instance, run_id, print_line=lines.append):
            result = job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    assert not result.success
    assert len(lines) == 2
    assert "[ 1/2] demo__counted" in lines[0] and "1 表 tables, 1,234 行 rows" in lines[0]
    assert "[ 2/2] demo__broken" in lines[1] and "失败 / FAILED: ValueError: 表6.1 读不出来" in lines[1]


def test_the_summary_gives_the_quality_page_counts_and_paths(zhengai_home):
    settings = get_settings()
    with duckdb.connect(str(settings.warehouse)) as conn:
        conn.execute("create schema quality")
        conn.execute("create table quality.issues as select * from (values ('error'), ('error'), ('warn')) t(severity)")
    lines = summary_lines(True, [], 12.0)
    assert "运行成功" in lines[0]
    assert "错误 2 个，提醒 1 个" in lines[1] and str(settings.site / "province" / "quality.html") in lines[1]
    failed = summary_lines(False, ["raw_ingest"], 3.0)
    assert "运行失败" in failed[0] and "raw_ingest" in failed[1] and not any("错误" in line for line in failed)


def test_run_pins_the_as_of_for_scheduled_runs_only_when_asked(registered, monkeypatch):
    from pipelines import cli

    # The pipeline itself is tested end to end elsewhere; here only what `run` does around it.
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([counted]))
    assert main(["run", "--as-of", "2024/12/01"]) == 0
    assert configured_as_of() is None
    assert main(["run", "--as-of", "2024-12-01", "--keep-as-of"]) == 0
    assert configured_as_of() == dt.date(2024, 12, 1)
    config = (registered / "dagster" / "dagster.yaml").read_text(encoding="utf-8")
    assert "max_concurrent_runs: 1" in config
    assert os.environ["DAGSTER_HOME"] == str(registered / "dagster")


@pytest.mark.parametrize("asset, code", [(counted, 0), (broken, 1)])
def test_the_run_command_exits_with_the_runs_code_after_the_exit_handlers(registered, monkeypatch, capsys, asset, code):
    import atexit
    import sys

    from pipelines import cli

    # The pipeline itself is tested end to end elsewhere; here only how the `zhengai` command ends.
    monkeypatch.setattr(cli, "execute_nightly", lambda *args: dg.materialize([counted, asset], raise_on_error=False))
    monkeypatch.setattr(sys, "argv", ["zhengai", "run", "--as-of", "2024-12-01"])
    ended = []
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: ended.append("exit handlers"))

    def exit_now(status: int) -> None:
        ended.append(status)
        raise SystemExit(status)

    monkeypatch.setattr(os, "_exit", exit_now)
    with pytest.raises(SystemExit):
        main()
    assert ended == ["exit handlers", code]
    assert ("运行成功" if code == 0 else "运行失败") in capsys.readouterr().out
    assert main(["run", "--as-of", "2024-12-01"]) == code  # called with arguments (tests, scripts): it returns
    assert ended == ["exit handlers", code]
