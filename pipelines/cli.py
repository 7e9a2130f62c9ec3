"""The `zhengai` command line.

Each command family lives in its own module with a `register(subparsers)` function; this
module wires them and holds the pipeline commands (`run`, `ui`, `where`).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import gc
import importlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from pipelines.files import atomic_write_text
from pipelines.listing import InboxListing, list_inbox, shared_listing
from pipelines.runinputs import (
    InboxDigests,
    digest_inbox,
    fingerprint_with,
    forget_inputs,
    nothing_changed,
    record_inputs,
    skip_message,
)
from pipelines.runlock import RunInProgress, fail_orphaned_runs, run_lock
from pipelines.settings import PROJECT_ROOT, configured_as_of, get_settings, parse_as_of, write_home_setting

EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock; try again later
# the code location as the UI, webserver and daemon load it: named zhengai (`-m` would name it after the module)
WORKSPACE = PROJECT_ROOT / "workspace.yaml"

COMMAND_MODULES = (
    "pipelines.demo.cli",
    "pipelines.secretariat.commands",
    "pipelines.serve",
    "pipelines.demo.recovery",
    "pipelines.ingest.cli",
    "pipelines.secretariat.expert_commands",
    "pipelines.public_site",
    "pipelines.exports",
    "pipelines.secretariat.selfreport",
    "pipelines.documents.commands",
)

BUILT_IN_COMMANDS = ("run", "ui", "serve-ops", "where")  # defined in this module (`build_parser`)

SHIPPED_DAGSTER_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"
# what opening the instance of deploy/dagster.yaml imports (`open_instance_meanwhile`)
INSTANCE_MODULES = (
    "dagster._core.instance.factory",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.legacy_storage",
    "dagster._core.storage.migration.utils",
    "dagster._core.storage.root",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "pipelines.dagster_storage",
    "alembic.command",
    "alembic.script",
    "upath",
)


def prepare_dagster_home() -> str:
    """A persistent Dagster instance under the data home: the shipped deploy/dagster.yaml (telemetry
    off, one run at a time), copied while the home's copy is still ours (its first line unchanged)."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    shipped = SHIPPED_DAGSTER_YAML.read_text(encoding="utf-8")
    current = config.read_text(encoding="utf-8") if config.exists() else None
    ours = current is None or current.startswith(shipped.splitlines()[0]) or current == "telemetry:\n  enabled: false\n"
    if ours and current != shipped:
        atomic_write_text(config, shipped)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def run_config(as_of: str | None, log_level: str = "INFO") -> dict:
    """The nightly job's run config for an as-of date written as on the command line (tests, scripts)."""
    from pipelines.schedules import nightly_run_config

    return nightly_run_config(parse_as_of(as_of) if as_of else None, log_level)


def cmd_run(args: argparse.Namespace) -> int:
    # Until the steps start, the run imports and lists: nothing it allocates is cyclic garbage, yet the
    # cyclic collector's full passes over the growing heap cost 0.8 s CPU (`collected_during_steps`)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return start_run(args)
    finally:
        if enabled:
            gc.enable()


@contextmanager
def collected_during_steps() -> Iterator[None]:
    """The cyclic collector during the steps, over what they allocate only: Dagster, the definitions,
    DuckDB, pyarrow and polars are loaded by then and live until the process ends, and each full
    collection walked them again (2 s CPU of a national nightly's 29 s). Frozen, not freed."""
    gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()


def start_run(args: argparse.Namespace) -> int:
    from pipelines.runprogress import preflight, require_school

    as_of = parse_as_of(args.as_of) if args.as_of else configured_as_of()
    if args.rehash:  # read by IngestLimits.from_env in the step's process
        os.environ["ZHENGAI_INGEST_REHASH"] = "1"
    registry = preflight()  # home, registry, lock: one line each, before Dagster starts
    if args.school:
        require_school(registry, args.school)
    prepare_dagster_home()
    if args.keep_as_of and as_of:
        path = write_home_setting("ZHENGAI_AS_OF", as_of.isoformat())
        print(
            f"zhengai run: 判定日期 {as_of} 已写入 {path}，定时和监听运行也用它 / pinned for scheduled runs", flush=True
        )
    listing = list_inbox(get_settings().inbox)  # the run's one listing of the inbox (pipelines/listing.py)
    digests = digest_inbox(listing)  # one pass for both fingerprints of it
    inputs = fingerprint_with(digests, as_of, args.school)
    if not (args.force or args.rehash) and nothing_changed(inputs):
        print(f"zhengai run: {skip_message(inputs)}", flush=True)
        return 0
    return run_nightly(args, as_of, registry, inputs, listing, digests)


def run_nightly(
    args: argparse.Namespace,
    as_of: dt.date | None,
    registry,
    inputs: str | None,
    listing: InboxListing,
    digests: InboxDigests,
) -> int:
    """The run itself, under the run lock, its ingest reading `listing`; the inputs it read and the
    inbox fingerprint of `listing` (`digests.files`, as the inbox sensor computes it) are recorded
    once it succeeded."""
    from pipelines.ingest.ahead import read_ahead

    settings = get_settings()
    started = time.perf_counter()
    cold = not settings.work_warehouse.is_file()
    # on a cold run the ingest's workers start reading now, during Dagster's start-up (pipelines/ingest/ahead.py)
    with run_lock("zhengai run"), read_ahead(settings, listing):
        result = execute_with_progress(args, as_of, registry, listing, cold)
    from pipelines.runprogress import college_lines, summary_lines
    from pipelines.schedules import record_ingested_inbox

    failed = [event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    if result.success:
        record_ingested_inbox(digests.files)
        record_inputs(inputs)
    print()
    for line in summary_lines(result.success, failed, time.perf_counter() - started):
        print(line)
    if args.school and result.success:
        for line in college_lines(settings.warehouse, args.school):
            print(line)
    return 0 if result.success else 1


def execute_with_progress(args: argparse.Namespace, as_of: dt.date | None, registry, listing: InboxListing, cold: bool):
    """The Dagster run, one line printed as each step ends; `cold`: no working warehouse yet."""
    from pipelines.ingest.pool import WHEN_WORKERS_DONE
    from pipelines.runprogress import StepProgress

    if cold:  # a cold run validates every college-year: GX is needed
        from pipelines.quality.gx_runner import preload_gx

        # not now: GX's import would compete with Dagster's start-up and the ingest's workers for the cores
        WHEN_WORKERS_DONE.append(preload_gx)
        WHEN_WORKERS_DONE.append(gc.freeze)  # GX's modules live until the end too (`collected_during_steps`)
    try:
        with open_instance_meanwhile(import_definitions) as instance:
            forget_inputs()
            for run_id in fail_orphaned_runs(instance):
                print(
                    f"zhengai run: 运行 {run_id} 的进程已不存在，已标记为失败 / marked the orphaned run failed",
                    flush=True,
                )
            print(
                f"zhengai run: 数据目录 {get_settings().home}，判定日期 {as_of or '今天 / today'}，"
                f"院校名册 {len(registry.rows)} 所（{registry.encoding}）",
                flush=True,
            )
            run_id = str(uuid.uuid4())
            with (
                collected_during_steps(),
                shared_listing(listing),
                StepProgress(instance, run_id, print_line=lambda line: print(line, flush=True)),
            ):
                return execute_nightly(instance, as_of, args.log_level, run_id, args.school)
    finally:
        WHEN_WORKERS_DONE.clear()  # a run that read in process never started it


def open_instance_meanwhile(work: Callable[[], object]):
    """The Dagster instance, opened in a thread while `work` runs here. On a fresh home, creating
    its SQLite databases is mostly waiting on the disk (one synced write per table: about 2 s, of
    0.5 s CPU), which then overlaps `work`. The storage's modules are imported here first, so the
    two threads never import the same modules at once."""
    import dagster as dg

    for module in INSTANCE_MODULES:
        importlib.import_module(module)
    with ThreadPoolExecutor(1, thread_name_prefix="dagster-instance") as pool:
        opening = pool.submit(dg.DagsterInstance.get)
        work()
        return opening.result()


def import_definitions() -> None:
    importlib.import_module("pipelines.definitions")


def execute_nightly(instance, as_of: dt.date | None, log_level: str, run_id: str, school: str | None = None):
    from pipelines.definitions import defs
    from pipelines.schedules import AS_OF_TAG, NIGHTLY_JOB, SCHOOL_TAG, nightly_run_config

    job = defs().resolve_job_def(NIGHTLY_JOB)
    tags = {AS_OF_TAG: as_of.isoformat()} if as_of else {}
    if school:
        tags[SCHOOL_TAG] = school
    return job.execute_in_process(
        instance=instance,
        run_config=nightly_run_config(as_of, log_level),
        raise_on_error=False,
        run_id=run_id,
        tags=tags,
    )


def dagster_argv(tool: str, *extra: str) -> list[str]:
    """The command line of a Dagster tool of this environment, on our code location."""
    executable = os.path.join(os.path.dirname(sys.executable), tool)
    return [executable, *extra]


def exec_dagster(argv: list[str]) -> int:
    # A shell that starts us in the background ignores SIGINT; exec keeps ignored signals ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    os.execv(argv[0], argv)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    check_home_as_of()
    prepare_dagster_home()
    return exec_dagster(dagster_argv("dagster", "dev", "-w", str(WORKSPACE), "-h", args.host, "-p", str(args.port)))


def cmd_serve_ops(args: argparse.Namespace) -> int:
    """One service of a deployment (deploy/*.service): the Dagster webserver or the daemon, in the foreground."""
    check_home_as_of()
    prepare_dagster_home()
    if args.service == "daemon":
        return exec_dagster(dagster_argv("dagster-daemon", "run", "-w", str(WORKSPACE)))
    return exec_dagster(dagster_argv("dagster-webserver", "-w", str(WORKSPACE), "-h", args.host, "-p", str(args.port)))


def check_home_as_of() -> None:
    """A bad ZHENGAI_AS_OF is refused here, in one line, rather than on every sensor tick."""
    as_of = configured_as_of()
    print(
        f"zhengai: 定时和监听运行的判定日期 / as-of of scheduled runs: {as_of or '运行当天 / the day of the run'}",
        file=sys.stderr,
        flush=True,
    )


def cmd_where(args: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"数据目录 data home:   {settings.home}")
    print(f"数据仓库 warehouse:   {settings.warehouse}   (duckdb -readonly {settings.warehouse})")
    print(
        f"网页 site:            {settings.site}/province/index.html, {settings.site}/schools/<school_code>/index.html"
    )
    print(f"收件箱 inbox:         {settings.inbox}")
    print(f"隔离区 quarantine:    {settings.quarantine}")
    print(f"院校名册 registry:    {settings.registry}")
    print(f"失败记录 failures:    {settings.failure_log}")
    print("网页服务 serve:       zhengai tokens issue secretariat && zhengai serve")
    return 0


class ChineseHelpFormatter(argparse.HelpFormatter):
    """Shows each option's default beside its help, skipping options without one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.default not in (None, False, "", argparse.SUPPRESS)
            and "%(default)" not in text
            and action.option_strings
        ):
            text += "（默认 default: %(default)s）"
        return text


HELP_ZH = "显示本帮助并退出 / show this help message and exit"


def localise(parser: argparse.ArgumentParser) -> None:
    """`parser` and every subcommand under it: defaults shown, the -h line and group titles in Chinese, and a
    subcommand's own help page headed by the line that lists it (its Chinese help) when it has no description.

    argparse offers no public setter for the built-in help line or the group titles (they are gettext
    strings), hence the private attributes."""
    parser.formatter_class = ChineseHelpFormatter
    parser._optionals.title = "选项 options"
    parser._positionals.title = "参数 arguments"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = HELP_ZH
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            for name, command in action.choices.items():
                command.description = command.description or listed.get(name)
                localise(command)


def guard_synth_home(args: argparse.Namespace) -> None:
    """`synth` writes demo colleges: refuse a folder or registry that holds real data unless --force.

    Demo output is recognised by the generator's manifest.json in the output folder."""
    out = Path(args.out)
    registry = Path(args.registry) if args.registry else get_settings().registry
    if args.force or (out / "manifest.json").is_file():
        return
    real = [str(path) for path in (registry,) if path.is_file()]
    if out.is_dir() and any(out.iterdir()):
        real.append(str(out))
    if real:
        raise ValueError(
            f"{'、'.join(real)} 已有数据（不是演示数据）：synth 会用演示学校覆盖它们。请换一个 ZHENGAI_HOME 或 --out，"
            "确需覆盖时加 --force / refusing to write demo data over a real registry or inbox (use --force)"
        )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; only the built-in ones (`run`, `ui`, `serve-ops`, `where`) when `command`
    names one of them: the other families' modules (the demo generator, the secretariat's commands,
    the web server, ...) took 0.5-0.9 s to import before a `zhengai run` did anything."""
    parser = argparse.ArgumentParser(
        prog="zhengai",
        description="诊改状态数据分析流水线 / 诊改 status-data pipeline",
        formatter_class=ChineseHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, title="命令 commands")

    run = sub.add_parser("run", help="运行一次完整流水线并发布（逐步显示进度）/ run every step once, then publish")
    run.add_argument(
        "--as-of",
        help="判定日期，YYYY-MM-DD 或 YYYY/MM/DD；默认 ZHENGAI_AS_OF，否则今天 / judge staleness as of this date",
    )
    run.add_argument(
        "--keep-as-of",
        action="store_true",
        help="把 --as-of 写入数据目录的 settings.env，定时和监听运行也用它（make demo 用）/ pin it for scheduled runs",
    )
    run.add_argument(
        "--rehash",
        action="store_true",
        help="读取并核对收件箱中的每个文件，不凭大小和时间跳过 / hash every inbox file (ZHENGAI_INGEST_REHASH=1)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="即使输入与上次成功运行相同也运行 / run even when nothing changed since the last successful run",
    )
    run.add_argument(
        "--school",
        metavar="CODE",
        help="为一所院校重新运行：运行只重做变化了的部分，结束时列出该院校各年度的状况 / re-run for one college "
        "(a run redoes only what changed) and print its college-year status",
    )
    run.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Dagster 日志级别 / Dagster log level",
    )
    run.set_defaults(func=cmd_run)

    ui = sub.add_parser(
        "ui", help="启动 Dagster 界面（含定时与监听）/ start the Dagster UI, schedules and sensors included"
    )
    ui.add_argument("--host", default="127.0.0.1", help="监听地址 / host")
    ui.add_argument("--port", type=int, default=3000, help="端口 / port")
    ui.set_defaults(func=cmd_ui)

    ops = sub.add_parser(
        "serve-ops",
        help="作为服务运行 Dagster 网页端或守护进程（见 deploy/）/ run the webserver or daemon as a service",
    )
    ops.add_argument("service", choices=["webserver", "daemon"], help="webserver：界面；daemon：定时、监听、运行队列")
    ops.add_argument("--host", default="127.0.0.1", help="监听地址 / host (webserver)")
    ops.add_argument("--port", type=int, default=3000, help="端口 / port (webserver)")
    ops.set_defaults(func=cmd_serve_ops)

    where = sub.add_parser("where", help="显示数据仓库、网页和收件箱的位置 / print where things are")
    where.set_defaults(func=cmd_where)

    if command not in BUILT_IN_COMMANDS:
        for module in COMMAND_MODULES:
            importlib.import_module(module).register(sub)
        sub.choices["synth"].add_argument(
            "--force", action="store_true", help="允许覆盖已有的真实名册或收件箱 / write over a real registry or inbox"
        )
    localise(parser)
    return parser


def exit_without_teardown(code: int) -> None:
    """End the process now: exit handlers run and output is flushed, but the interpreter's teardown is
    skipped. Freeing every module and object of a whole run (Dagster, GX, pandas, pyarrow, DuckDB)
    took 1 to 3 s after the summary was printed; files are closed by then (one atomic writer) and the
    warehouse connections by their context managers, so there is nothing left for it to do."""
    atexit._run_exitfuncs()  # multiprocessing's, logging's and tempfile's clean-ups, as a normal exit runs them
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(words[0] if words else None).parse_args(argv)
    try:
        if args.command == "synth":
            guard_synth_home(args)
        code = args.func(args) or 0
        if args.command == "run" and argv is None:  # the `zhengai` command itself, not a caller in this process
            exit_without_teardown(code)
        return code
    except RunInProgress as busy:
        print(f"zhengai {args.command}: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except (FileNotFoundError, ValueError) as error:
        print(f"zhengai {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
