"""The `zhengai` command line.

Each command family lives in its own module with a `register(subparsers)` function; this
module wires them and holds the pipeline commands (`run`, `ui`, `where`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import signal
import sys

from pipelines.registry import load_registry
from pipelines.runlock import RunInProgress, fail_orphaned_runs, run_lock
from pipelines.settings import get_settings

EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock; try again later

COMMAND_MODULES = (
    "pipelines.demo.cli",
    "pipelines.review",
    "pipelines.sampling",
    "pipelines.serve",
    "pipelines.demo.recovery",
    "pipelines.catalog_cli",
    "pipelines.secretariat.experts",
    "pipelines.public_site",
)


def prepare_dagster_home() -> str:
    """A persistent Dagster instance under the data home, telemetry off (machines are offline)."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def run_config(as_of: str | None, log_level: str = "INFO") -> dict:
    return {
        "resources": {"run_options": {"config": {"as_of": as_of or ""}}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


def cmd_run(args: argparse.Namespace) -> int:
    import dagster as dg

    if args.as_of:
        dt.date.fromisoformat(args.as_of)
    registry = load_registry()  # a bad registry is refused before anything runs
    prepare_dagster_home()
    settings = get_settings()
    with run_lock("zhengai run"), dg.DagsterInstance.get() as instance:
        for run_id in fail_orphaned_runs(instance):
            print(f"zhengai run: 运行 {run_id} 的进程已不存在，已标记为失败 / marked the orphaned run failed", flush=True)
        print(
            f"zhengai run: data home {settings.home}, as of {args.as_of or 'today'}, "
            f"registry {len(registry.rows)} colleges ({registry.encoding})",
            flush=True,
        )
        result = execute_nightly(instance, args)
    failed = [event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    checks = [event for event in result.all_events if event.event_type_value == "ASSET_CHECK_EVALUATION"]
    failing_checks = [event for event in checks if not event.event_specific_data.passed]
    print(
        f"\nrun {result.run_id}: {'succeeded' if result.success else 'FAILED'}; "
        f"{len(checks)} checks, {len(failing_checks)} reported problems (see quality.issues)"
    )
    for step in failed:
        print(f"  failed step: {step}")
    if result.success:
        print(f"warehouse published at {settings.warehouse}")
    return 0 if result.success else 1


def execute_nightly(instance, args: argparse.Namespace):
    from pipelines.definitions import defs
    from pipelines.schedules import NIGHTLY_JOB

    job = defs().resolve_job_def(NIGHTLY_JOB)
    return job.execute_in_process(
        instance=instance, run_config=run_config(args.as_of, args.log_level), raise_on_error=False
    )


def cmd_ui(args: argparse.Namespace) -> int:
    prepare_dagster_home()
    # A shell that starts us in the background ignores SIGINT; exec keeps ignored signals ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    argv = [dagster, "dev", "-m", "pipelines.definitions", "-h", args.host, "-p", str(args.port)]
    os.execv(dagster, argv)
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"data home:  {settings.home}")
    print(f"warehouse:  {settings.warehouse}   (duckdb -readonly {settings.warehouse})")
    print(f"site:       {settings.site}/province/index.html, {settings.site}/schools/<school_code>/index.html")
    print(f"inbox:      {settings.inbox}")
    print(f"quarantine: {settings.quarantine}")
    print(f"registry:   {settings.registry}")
    print("serve:      zhengai tokens issue secretariat && zhengai serve")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zhengai", description="诊改 status-data pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialise every asset once, with progress, then publish")
    run.add_argument("--as-of", help="judge staleness as of this date (YYYY-MM-DD, default today)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=cmd_run)

    ui = sub.add_parser("ui", help="start the Dagster UI with a persistent instance under the data home")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    where = sub.add_parser("where", help="print where the warehouse, site and inbox are")
    where.set_defaults(func=cmd_where)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except RunInProgress as busy:
        print(f"zhengai {args.command}: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except (FileNotFoundError, ValueError) as error:
        print(f"zhengai {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
